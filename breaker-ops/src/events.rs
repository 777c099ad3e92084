//! The stream of transitions a registry hears.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use breaker_core::Transition;
use futures_core::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

/// One transition of a registered breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// The name the breaker is registered under, or its group's.
    pub breaker: Arc<str>,
    /// For a member of a group (a key of a breaker-keyed map), its key
    /// label: bounded in length as [`Member::key`](crate::Member::key), and
    /// [`OVERFLOW_KEY`](crate::OVERFLOW_KEY) for the group's overflow
    /// breaker. `None` for a registered breaker.
    pub key: Option<Arc<str>>,
    /// What changed, as the breaker's listener heard it.
    pub transition: Transition,
}

/// A reader fell behind: the stream's buffer filled up and the oldest
/// `missed` transitions were dropped for it. The stream goes on with the
/// oldest transition still buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged {
    /// How many transitions this reader will never see.
    pub missed: u64,
}

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transition stream lagged: {} transitions missed",
            self.missed
        )
    }
}

impl std::error::Error for Lagged {}

/// Every transition of the breakers in a [`Registry`](crate::Registry) that
/// were built with [`OpsListener`](crate::OpsListener), and of the group
/// members reported with [`Group::report_transition`](crate::Group::report_transition)
/// (breaker-keyed's `report_to` does it), from the moment the stream was
/// made, in the order they were heard.
///
/// Memory is bounded: the registry keeps one ring buffer of
/// [`Registry::with_event_capacity`](crate::Registry::with_event_capacity)
/// transitions (256 by default) shared by all readers. A reader that falls
/// more than that behind gets `Err(Lagged)` saying how many it missed, then
/// the transitions still buffered; nobody ever blocks the breakers.
///
/// The stream ends when the registry and all its breakers' listeners are
/// gone (in practice, never: keep polling it or drop it).
///
/// Made by [`Registry::transitions`](crate::Registry::transitions).
pub struct Transitions {
    inner: BroadcastStream<Event>,
}

impl fmt::Debug for Transitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transitions").finish_non_exhaustive()
    }
}

impl Transitions {
    pub(crate) fn new(receiver: tokio::sync::broadcast::Receiver<Event>) -> Transitions {
        Transitions {
            inner: BroadcastStream::new(receiver),
        }
    }
}

impl Stream for Transitions {
    type Item = Result<Event, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx).map(|item| {
            item.map(|result| {
                result.map_err(|BroadcastStreamRecvError::Lagged(missed)| Lagged { missed })
            })
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
