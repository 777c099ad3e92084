//! The ops router over a real HTTP connection on loopback: JSON views,
//! /metrics, the event stream, operator controls and every bad request.

mod support;

use std::time::{Duration, SystemTime};

use axum::body::Body;
use breaker_core::{Mode, State};
use breaker_ops::{Health, Registry};
use http_body_util::BodyExt;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use support::{app, busy_history, clock, get, post, reporting, request, serve, silent, trip};

#[tokio::test]
async fn breakers_are_listed_with_state_counts_and_config() {
    let registry = Registry::new();
    let db_clock = clock();
    let db = reporting(db_clock);
    registry.register("db", db.clone()).unwrap();
    busy_history(&db, db_clock);
    let cache = silent(clock());
    let cache_entry = registry.register("cache", cache.clone()).unwrap();
    cache_entry.add_source("fleet", || Health::Up).unwrap();
    cache_entry
        .add_source("replica", || Health::Down {
            since: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250),
            reason: "connection refused".into(),
        })
        .unwrap();
    let addr = serve(app(&registry, false)).await;

    let reply = get(addr, "/ops/breakers").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    let body = reply.json();
    let names: Vec<&str> = body["breakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cache", "db"]);

    let m = db.metrics();
    let one = get(addr, "/ops/breakers/db").await.json();
    assert_eq!(
        one,
        json!({
            "name": "db",
            "state": "recovering",
            "mode": "automatic",
            "time_in_state_seconds": 5.0,
            "clock_seconds": 10.0,
            "retry_after_seconds": 0.0,
            "reports_transitions": true,
            "sources": [],
            "recent_transitions": [
                {
                    "breaker": "db", "from": "passing", "to": "broken",
                    "from_mode": "automatic", "to_mode": "automatic",
                    "at_seconds": 0.0, "broken_time_seconds": 5.0, "seconds_ago": 10.0,
                },
                {
                    "breaker": "db", "from": "broken", "to": "recovering",
                    "from_mode": "automatic", "to_mode": "automatic",
                    "at_seconds": 5.0, "broken_time_seconds": 0.0, "seconds_ago": 5.0,
                },
            ],
            "window": { "calls": m.window_calls, "failures": 0, "error_ratio": 0.0 },
            "totals": {
                "calls": m.call_count,
                "passing": 9,
                "broken": 2,
                "recovering": m.call_recovering,
                "recovering_ok": 1,
                "recovering_failed": m.call_recovering_failed,
                "successes": 4,
                "failures": 3,
                "ignored": 2,
                "late": 1,
                "trips": 1,
            },
            "config": {
                "error_ratio": 0.5,
                "window_seconds": 10.0,
                "broken_time_seconds": 5.0,
                "recovery_time_seconds": 10.0,
                "passing_time_seconds": 0.0,
                "min_calls": 4,
                "broken_time_max_seconds": null,
                "jitter": 0.0,
                "slow_call_seconds": null,
            },
        })
    );
    assert_eq!(body["breakers"][1], one);
    assert_eq!(body["breakers"][0]["time_in_state_seconds"], json!(null));
    assert_eq!(body["breakers"][0]["recent_transitions"], json!([]));
    assert_eq!(
        body["breakers"][0]["sources"],
        json!([
            { "name": "fleet", "up": true },
            {
                "name": "replica", "up": false,
                "down_since": 1_700_000_000.25, "reason": "connection refused",
            },
        ])
    );
}

