//! The tower middleware (feature `tower`), driven by `tower::ServiceExt`.

use std::convert::Infallible;
use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use breaker_tokio::tower::error::{BoxError, CircuitBroken};
use breaker_tokio::tower::{CircuitBreakerLayer, CircuitBreakerService};
use breaker_tokio::{CircuitBreaker, Config, MockClock, Mode, Outcome, State, Transition};
use tower::{Layer, Service, ServiceExt, service_fn};

const BROKEN: Duration = Duration::from_secs(2);

fn shared() -> Arc<CircuitBreaker> {
    Arc::new(breaker_tokio::new(
        Config::new(0.5, Duration::from_secs(4))
            .broken_time(BROKEN)
            .passing_time(Duration::ZERO)
            .min_calls(2),
    ))
}

/// A classifier for status-code responses: 5xx and errors are the
/// dependency's fault; 4xx are the caller's.
fn server_fault(r: &Result<u16, Infallible>) -> Outcome {
    match r {
        Ok(500..) => Outcome::Failure,
        _ => Outcome::Success,
    }
}

#[tokio::test(start_paused = true)]
async fn ok_is_success_and_err_is_failure_by_default() {
    let breaker = shared();
    let svc =
        CircuitBreakerLayer::new(breaker.clone()).layer(service_fn(|fail: bool| async move {
            if fail { Err("refused") } else { Ok("fine") }
        }));
    assert_eq!(svc.clone().oneshot(false).await.unwrap(), "fine");
    let err = svc.clone().oneshot(true).await.unwrap_err();
    assert_eq!(err.to_string(), "refused");
    let m = breaker.metrics();
    assert_eq!((m.successes, m.failures, m.state), (1, 1, State::Broken));
}

#[tokio::test(start_paused = true)]
async fn a_5xx_counts_as_a_failure_and_a_4xx_does_not() {
    let breaker = shared();
    let svc = CircuitBreakerLayer::new(breaker.clone())
        .with_classifier(server_fault)
        .layer(service_fn(|status: u16| async move {
            Ok::<_, Infallible>(status)
        }));
    for status in [404, 400, 404] {
        assert_eq!(svc.clone().oneshot(status).await.unwrap(), status);
    }
    assert_eq!(breaker.metrics().failures, 0);
    assert_eq!(svc.clone().oneshot(503).await.unwrap(), 503);
    assert_eq!(breaker.state(), State::Passing, "1 failure in 4");
    assert_eq!(svc.clone().oneshot(500).await.unwrap(), 500);
    assert_eq!(breaker.state(), State::Passing, "2 failures in 5");
    assert_eq!(svc.clone().oneshot(502).await.unwrap(), 502);
    assert_eq!(breaker.state(), State::Broken, "3 failures in 6");
}

#[tokio::test(start_paused = true)]
async fn rejects_in_call_never_in_poll_ready() {
    let breaker = shared();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut svc = CircuitBreakerService::new(
        service_fn(move |()| {
            counted.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>("down") }
        }),
        breaker.clone(),
    );
    for _ in 0..2 {
        svc.ready().await.unwrap().call(()).await.unwrap_err();
    }
    assert_eq!(breaker.state(), State::Broken);

    // Still ready while Broken; the rejection comes from `call`, at once,
    // without calling the inner service.
    let ready = svc.ready().await;
    assert!(ready.is_ok());
    let err: BoxError = svc.call(()).await.unwrap_err();
    let rejection = err.downcast_ref::<CircuitBroken>().expect("a rejection");
    assert_eq!(rejection.retry_after(), BROKEN);
    assert_eq!(rejection.state(), State::Broken);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(breaker.metrics().call_broken, 1);
}

