//! [`BreakerMiddleware`]: one breaker per host for a reqwest client.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use breaker_core::{CircuitBroken, Clock, Config, ConfigError, Outcome};
use breaker_keyed::KeyedBreakers;
use breaker_tokio::TokioClock;
use breaker_tokio::http::StatusPolicy;
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

type KeyFn<K> = Box<dyn Fn(&Request) -> K + Send + Sync>;

/// A [`Middleware`] that sends each request through its host's circuit
/// breaker: one failing host opens its own breaker, and requests to the
/// other hosts go on.
///
/// - **Keys**: `host:port` of the request's URL by default
///   ([`host_and_port`]), or what a function of the request returns
///   ([`with_key`](Self::with_key)): a path prefix, a tenant. The breakers
///   live in a bounded [`KeyedBreakers`] map (see its eviction rule: a
///   Broken host is never evicted).
/// - **Failures**: a connection error, a timeout, any error sending the
///   request or reading its head, and a response whose status breaker-tokio's
///   [`StatusPolicy`] calls a failure: `5xx`, and `429` or `408` when asked
///   ([`too_many_requests`](Self::too_many_requests),
///   [`status_policy`](Self::status_policy)). Other statuses are successes
///   (the host answered). A request that could not even be built, and an
///   error of another middleware, are recorded as `Ignored`: they say
///   nothing about the host.
/// - **Rejection**: while a host's breaker is open, its requests fail at
///   once, without touching the network, with
///   [`reqwest_middleware::Error::Middleware`] holding the [`CircuitBroken`]
///   (read it with [`circuit_broken`], or `downcast_ref` on the `anyhow`
///   error); its `retry_after()` says when the breaker starts Recovering.
/// - **Cancellation**: a request future dropped before its response
///   arrives records `Ignored` (and gives a Recovering admission back).
///
/// The response body is not watched: the outcome is decided by the
/// response head, when the middleware chain returns.
pub struct BreakerMiddleware<K = String, C = TokioClock>
where
    C: Clock,
{
    breakers: Arc<KeyedBreakers<K, C>>,
    key: KeyFn<K>,
    policy: StatusPolicy,
}

impl BreakerMiddleware {
    /// A breaker per `host:port`, each built from `config`, on tokio's
    /// clock, for at most
    /// [`DEFAULT_CAPACITY`](breaker_keyed::DEFAULT_CAPACITY) hosts. For
    /// another bound or clock, build the map and pass it to
    /// [`per_host`](Self::per_host).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if `config` is invalid.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let breakers = KeyedBreakers::builder(config, TokioClock::new()).build()?;
        Ok(BreakerMiddleware::per_host(breakers))
    }
}

impl<C: Clock + Clone> BreakerMiddleware<String, C> {
    /// A breaker per `host:port` ([`host_and_port`]), from `breakers`.
    pub fn per_host(breakers: KeyedBreakers<String, C>) -> Self {
        BreakerMiddleware::with_key(breakers, host_and_port)
    }
}

impl<K, C: Clock> BreakerMiddleware<K, C> {
    /// A breaker per `key(&request)`, from `breakers`.
    pub fn with_key(
        breakers: KeyedBreakers<K, C>,
        key: impl Fn(&Request) -> K + Send + Sync + 'static,
    ) -> Self {
        BreakerMiddleware {
            breakers: Arc::new(breakers),
            key: Box::new(key),
            policy: StatusPolicy::SERVER_ERRORS,
        }
    }

    /// Which response statuses count as failures:
    /// [`StatusPolicy::SERVER_ERRORS`] (5xx) unless set here.
    pub fn status_policy(mut self, policy: StatusPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Whether `429 Too Many Requests` counts as a failure (`false` by
    /// default: a quota is usually per caller, not the host's health; count
    /// it when the quota is your whole client's and backing off all of it is
    /// the point). Short for the [`StatusPolicy`] setting of the same name.
    pub fn too_many_requests(mut self, failure: bool) -> Self {
        self.policy = self.policy.too_many_requests(failure);
        self
    }

    /// The breakers, by key: for their states and metrics.
    pub fn breakers(&self) -> &Arc<KeyedBreakers<K, C>> {
        &self.breakers
    }

    /// How a request's result counts against its host.
    fn classify(&self, result: &reqwest_middleware::Result<Response>) -> Outcome {
        match result {
            Ok(response) => self.policy.outcome(response.status()),
            // The request was never valid: nothing was sent.
            Err(reqwest_middleware::Error::Reqwest(e)) if e.is_builder() => Outcome::Ignored,
            // Connect, timeout, reset, redirect loop: the host did not answer.
            Err(reqwest_middleware::Error::Reqwest(_)) => Outcome::Failure,
            // Another middleware's own error.
            Err(reqwest_middleware::Error::Middleware(_)) => Outcome::Ignored,
        }
    }
}

/// The default key: the URL's host and port (the scheme's default port
/// when none is written), as `host:port`. `http://a.example/x` and
/// `http://a.example:80/y` share a breaker; `:8080` has its own.
pub fn host_and_port(request: &Request) -> String {
    let url = request.url();
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The breaker's rejection, if that is what `error` is, or what it was
/// caused by: the request never reached the network. Its
/// [`retry_after`](CircuitBroken::retry_after) says when to try again.
///
/// The rejection is a [`reqwest_middleware::Error::Middleware`] holding the
/// [`CircuitBroken`]; a middleware outside this one may wrap it (reqwest-retry
/// returns "request failed after N retries" caused by it), so the whole
/// chain of causes is searched.
pub fn circuit_broken(error: &reqwest_middleware::Error) -> Option<CircuitBroken> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = match error {
        reqwest_middleware::Error::Middleware(e) => Some(e.as_ref()),
        reqwest_middleware::Error::Reqwest(_) => return None,
    };
    while let Some(error) = cause {
        if let Some(broken) = error.downcast_ref::<CircuitBroken>() {
            return Some(*broken);
        }
        // A middleware error wrapped in another error: its `source()`
        // skips the error it holds (it is `transparent`), so look inside.
        if let Some(inner) = error.downcast_ref::<reqwest_middleware::Error>() {
            return circuit_broken(inner);
        }
        cause = error.source();
    }
    None
}

#[async_trait::async_trait]
impl<K, C> Middleware for BreakerMiddleware<K, C>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    C: Clock + Clone + Send + Sync + 'static,
{
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let key = (self.key)(&request);
        let permit = self
            .breakers
            .try_acquire(&key)
            .map_err(reqwest_middleware::Error::middleware)?;
        let result = next.run(request, extensions).await;
        permit.record(self.classify(&result));
        result
    }
}

impl<K, C: Clock + fmt::Debug> fmt::Debug for BreakerMiddleware<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerMiddleware")
            .field("breakers", &self.breakers)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_host_and_port_with_the_default_port() {
        let key =
            |url: &str| host_and_port(&Request::new(reqwest::Method::GET, url.parse().unwrap()));
        assert_eq!(key("http://a.example/x"), "a.example:80");
        assert_eq!(key("http://a.example:80/y"), "a.example:80");
        assert_eq!(key("https://a.example/"), "a.example:443");
        assert_eq!(key("http://127.0.0.1:8080/"), "127.0.0.1:8080");
        assert_eq!(key("http://[::1]:9000/"), "[::1]:9000");
    }
}
