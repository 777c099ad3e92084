//! End to end over real loopback sockets (127.0.0.1, OS-assigned ports): a
//! flaky server, a client calling it through the breaker. The breaker breaks
//! on the failures and then rejects without touching the network. Breaker
//! time is a `MockClock`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use breaker_async_std::{Config, Error, MockClock, State, breaker_core};

type Breaker<'a> = breaker_core::CircuitBreaker<&'a MockClock>;

const HEALTHY: u8 = 0;
/// Closes the connection without answering.
const FAILING: u8 = 1;
/// Reads the request, then never answers (until the client goes away).
const HANGING: u8 = 2;

/// What the server does, and how many connections it has accepted.
#[derive(Default)]
struct Upstream {
    mode: AtomicU8,
    accepted: AtomicUsize,
}

fn config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(4)
        .broken_time(Duration::from_secs(5))
        .recovery_time(Duration::from_secs(10))
        .passing_time(Duration::ZERO)
}

/// A line protocol: `ping\n` is answered `pong\n` when healthy.
mod async_std_side {
    use super::*;
    use async_std::io::{BufReader, prelude::*};
    use async_std::net::{TcpListener, TcpStream};

    pub(super) async fn serve(upstream: Arc<Upstream>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        async_std::task::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                upstream.accepted.fetch_add(1, Ordering::SeqCst);
                let mode = upstream.mode.load(Ordering::SeqCst);
                async_std::task::spawn(answer(stream, mode));
            }
        });
        addr
    }

    async fn answer(stream: TcpStream, mode: u8) {
        let mut reader = BufReader::new(stream.clone());
        let mut line = String::new();
        if reader.read_line(&mut line).await.is_err() || mode == FAILING {
            return; // dropping the stream closes it: the client reads EOF
        }
        let _ = (&stream).write_all(b"pong\n").await;
    }

    pub(super) async fn ping(addr: SocketAddr) -> io::Result<()> {
        let stream = TcpStream::connect(addr).await?;
        (&stream).write_all(b"ping\n").await?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await?;
        if line == "pong\n" {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::ConnectionAborted, "no pong"))
        }
    }
}

mod smol_side {
    use super::*;
    use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use smol::net::{TcpListener, TcpStream};

    pub(super) async fn serve(upstream: Arc<Upstream>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        smol::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                upstream.accepted.fetch_add(1, Ordering::SeqCst);
                let mode = upstream.mode.load(Ordering::SeqCst);
                smol::spawn(answer(stream, mode)).detach();
            }
        })
        .detach();
        addr
    }

    async fn answer(mut stream: TcpStream, mode: u8) {
        let mut line = String::new();
        if BufReader::new(stream.clone())
            .read_line(&mut line)
            .await
            .is_err()
        {
            return;
        }
        match mode {
            FAILING => {}
            HANGING => {
                // Wait for the client to hang up, answering nothing.
                let mut rest = Vec::new();
                let _ = smol::io::AsyncReadExt::read_to_end(&mut stream, &mut rest).await;
            }
            _ => {
                let _ = stream.write_all(b"pong\n").await;
            }
        }
    }

    pub(super) async fn ping(addr: SocketAddr) -> io::Result<()> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(b"ping\n").await?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await?;
        if line == "pong\n" {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::ConnectionAborted, "no pong"))
        }
    }
}

#[async_std::test]
async fn a_failing_server_breaks_the_breaker_and_calls_fail_fast() {
    let upstream = Arc::new(Upstream::default());
    let addr = async_std_side::serve(upstream.clone()).await;
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);

    for _ in 0..4 {
        let r = breaker_async_std::call(&b, async_std_side::ping(addr)).await;
        assert!(r.is_ok(), "{r:?}");
    }
    upstream.mode.store(FAILING, Ordering::SeqCst);
    // 4 successes: the fourth failure makes 4 of 8, the ratio.
    for i in 1..=4 {
        assert_eq!(b.state(), State::Passing, "before failure {i}");
        let r = breaker_async_std::call(&b, async_std_side::ping(addr)).await;
        assert!(matches!(r, Err(Error::Inner(_))), "{r:?}");
    }
    assert_eq!(b.state(), State::Broken);
    assert_eq!(upstream.accepted.load(Ordering::SeqCst), 8);

    // Broken: rejected at once, no connection made.
    for _ in 0..10 {
        let r = breaker_async_std::call(&b, async_std_side::ping(addr)).await;
        let rejection = r.unwrap_err().broken().copied().expect("rejected");
        assert_eq!(rejection.retry_after(), Duration::from_secs(5));
    }
    assert_eq!(upstream.accepted.load(Ordering::SeqCst), 8);

    // The server heals; once the broken time and the ramp are over, the
    // first call goes through and the breaker is Passing again.
    upstream.mode.store(HEALTHY, Ordering::SeqCst);
    clock.advance(Duration::from_secs(5 + 10));
    assert_eq!(b.state(), State::Recovering);
    let r = breaker_async_std::call(&b, async_std_side::ping(addr)).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(b.state(), State::Passing);
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.call_broken), (5, 4, 10));
    assert_eq!(upstream.accepted.load(Ordering::SeqCst), 9);
}

#[test]
fn a_hanging_server_times_out_and_breaks_the_breaker() {
    smol::block_on(async {
        let upstream = Arc::new(Upstream::default());
        let addr = smol_side::serve(upstream.clone()).await;
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        // Generous for the healthy call, so a loaded machine cannot fail it;
        // short for the hanging ones, which always run into it.
        let generous = Duration::from_secs(10);
        let timeout = Duration::from_millis(20);

        let r = breaker_async_std::call_with_timeout(&b, generous, smol_side::ping(addr)).await;
        assert!(r.is_ok(), "{r:?}");
        upstream.mode.store(HANGING, Ordering::SeqCst);
        for _ in 0..3 {
            let r = breaker_async_std::call_with_timeout(&b, timeout, smol_side::ping(addr)).await;
            assert!(r.unwrap_err().is_timeout());
        }
        // 3 timeouts of 4 calls.
        assert_eq!(b.state(), State::Broken);
        // The server may count the last hanging connection a moment after the
        // client gave up on it: wait for that event (not for time to pass).
        for _ in 0..10_000 {
            if upstream.accepted.load(Ordering::SeqCst) == 4 {
                break;
            }
            smol::Timer::after(Duration::from_millis(1)).await;
        }
        assert_eq!(upstream.accepted.load(Ordering::SeqCst), 4);
        let r = breaker_async_std::call_with_timeout(&b, generous, smol_side::ping(addr)).await;
        assert!(r.unwrap_err().is_broken());
        let m = b.metrics();
        assert_eq!((m.successes, m.failures, m.trips), (1, 3, 1));
    });
}