#[tokio::test]
async fn metrics_are_served_in_the_format_the_scraper_asks_for() {
    let registry = Registry::new();
    let db = silent(clock());
    registry.register("db", db.clone()).unwrap();
    trip(&db);
    let addr = serve(app(&registry, false)).await;

    let classic = get(addr, "/ops/metrics").await;
    assert_eq!(classic.status, StatusCode::OK);
    assert_eq!(
        classic.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        classic
            .body
            .contains("breaker_trips_total{breaker=\"db\"} 1\n"),
        "{}",
        classic.body
    );
    assert!(!classic.body.contains("# EOF"));

    // What a Prometheus server sends.
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let open = request(Method::GET, addr, "/ops/metrics", Some(accept)).await;
    assert_eq!(
        open.headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(
        open.body
            .contains("breaker_state{breaker=\"db\",state=\"broken\"} 1\n")
    );
    assert!(open.body.ends_with("# EOF\n"));
}

#[tokio::test]
async fn controls_change_the_breaker_only_when_enabled() {
    let registry = Registry::new();
    let db = silent(clock());
    registry.register("db", db.clone()).unwrap();

    let off = serve(app(&registry, false)).await;
    for action in ["force-open", "disable", "reset"] {
        let reply = post(off, &format!("/ops/breakers/db/{action}")).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{action} with controls off"
        );
        assert_eq!(reply.body, "");
    }
    assert_eq!((db.state(), db.mode()), (State::Passing, Mode::Automatic));

    let on = serve(app(&registry, true)).await;
    let reply = post(on, "/ops/breakers/db/force-open").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        (reply.json()["state"].clone(), reply.json()["mode"].clone()),
        (json!("broken"), json!("forced_open"))
    );
    assert_eq!((db.state(), db.mode()), (State::Broken, Mode::ForcedOpen));

    let reply = post(on, "/ops/breakers/db/disable").await;
    assert_eq!(reply.json()["mode"], "disabled");
    assert_eq!((db.state(), db.mode()), (State::Passing, Mode::Disabled));

    trip(&silent(clock())); // another breaker's trouble changes nothing here
    let reply = post(on, "/ops/breakers/db/reset").await;
    assert_eq!(reply.json()["mode"], "automatic");
    assert_eq!((db.state(), db.mode()), (State::Passing, Mode::Automatic));
}

#[tokio::test]
async fn every_bad_request_gets_its_status_and_error_body() {
    let registry = Registry::new();
    let db = silent(clock());
    registry.register("db", db.clone()).unwrap();
    let on = serve(app(&registry, true)).await;
    let off = serve(app(&registry, false)).await;
    let not_found = json!({ "error": "no breaker named \"nope\"" });
    let not_allowed = json!({ "error": "method not allowed on this path" });

    let reply = get(off, "/ops/breakers/nope").await;
    assert_eq!(
        (reply.status, reply.json()),
        (StatusCode::NOT_FOUND, not_found.clone())
    );
    for action in ["force-open", "disable", "reset"] {
        let reply = post(on, &format!("/ops/breakers/nope/{action}")).await;
        assert_eq!(
            (reply.status, reply.json()),
            (StatusCode::NOT_FOUND, not_found.clone())
        );
    }

    let wrong_methods = [
        (on, Method::POST, "/ops/breakers", "GET,HEAD"),
        (on, Method::DELETE, "/ops/breakers/db", "GET,HEAD"),
        (on, Method::PUT, "/ops/metrics", "GET,HEAD"),
        (on, Method::POST, "/ops/dashboard", "GET,HEAD"),
        (on, Method::POST, "/ops/breakers/events", "GET,HEAD"),
        (on, Method::GET, "/ops/breakers/db/force-open", "POST"),
        (on, Method::DELETE, "/ops/breakers/db/reset", "POST"),
        (off, Method::POST, "/ops/breakers/db", "GET,HEAD"),
    ];
    for (addr, method, path, allow) in wrong_methods {
        let reply = request(method.clone(), addr, path, None).await;
        assert_eq!(
            (reply.status, reply.json()),
            (StatusCode::METHOD_NOT_ALLOWED, not_allowed.clone()),
            "{method} {path}"
        );
        assert_eq!(reply.headers["allow"], allow, "{method} {path}");
    }

    // Controls off: the routes do not exist, whatever the method.
    let reply = get(off, "/ops/breakers/db/force-open").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // No such control.
    let reply = post(on, "/ops/breakers/db/explode").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // A name that is not UTF-8 once decoded.
    let reply = get(on, "/ops/breakers/%FF").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error = reply.json()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("UTF-8"), "{error}");

    // None of it touched the breaker.
    let m = db.metrics();
    assert_eq!(
        (m.state, m.mode, m.call_count),
        (State::Passing, Mode::Automatic, 0)
    );
}

/// Opens `/ops/breakers/events` on `addr`: the response's body, once its
/// head says it is an event stream.
async fn open_events(addr: std::net::SocketAddr) -> hyper::body::Incoming {
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let response = client
        .request(
            Request::get(format!("http://{addr}/ops/breakers/events"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response.into_body()
}

/// Reads server-sent events off `body` until `n` have arrived:
/// (event name, data).
async fn read_events(
    body: &mut hyper::body::Incoming,
    buffer: &mut String,
    n: usize,
) -> Vec<(String, serde_json::Value)> {
    let mut events = Vec::new();
    while events.len() < n {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).unwrap());
                }
            }
            // Keep-alive comments have neither.
            if let (Some(name), Some(data)) = (name, data) {
                events.push((name, data));
            }
        }
        if events.len() >= n {
            break;
        }
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("no event within 10 s")
            .expect("the stream ended")
            .unwrap();
        if let Ok(bytes) = frame.into_data() {
            buffer.push_str(std::str::from_utf8(&bytes).unwrap());
        }
    }
    events
}

