//! [`GrpcBody`]: a response body that records the call's outcome when its
//! trailers arrive.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use std::ops::Deref;

use breaker_core::{CircuitBreaker, Clock, Listener, Outcome, OwnedPermit};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::GrpcClassifier;

pin_project! {
    /// The body of a response that went through
    /// [`GrpcBreakerService`](crate::GrpcBreakerService).
    ///
    /// When the response head did not decide the call (no `grpc-status` in
    /// the headers), the body holds the call's permit and records the
    /// outcome when the stream ends:
    ///
    /// - **trailers** arrive: their `grpc-status`, classified;
    /// - the body **fails** (the connection broke mid-stream): a failure;
    /// - the body **ends without trailers**: `UNKNOWN`, as a gRPC client
    ///   reads a missing status (a failure by default);
    /// - the body is **dropped before it ends** (the client stopped reading a
    ///   stream, or the call was cancelled): the permit is dropped, which
    ///   records [`Outcome::Ignored`]: the call said nothing about the
    ///   server, and in Recovering its admission goes back to the ramp.
    ///   tonic reads a unary response to its trailers, so this happens to
    ///   streams the application stops reading, and to cancelled calls.
    ///
    /// `P` is the permit (`None` once settled, or when the head decided).
    pub struct GrpcBody<B, P> {
        #[pin]
        inner: B,
        permit: Option<P>,
        classifier: GrpcClassifier,
    }
}

impl<B, P> GrpcBody<B, P> {
    pub(crate) fn new(inner: B, permit: Option<P>, classifier: GrpcClassifier) -> Self {
        GrpcBody {
            inner,
            permit,
            classifier,
        }
    }

    /// Whether the call's outcome is still to be recorded by this body.
    pub fn is_pending(&self) -> bool {
        self.permit.is_some()
    }

    /// The inner body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B, H, C, const N: usize, L> Body for GrpcBody<B, OwnedPermit<H, C, N, L>>
where
    B: Body,
    H: Deref<Target = CircuitBreaker<C, N, L>>,
    C: Clock,
    L: Listener,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let classifier = this.classifier;
        let outcome = match &frame {
            // Data: the call goes on.
            Some(Ok(frame)) => frame.trailers_ref().map(|trailers| {
                classifier
                    .classify_trailers(trailers)
                    .unwrap_or(classifier.classify_missing_status())
            }),
            Some(Err(_)) => Some(Outcome::Failure),
            None => Some(classifier.classify_missing_status()),
        };
        if let Some(outcome) = outcome
            && let Some(permit) = this.permit.take()
        {
            permit.record(outcome);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: fmt::Debug, P> fmt::Debug for GrpcBody<B, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcBody")
            .field("inner", &self.inner)
            .field("pending", &self.permit.is_some())
            .field("classifier", &self.classifier)
            .finish()
    }
}