#[tokio::test(start_paused = true)]
async fn the_error_type_is_towers_box_error() {
    fn same<T>(_: &T, _: &T) {}
    let svc = CircuitBreakerService::new(
        service_fn(|()| async { Err::<(), _>(std::io::Error::other("io")) }),
        shared(),
    );
    let mine: BoxError = svc.oneshot(()).await.unwrap_err();
    let towers: tower::BoxError = Box::new(std::io::Error::other("io"));
    same(&mine, &towers);
    assert!(mine.downcast_ref::<std::io::Error>().is_some());
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_breaker() {
    let breaker = shared();
    let layer = CircuitBreakerLayer::new(breaker.clone());
    let failing = service_fn(|()| async { Err::<(), _>("down") });
    let a = layer.clone().layer(failing);
    let b = a.clone();
    a.oneshot(()).await.unwrap_err();
    b.oneshot(()).await.unwrap_err();
    assert!(Arc::ptr_eq(layer.breaker(), &breaker));
    assert_eq!(breaker.metrics().failures, 2);
    assert_eq!(breaker.state(), State::Broken);
}

#[tokio::test(start_paused = true)]
async fn recovers_through_the_service() {
    // A breaker on a MockClock, to show any clock works with the layer.
    let clock: &'static MockClock = Box::leak(Box::new(MockClock::new()));
    let breaker = Arc::new(breaker_core_breaker(clock));
    let healthy = Arc::new(AtomicUsize::new(0));
    let flag = healthy.clone();
    let svc = CircuitBreakerService::new(
        service_fn(move |()| {
            let ok = flag.load(Ordering::Relaxed) == 1;
            async move { if ok { Ok(()) } else { Err("down") } }
        }),
        breaker.clone(),
    );
    svc.clone().oneshot(()).await.unwrap_err();
    svc.clone().oneshot(()).await.unwrap_err();
    assert_eq!(breaker.state(), State::Broken);
    healthy.store(1, Ordering::Relaxed);
    clock.advance(BROKEN + Duration::from_secs(4));
    assert_eq!(breaker.state(), State::Recovering);
    svc.oneshot(()).await.unwrap();
    assert_eq!(breaker.state(), State::Passing);
}

type MockBreaker = breaker_core::CircuitBreaker<&'static MockClock>;

fn breaker_core_breaker(clock: &'static MockClock) -> MockBreaker {
    MockBreaker::new(
        Config::new(0.5, Duration::from_secs(4))
            .broken_time(BROKEN)
            .passing_time(Duration::ZERO)
            .min_calls(2),
        clock,
    )
}

#[tokio::test(start_paused = true)]
async fn a_dropped_response_future_is_ignored() {
    let breaker = shared();
    let mut svc = CircuitBreakerService::new(
        service_fn(|()| pending::<Result<(), Infallible>>()),
        breaker.clone(),
    );
    let future = svc.ready().await.unwrap().call(());
    drop(future);
    let m = breaker.metrics();
    assert_eq!((m.call_passing, m.ignored, m.failures), (1, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn accessors_reach_the_inner_service() {
    #[derive(Debug, Clone, PartialEq)]
    struct Inner(u8);
    impl Service<()> for Inner {
        type Response = u8;
        type Error = Infallible;
        type Future = std::future::Ready<Result<u8, Infallible>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, (): ()) -> Self::Future {
            std::future::ready(Ok(self.0))
        }
    }
    let mut svc = CircuitBreakerService::new(Inner(1), shared());
    assert_eq!(svc.get_ref(), &Inner(1));
    svc.get_mut().0 = 2;
    assert_eq!(svc.ready().await.unwrap().call(()).await.unwrap(), 2);
    assert!(format!("{svc:?}").starts_with("CircuitBreakerService { inner: Inner(2)"));
    assert_eq!(svc.into_inner(), Inner(2));
}

#[tokio::test(start_paused = true)]
async fn a_breaker_with_a_listener_and_operator_controls_works_through_the_layer() {
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = heard.clone();
    let breaker = Arc::new(breaker_tokio::with_listener(
        Config::new(0.5, Duration::from_secs(4))
            .broken_time(BROKEN)
            .passing_time(Duration::ZERO)
            .min_calls(1),
        move |t: Transition| sink.lock().unwrap().push(t.to_string()),
    ));
    let svc: CircuitBreakerService<_, _, _, 10, _> = CircuitBreakerLayer::new(breaker.clone())
        .layer(service_fn(|()| async { Ok::<_, Infallible>("fine") }));
    breaker.force_open();
    let err = svc.clone().oneshot(()).await.unwrap_err();
    let rejection = err.downcast_ref::<CircuitBroken>().unwrap();
    assert_eq!(
        (rejection.mode(), rejection.retry_after()),
        (Mode::ForcedOpen, Duration::ZERO)
    );
    breaker.reset();
    assert_eq!(svc.oneshot(()).await.unwrap(), "fine");
    assert_eq!(
        *heard.lock().unwrap(),
        ["passing -> forced open", "forced open -> passing"]
    );
}

static STATIC: CircuitBreaker = breaker_tokio::new(
    Config::new(0.5, Duration::from_secs(4))
        .broken_time(BROKEN)
        .passing_time(Duration::ZERO)
        .min_calls(2),
);

#[tokio::test(start_paused = true)]
async fn a_static_breaker_serves_through_a_reference() {
    let svc = CircuitBreakerLayer::new(&STATIC)
        .with_classifier(server_fault)
        .layer(service_fn(|status: u16| async move {
            Ok::<_, Infallible>(status)
        }));
    // The response future owns no `Arc`: it is `'static` and `Send` through
    // the reference, so it can be spawned.
    let spawned = tokio::spawn(svc.clone().oneshot(503));
    assert_eq!(spawned.await.unwrap().unwrap(), 503);
    assert_eq!(svc.clone().oneshot(500).await.unwrap(), 500);
    assert_eq!(STATIC.state(), State::Broken);
    let err = svc.clone().oneshot(200).await.unwrap_err();
    let rejection = err.downcast_ref::<CircuitBroken>().unwrap();
    assert_eq!(rejection.retry_after(), BROKEN);
    assert!(std::ptr::eq(*svc.breaker(), &STATIC));
}

#[tokio::test(start_paused = true)]
async fn a_request_in_flight_is_counted_when_its_response_settles() {
    let breaker = shared();
    let mut svc = CircuitBreakerService::new(
        service_fn(|secs: u64| async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            Ok::<_, Infallible>(())
        }),
        breaker.clone(),
    );
    let slow = tokio::spawn(svc.ready().await.unwrap().call(10));
    tokio::task::yield_now().await;
    assert_eq!(breaker.metrics().call_count, 0, "in flight");
    svc.ready().await.unwrap().call(0).await.unwrap();
    slow.await.unwrap().unwrap();
    let m = breaker.metrics();
    assert_eq!((m.call_count, m.call_passing, m.successes), (2, 2, 2));
}

/// An inner service that is not ready the first time it is asked, then
/// fails its readiness: the layer must pass both on untouched.
#[derive(Debug, Default)]
struct Reluctant {
    asked: usize,
}

impl Service<()> for Reluctant {
    type Response = ();
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<(), std::io::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::io::Error>> {
        self.asked += 1;
        if self.asked == 1 {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(Err(std::io::Error::other("inner overloaded")))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        std::future::ready(Ok(()))
    }
}

#[tokio::test(start_paused = true)]
async fn poll_ready_is_the_inner_services_readiness() {
    use std::task::{Context, Poll, Waker};
    let breaker = shared();
    let mut svc = CircuitBreakerService::new(Reluctant::default(), breaker.clone());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(svc.poll_ready(&mut cx).is_pending());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Err(e)) => assert_eq!(e.to_string(), "inner overloaded"),
        other => panic!("the inner service's error, not {other:?}"),
    }
    // Readiness is not a call: the breaker counted nothing.
    assert_eq!(breaker.metrics().call_count, 0);
}

#[tokio::test(start_paused = true)]
async fn debug_output_names_the_parts() {
    let breaker = shared();
    let layer = CircuitBreakerLayer::new(breaker.clone());
    let layer_debug = format!("{layer:?}");
    assert!(layer_debug.starts_with("CircuitBreakerLayer { breaker: CircuitBreaker {"));
    let mut svc = layer.layer(service_fn(|()| async { Err::<(), _>("down") }));
    let admitted = svc.call(());
    assert!(format!("{admitted:?}").contains("admitted_in: Some(Passing)"));
    admitted.await.unwrap_err();
    svc.call(()).await.unwrap_err();
    let rejected = svc.call(());
    assert!(format!("{rejected:?}").starts_with("ResponseFuture { rejected: CircuitBroken"));
}
