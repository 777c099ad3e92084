//! The ops router for axum: JSON views, Prometheus text, server-sent events,
//! the dashboard, and opt-in operator controls.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use breaker_core::Transition;
use serde_json::{Value, json};
use tokio_stream::{Stream, StreamExt};

use crate::Health;
use crate::figures::{f32_as_written, mode_label, state_label};
use crate::group::Group;
use crate::prometheus::{PrometheusCollector, render};
use crate::registry::{Breaker, Registry, Snapshot};

/// The dashboard: one HTML page with its script and styles inline (no CDN,
/// no build step). It polls `breakers` (relative to itself, so it works
/// wherever the router is nested) once a second: each view carries its
/// recent transitions, so the page needs no long-lived connection and shows
/// what happened before it was opened.
const DASHBOARD: &str = include_str!("dashboard.html");

/// Builds the ops [`Router`] for a [`Registry`]; see the
/// [crate docs](crate#the-ops-router) for its routes.
///
/// The router is a value the application mounts where it likes
/// (`Router::nest("/ops", ..)` or `merge`); nothing listens on a port by
/// itself. Operator controls are off unless
/// [`enable_controls`](Self::enable_controls) is called; when off, their
/// routes do not exist (404).
///
/// # Examples
///
/// ```
/// use breaker_ops::{OpsRouter, Registry};
///
/// let breakers = Registry::new();
/// let app: axum::Router = axum::Router::new().nest("/ops", OpsRouter::new(breakers).into_router());
/// ```
#[derive(Debug, Clone)]
pub struct OpsRouter {
    registry: Registry,
    controls: bool,
}

impl OpsRouter {
    /// The read-only routes (JSON, metrics, events, dashboard) for `registry`.
    pub fn new(registry: Registry) -> OpsRouter {
        OpsRouter {
            registry,
            controls: false,
        }
    }

    /// Adds `POST /breakers/{name}/force-open`, `/disable` and `/reset`.
    ///
    /// Anyone who can reach them can stop a service's calls to a dependency:
    /// put them behind the application's own authentication, as the
    /// [crate docs](crate#operator-controls) show.
    pub fn enable_controls(mut self) -> OpsRouter {
        self.controls = true;
        self
    }

    /// The router, for an application of any state type `S`.
    pub fn into_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let mut metrics = prometheus_client::registry::Registry::default();
        metrics.register_collector(Box::new(PrometheusCollector::new(self.registry.clone())));
        let ops = Arc::new(Ops {
            registry: self.registry,
            metrics,
        });
        let mut router = Router::new()
            .route("/breakers", get(list))
            .route("/breakers/events", get(events))
            .route("/breakers/{name}", get(one))
            .route("/metrics", get(metrics_text))
            .route("/dashboard", get(dashboard));
        if self.controls {
            router = router
                .route("/breakers/{name}/force-open", post(force_open))
                .route("/breakers/{name}/disable", post(disable))
                .route("/breakers/{name}/reset", post(reset));
        }
        router
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(ops)
    }
}

struct Ops {
    registry: Registry,
    metrics: prometheus_client::registry::Registry,
}

type Shared = State<Arc<Ops>>;

/// An error answer: its status and a JSON body, `{"error": "..."}`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this path".to_owned(),
    )
}

/// The breaker named in the path.
fn lookup(ops: &Ops, name: Result<Path<String>, PathRejection>) -> Result<Breaker, ApiError> {
    let Path(name) = name.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    ops.registry
        .get(&name)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no breaker named {name:?}")))
}

/// A registered breaker: its name, sources and recent transitions besides
/// its figures.
fn view(breaker: &Breaker) -> Value {
    let mut view = json!({
        "name": breaker.name(),
        "reports_transitions": breaker.reports_transitions(),
        "sources": breaker.health().iter().map(source_json).collect::<Vec<_>>(),
        "recent_transitions": breaker
            .recent_transitions()
            .iter()
            .map(|(t, ago)| {
                let mut t = transition_json(breaker.name(), None, t);
                t["seconds_ago"] = json!(ago.as_secs_f64());
                t
            })
            .collect::<Vec<_>>(),
    });
    figures_json(&breaker.snapshot(), &mut view);
    view
}

/// A group: its members at this reading (the overflow breaker first), each
/// a key and its figures, how many were left out, its own figures (`null`
/// if its source gives none), and its members' latest transitions (each
/// with its key; no `seconds_ago`: members may read different clocks).
fn group_view(group: &Group) -> Value {
    let read = group.read();
    let members: Vec<Value> = read
        .members
        .iter()
        .map(|m| {
            let mut member = json!({ "key": m.key, "overflow": m.overflow });
            figures_json(&m.snapshot, &mut member);
            member
        })
        .collect();
    let recent: Vec<Value> = group
        .recent_transitions()
        .iter()
        .map(|e| transition_json(&e.breaker, e.key.as_deref(), &e.transition))
        .collect();
    json!({
        "name": group.name(),
        "limit": group.limit(),
        "hidden": read.hidden,
        "stats": read.stats.map(|s| json!({
            "keys": s.keys,
            "capacity": s.capacity,
            "evictions": s.evictions,
            "overflow_lookups": s.overflow_lookups,
            "sweeps": s.sweeps,
        })),
        "members": members,
        "recent_transitions": recent,
    })
}

