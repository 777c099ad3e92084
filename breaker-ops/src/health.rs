//! The health of what a registered breaker relies on besides its dependency
//! (a fleet's Redis link, say), as the registry shows it.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// Whether something a breaker relies on is working, as one of its
/// [sources](crate::Breaker::add_source) reports it.
///
/// A breaker keeps deciding on its own whatever its sources say; a source
/// being down only means the breaker does without it (a fleet breaker
/// decides alone while its fleet cannot reach Redis).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// Working.
    Up,
    /// Not working.
    Down {
        /// When it stopped working (wall clock, as a log line would say).
        since: SystemTime,
        /// Why, e.g. `connection refused`.
        reason: String,
    },
}

impl Health {
    /// Whether it is [`Up`](Health::Up).
    pub fn is_up(&self) -> bool {
        matches!(self, Health::Up)
    }
}

/// One attached source: its name (a bounded label value) and how to read it.
#[derive(Clone)]
pub(crate) struct Source {
    pub(crate) name: &'static str,
    pub(crate) health: Arc<dyn Fn() -> Health + Send + Sync>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