#[tokio::test]
async fn the_event_stream_carries_the_listeners_transitions() {
    let registry = Registry::with_event_capacity(4);
    let db_clock = clock();
    let db = reporting(db_clock);
    registry.register("db", db.clone()).unwrap();
    let addr = serve(app(&registry, false)).await;

    // The stream is subscribed once the response has begun.
    let mut body = open_events(addr).await;
    let mut buffer = String::new();

    trip(&db);
    db_clock.advance(Duration::from_secs(5));
    assert_eq!(db.state(), State::Recovering);
    db_clock.advance(Duration::from_secs(1));
    db.force_open();
    let events = read_events(&mut body, &mut buffer, 3).await;
    let transition = |from, to, from_mode, to_mode, at: f64, broken: f64| {
        (
            "transition".to_owned(),
            json!({
                "breaker": "db", "from": from, "to": to, "from_mode": from_mode, "to_mode": to_mode,
                "at_seconds": at, "broken_time_seconds": broken,
            }),
        )
    };
    assert_eq!(
        events,
        [
            transition("passing", "broken", "automatic", "automatic", 0.0, 5.0),
            transition("broken", "recovering", "automatic", "automatic", 5.0, 0.0),
            transition("recovering", "broken", "automatic", "forced_open", 6.0, 0.0),
        ]
    );

    // More transitions than the buffer holds, faster than this reader reads:
    // it is told how many it missed, then gets the newest ones.
    for _ in 0..3 {
        db.reset();
        db.force_open();
    }
    let events = read_events(&mut body, &mut buffer, 5).await;
    assert_eq!(events[0], ("lagged".to_owned(), json!({ "missed": 2 })));
    let modes: Vec<&str> = events[1..]
        .iter()
        .map(|e| e.1["to_mode"].as_str().unwrap())
        .collect();
    assert_eq!(
        modes,
        ["automatic", "forced_open", "automatic", "forced_open"]
    );
}

/// A group member's transition (what breaker-keyed's `report_to` sends for
/// each key) carries the group's name and the member's key label.
#[tokio::test]
async fn a_group_members_transitions_carry_its_key_on_the_event_stream() {
    let registry = Registry::new();
    let (group, _) = support::group_of(&registry, "hosts", &[]);
    let addr = serve(app(&registry, false)).await;
    let mut body = open_events(addr).await;
    let mut buffer = String::new();

    // A real transition, as a member's listener hears it.
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heard.clone();
    let member = breaker_core::CircuitBreaker::<_, 10, _>::with_listener(
        breaker_core::Config::new(0.5, Duration::from_secs(10)),
        clock(),
        move |t: breaker_core::Transition| log.lock().unwrap().push(t),
    );
    member.force_open();
    let t = heard.lock().unwrap()[0];
    let long = "é".repeat(100);
    group.report_transition(Some(&"db-2:5432"), t);
    group.report_transition(None, t);
    group.report_transition(Some(&long), t);

    let events = read_events(&mut body, &mut buffer, 3).await;
    let keys: Vec<&str> = events
        .iter()
        .map(|e| e.1["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys[..2], ["db-2:5432", breaker_ops::OVERFLOW_KEY]);
    assert_eq!(
        keys[2].len(),
        108 + 3 + 16,
        "cut as the exported key label is"
    );
    assert!(keys[2].starts_with(&"é".repeat(54)));
    assert_eq!(
        events[0],
        (
            "transition".to_owned(),
            json!({
                "breaker": "hosts", "key": "db-2:5432", "from": "passing", "to": "broken",
                "from_mode": "automatic", "to_mode": "forced_open",
                "at_seconds": t.at.to_duration().as_secs_f64(), "broken_time_seconds": 0.0,
            })
        )
    );
    // The group's view keeps them too (the dashboard's "recent transitions"),
    // the last 10, oldest first.
    let view = get(addr, "/ops/breakers").await.json()["groups"][0].clone();
    assert_eq!(
        view["stats"],
        serde_json::Value::Null,
        "this group reports none"
    );
    let recent = view["recent_transitions"].clone();
    assert_eq!(recent[0], events[0].1);
    assert_eq!(recent.as_array().unwrap().len(), 3);
    for i in 0..12 {
        group.report_transition(Some(&i), t);
    }
    let recent = get(addr, "/ops/breakers").await.json()["groups"][0]["recent_transitions"].clone();
    let keys: Vec<&str> = recent
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]);
}

