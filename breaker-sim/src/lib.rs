#![doc = include_str!("../README.md")]

mod duration;
mod replay;
mod report;
mod scenario;
mod series;
pub mod settings;
mod svg;
mod trace;

pub use duration::parse_duration;
pub use replay::{MAX_TRANSITIONS, Options, ReplayError, replay};
pub use report::{Report, StateTimes, TransitionRecord};
pub use scenario::{Events, Phase, Scenario, ScenarioError};
pub use series::{MAX_POINTS, Series};
pub use svg::{BAND_OPACITY, BROKEN, PANEL_HEIGHT, PASSING, RECOVERING, WIDTH, periods, render};
pub use trace::{Answer, Event, MAX_TIME_MS, TraceError, TraceReader};
