#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

mod breaker;
pub mod clock;
mod config;
mod div;
mod error;
mod listener;
mod metrics;
mod outcome;
mod params;
mod permit;
mod ramp;
mod state;
mod sync;
mod window;

pub use breaker::CircuitBreaker;
#[cfg(feature = "std")]
pub use clock::StdClock;
pub use clock::{Clock, MockClock, Nanos};
pub use config::{Config, ConfigError, MAX_BACKOFF, MAX_BUCKETS, MAX_MIN_CALLS, MAX_SPAN};
pub use error::{CircuitBroken, Error};
#[cfg(feature = "defmt")]
pub use listener::DefmtListener;
#[cfg(feature = "log")]
pub use listener::LogListener;
#[cfg(feature = "tracing")]
pub use listener::TracingListener;
pub use listener::{Cause, Listener, NoListener, Transition};
pub use metrics::Metrics;
pub use outcome::{Classify, DefaultClassifier, FailureIf, Outcome, failure_if};
pub use permit::{OwnedPermit, Permit};
pub use state::{Mode, State};
