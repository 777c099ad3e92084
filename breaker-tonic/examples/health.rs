//! A tonic client behind a breaker, calling tonic's health service on
//! loopback. NOT_FOUND (an unknown service name) is an answer, not a
//! failure; when the server goes away, the connection errors trip the
//! breaker and calls fail at once with UNAVAILABLE and a retry-after.
//!
//! ```sh
//! cargo run -p breaker-tonic --example health
//! ```

use std::sync::Arc;
use std::time::Duration;

use breaker_tokio::Config;
use breaker_tonic::{GrpcBreakerLayer, circuit_broken};
use tonic::transport::{Endpoint, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower::ServiceBuilder;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The server: tonic's health service, one service registered.
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("inventory", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .add_service(health)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );

    // The client: a channel behind the breaker.
    let breaker = Arc::new(breaker_tokio::new(
        Config::new(0.5, Duration::from_secs(10))
            .min_calls(4)
            .passing_time(Duration::ZERO)
            .broken_time(Duration::from_secs(5)),
    ));
    let channel = Endpoint::from_shared(format!("http://{addr}"))?.connect_lazy();
    let mut client = HealthClient::new(
        ServiceBuilder::new()
            .layer(GrpcBreakerLayer::new(breaker.clone()))
            .service(channel),
    );
    let check = |service: &str| HealthCheckRequest {
        service: service.into(),
    };

    for service in [
        "inventory",
        "no-such-service",
        "inventory",
        "no-such-service",
    ] {
        match client.check(check(service)).await {
            Ok(reply) => println!("{service}: {:?}", reply.into_inner().status()),
            Err(status) => println!("{service}: {:?} (an answer, not a failure)", status.code()),
        }
    }
    println!(
        "breaker: {:?} after {} calls\n",
        breaker.state(),
        breaker.metrics().call_count
    );

    println!("stopping the server");
    let _ = stop.send(());
    server.await??;
    for _ in 0..6 {
        match client.check(check("inventory")).await {
            Ok(_) => println!("inventory: served"),
            Err(status) => match circuit_broken(&status) {
                Some(broken) => println!(
                    "inventory: {:?}, rejected by the breaker: retry after {:?}",
                    status.code(),
                    broken.retry_after()
                ),
                None => println!("inventory: {:?} ({})", status.code(), status.message()),
            },
        }
    }
    println!(
        "breaker: {:?}, {} trip(s)",
        breaker.state(),
        breaker.metrics().trips
    );
    Ok(())
}