/// Adds a snapshot's figures to a view (a JSON object). Seconds as JSON
/// numbers: what dashboards and `jq` expect.
fn figures_json(s: &Snapshot, view: &mut Value) {
    let (m, c) = (s.metrics, s.config);
    let secs = |d: std::time::Duration| d.as_secs_f64();
    let figures = json!({
        "state": state_label(m.state),
        "mode": mode_label(m.mode),
        "time_in_state_seconds": s.time_in_state.map(secs),
        "clock_seconds": s.clock.to_duration().as_secs_f64(),
        "retry_after_seconds": secs(m.retry_after),
        "window": {
            "calls": m.window_calls,
            "failures": m.window_failures,
            "error_ratio": f32_as_written(m.error_ratio),
        },
        "totals": {
            "calls": m.call_count,
            "passing": m.call_passing,
            "broken": m.call_broken,
            "recovering": m.call_recovering,
            "recovering_ok": m.call_recovering_ok,
            "recovering_failed": m.call_recovering_failed,
            "successes": m.successes,
            "failures": m.failures,
            "ignored": m.ignored,
            "late": m.late,
            "trips": m.trips,
        },
        "config": {
            "error_ratio": f32_as_written(c.error_ratio),
            "window_seconds": secs(c.window),
            "broken_time_seconds": secs(c.broken_time),
            "recovery_time_seconds": secs(c.recovery_time),
            "passing_time_seconds": secs(c.passing_time),
            "min_calls": c.min_calls,
            "broken_time_max_seconds": c.broken_time_max.map(secs),
            "jitter": f32_as_written(c.jitter),
            "slow_call_seconds": c.slow_call.map(secs),
        },
    });
    if let (Value::Object(view), Value::Object(figures)) = (view, figures) {
        view.extend(figures);
    }
}

/// A source's health: `{"name", "up": true}`, or with `down_since` (Unix
/// seconds: a wall-clock instant, as the source knows it) and `reason` when
/// down.
fn source_json((name, health): &(&'static str, Health)) -> Value {
    match health {
        Health::Up => json!({ "name": name, "up": true }),
        Health::Down { since, reason } => json!({
            "name": name,
            "up": false,
            "down_since": since
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64(),
            "reason": reason,
        }),
    }
}

async fn list(State(ops): Shared) -> Response {
    let breakers: Vec<Value> = ops.registry.breakers().iter().map(view).collect();
    let groups: Vec<Value> = ops.registry.groups().iter().map(group_view).collect();
    axum::Json(json!({ "breakers": breakers, "groups": groups })).into_response()
}

async fn one(
    State(ops): Shared,
    name: Result<Path<String>, PathRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(view(&lookup(&ops, name)?)))
}

/// Runs an operator control on the named breaker and answers with its view.
fn control(
    ops: &Ops,
    name: Result<Path<String>, PathRejection>,
    act: fn(&Breaker),
) -> Result<axum::Json<Value>, ApiError> {
    let breaker = lookup(ops, name)?;
    act(&breaker);
    Ok(axum::Json(view(&breaker)))
}

async fn force_open(
    State(ops): Shared,
    name: Result<Path<String>, PathRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    control(&ops, name, Breaker::force_open)
}

async fn disable(
    State(ops): Shared,
    name: Result<Path<String>, PathRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    control(&ops, name, Breaker::disable)
}

async fn reset(
    State(ops): Shared,
    name: Result<Path<String>, PathRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    control(&ops, name, Breaker::reset)
}

/// OpenMetrics when the scraper asks for it (Prometheus does), else the
/// classic text format.
async fn metrics_text(State(ops): Shared, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    match render(&ops.metrics, openmetrics) {
        Ok((body, content_type)) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response(),
        Err(_) => ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "could not encode the metrics".to_owned(),
        )
        .into_response(),
    }
}

/// One transition as the event stream and the dashboard read it: a group
/// member's carries its `key` besides the group's name as `breaker`.
pub(crate) fn transition_json(breaker: &str, key: Option<&str>, t: &Transition) -> Value {
    let mut json = json!({
        "breaker": breaker,
        "from": state_label(t.from),
        "to": state_label(t.to),
        "from_mode": mode_label(t.from_mode),
        "to_mode": mode_label(t.to_mode),
        "at_seconds": t.at.to_duration().as_secs_f64(),
        "broken_time_seconds": t.broken_time.as_secs_f64(),
    });
    if let Some(key) = key {
        json["key"] = json!(key);
    }
    json
}

/// `event: transition` per transition; `event: lagged` with `{"missed": n}`
/// when this reader fell behind the registry's buffer.
async fn events(State(ops): Shared) -> Sse<impl Stream<Item = Result<sse::Event, Infallible>>> {
    let stream = ops.registry.transitions().map(|item| {
        Ok(match item {
            Ok(event) => sse::Event::default().event("transition").data(
                transition_json(&event.breaker, event.key.as_deref(), &event.transition)
                    .to_string(),
            ),
            Err(lagged) => sse::Event::default()
                .event("lagged")
                .data(json!({ "missed": lagged.missed }).to_string()),
        })
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn dashboard() -> Html<&'static str> {
    Html(DASHBOARD)
}
