//! A flaky TCP service on loopback and a client calling it through a circuit
//! breaker, on async-std. The service's failure rate follows a script
//! (healthy, degrading, down, healed); the client prints the breaker's state
//! timeline and a summary, and exits non-zero unless the breaker went
//! Passing, Broken, Recovering and Passing again. Ends by itself in about
//! 18 seconds.
//!
//! ```text
//! cargo run -p breaker-async-std --example async_std
//! ```

#[path = "support/demo.rs"]
mod demo;

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use async_std::io::{BufReader, prelude::*};
use async_std::net::{TcpListener, TcpStream};
use async_std::task;

use demo::{Answer, BREAKER, CALL_TIMEOUT, PACE, RUN_FOR, SLOW, Script, Timeline};

/// The upstream: reads one request line, answers one status line.
async fn serve(listener: TcpListener, script: Arc<Script>) {
    while let Ok((stream, _)) = listener.accept().await {
        let answer = script.answer();
        task::spawn(async move {
            let mut request = String::new();
            if BufReader::new(&stream)
                .read_line(&mut request)
                .await
                .is_err()
            {
                return;
            }
            let reply: &[u8] = match answer {
                Answer::Ok => b"200 ok\n",
                Answer::Slow => {
                    task::sleep(SLOW).await;
                    b"200 ok\n"
                }
                Answer::Error => b"503 unavailable\n",
            };
            let _ = (&stream).write_all(reply).await;
        });
    }
}

/// One request: `Ok` for a 200, `Err` for anything else.
async fn fetch(addr: SocketAddr) -> io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    (&stream).write_all(b"GET /quote\n").await?;
    let mut status = String::new();
    BufReader::new(&stream).read_line(&mut status).await?;
    if status.starts_with("200") {
        Ok(())
    } else {
        Err(io::Error::other(status.trim().to_owned()))
    }
}

#[async_std::main]
async fn main() -> io::Result<ExitCode> {
    let start = Instant::now();
    let script = Arc::new(Script::new(start));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("async-std: upstream on {addr}, client calls it every {PACE:?} through the breaker");
    task::spawn(serve(listener, script.clone()));

    let mut timeline = Timeline::new(start);
    while start.elapsed() < RUN_FOR {
        let result =
            breaker_async_std::call_with_timeout(&BREAKER, CALL_TIMEOUT, fetch(addr)).await;
        timeline.record(&result, &script);
        task::sleep(PACE).await;
    }
    Ok(timeline.finish(&script))
}