#[tokio::test]
async fn controls_behind_the_apps_own_auth_layer_as_the_readme_shows() {
    use axum::extract::Request as AxumRequest;
    use axum::middleware::{self, Next};
    use axum::response::Response;

    async fn operators_only(request: AxumRequest, next: Next) -> Result<Response, StatusCode> {
        let token = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if token == Some("Bearer let-me-in") {
            Ok(next.run(request).await)
        } else {
            Err(StatusCode::UNAUTHORIZED)
        }
    }
    let registry = Registry::new();
    let db = silent(clock());
    registry.register("db", db.clone()).unwrap();
    let ops = breaker_ops::OpsRouter::new(registry)
        .enable_controls()
        .into_router()
        .route_layer(middleware::from_fn(operators_only));
    let addr = serve(axum::Router::new().nest("/ops", ops)).await;

    assert_eq!(
        post(addr, "/ops/breakers/db/force-open").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(db.mode(), Mode::Automatic);

    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let request = Request::post(format!("http://{addr}/ops/breakers/db/force-open"))
        .header("authorization", "Bearer let-me-in")
        .body(Body::empty())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let _ = response.into_body().collect().await.unwrap();
    assert_eq!(db.mode(), Mode::ForcedOpen);
}

#[tokio::test]
async fn groups_are_listed_with_their_members_up_to_the_limit() {
    let registry = Registry::new();
    let odd = "quote\" back\\slash\nnewline";
    let (group, breakers) = support::group_of(&registry, "shards", &["c", odd, "b", "a"]);
    trip(&breakers[2]);
    breakers[0].force_open();
    group.set_limit(3);
    let addr = serve(app(&registry, false)).await;

    let body = get(addr, "/ops/breakers").await.json();
    assert_eq!(body["breakers"], json!([]));
    let groups = body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    let shards = &groups[0];
    assert_eq!(shards["name"], "shards");
    assert_eq!(shards["limit"], 3);
    assert_eq!(shards["hidden"], 1);
    let members: Vec<(&str, bool, &str, &str)> = shards["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap(),
                m["overflow"].as_bool().unwrap(),
                m["state"].as_str().unwrap(),
                m["mode"].as_str().unwrap(),
            )
        })
        .collect();
    // The overflow breaker, then those needing attention in key order, then
    // the others ("a"; the odd key and nothing else are over the limit).
    assert_eq!(
        members,
        [
            ("(overflow)", true, "passing", "automatic"),
            ("b", false, "broken", "automatic"),
            ("c", false, "broken", "forced_open"),
            ("a", false, "passing", "automatic"),
        ]
    );
    let b = &shards["members"][1];
    assert_eq!(b["totals"]["failures"], 4);
    assert_eq!(b["retry_after_seconds"], 5.0);
    assert_eq!(b["time_in_state_seconds"], json!(null));
    assert_eq!(b["config"]["min_calls"], 4);

    // Over the limit is not forgotten: with room, the odd key shows, its
    // control character replaced, quotes and backslash as they are.
    group.set_limit(10);
    let body = get(addr, "/ops/breakers").await.json();
    let keys: Vec<&str> = body["groups"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "(overflow)",
            "b",
            "c",
            "a",
            "quote\" back\\slash\u{FFFD}newline"
        ]
    );
    assert_eq!(body["groups"][0]["hidden"], 0);
    assert_eq!(body["groups"][0]["stats"], json!(null));

    // A group that reports its map's own figures lists them.
    support::group_with_stats(&registry, "hosts", &[], Some(support::MAP_STATS));
    let body = get(addr, "/ops/breakers").await.json();
    assert_eq!(body["groups"][0]["name"], "hosts");
    assert_eq!(
        body["groups"][0]["stats"],
        json!({"keys": 412, "capacity": 1000, "evictions": 3, "overflow_lookups": 7, "sweeps": 2})
    );
}
