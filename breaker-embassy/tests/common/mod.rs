//! What the mock-driver test binaries share: the lock on the one global
//! mock clock, moving it, and hand-polled futures that count their wake-ups.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use embassy_time::MockDriver;

static TIME: Mutex<()> = Mutex::new(());

/// Serialises the tests of a binary on the global mock driver and resets it
/// to tick 0.
pub(crate) fn time_lock() -> MutexGuard<'static, ()> {
    let guard = TIME.lock().unwrap_or_else(PoisonError::into_inner);
    MockDriver::get().reset();
    guard
}

/// Moves the mock driver on by `d` (whole microseconds: its ticks).
pub(crate) fn advance(d: Duration) {
    let micros = u64::try_from(d.as_micros()).expect("test durations are short");
    MockDriver::get().advance(embassy_time::Duration::from_micros(micros));
}

/// Counts wake-ups, so a test can tell exactly when a timer fired.
#[derive(Default)]
struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future polled by hand with a counting waker.
pub(crate) struct Task<'a, T> {
    future: Pin<Box<dyn Future<Output = T> + 'a>>,
    wakes: Arc<WakeCount>,
    waker: Waker,
}

impl<'a, T> Task<'a, T> {
    pub(crate) fn new(future: impl Future<Output = T> + 'a) -> Self {
        let wakes = Arc::new(WakeCount::default());
        let waker = Waker::from(wakes.clone());
        Task {
            future: Box::pin(future),
            wakes,
            waker,
        }
    }

    pub(crate) fn poll(&mut self) -> Poll<T> {
        self.future
            .as_mut()
            .poll(&mut Context::from_waker(&self.waker))
    }

    pub(crate) fn wakes(&self) -> usize {
        self.wakes.0.load(Ordering::SeqCst)
    }
}

/// Polls a future that must complete without waiting.
pub(crate) fn now<T>(future: impl Future<Output = T>) -> T {
    match Task::new(future).poll() {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the future should have completed at once"),
    }
}
