//! [`GrpcClassifier`]: which gRPC status codes count against the server.

use breaker_core::Outcome;
use http::{HeaderMap, Response, StatusCode};
use tonic::Code;

/// The header (or trailer) that carries a gRPC call's status code.
const GRPC_STATUS: &str = "grpc-status";

/// Which gRPC status codes are the server's fault (a breaker
/// [`Failure`](Outcome::Failure)); every other code, `OK` included, is a
/// [`Success`](Outcome::Success): the server answered.
///
/// The default failures are the codes that say the server or the path to it
/// is in trouble: `UNAVAILABLE`, `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`,
/// `INTERNAL` and `UNKNOWN`. `NOT_FOUND`, `INVALID_ARGUMENT`,
/// `PERMISSION_DENIED` and the like are answers about the request, not the
/// server's health. Add or remove codes with [`failure`](Self::failure) and
/// [`not_failure`](Self::not_failure).
///
/// # Examples
///
/// ```
/// use breaker_tonic::GrpcClassifier;
/// use breaker_core::Outcome;
/// use tonic::Code;
///
/// let classes = GrpcClassifier::new().failure(Code::Aborted).not_failure(Code::ResourceExhausted);
/// assert_eq!(classes.classify_code(Code::Aborted), Outcome::Failure);
/// assert_eq!(classes.classify_code(Code::ResourceExhausted), Outcome::Success);
/// assert_eq!(classes.classify_code(Code::Unavailable), Outcome::Failure);
/// assert_eq!(classes.classify_code(Code::NotFound), Outcome::Success);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrpcClassifier {
    /// Bit `n` set: code `n` is a failure. Codes are 0 to 16.
    failures: u32,
}

impl GrpcClassifier {
    /// The default failures: `UNAVAILABLE`, `DEADLINE_EXCEEDED`,
    /// `RESOURCE_EXHAUSTED`, `INTERNAL`, `UNKNOWN`.
    pub const fn new() -> GrpcClassifier {
        GrpcClassifier::none()
            .failure(Code::Unavailable)
            .failure(Code::DeadlineExceeded)
            .failure(Code::ResourceExhausted)
            .failure(Code::Internal)
            .failure(Code::Unknown)
    }

    /// No code is a failure (only transport errors are): start here to
    /// list your own set.
    pub const fn none() -> GrpcClassifier {
        GrpcClassifier { failures: 0 }
    }

    /// The same set, with `code` a failure. (`OK` never is: a call that
    /// succeeded says the server works.)
    pub const fn failure(self, code: Code) -> GrpcClassifier {
        if matches!(code, Code::Ok) {
            return self;
        }
        GrpcClassifier {
            failures: self.failures | 1 << code as u32,
        }
    }

    /// The same set, with `code` not a failure.
    pub const fn not_failure(self, code: Code) -> GrpcClassifier {
        GrpcClassifier {
            failures: self.failures & !(1 << code as u32),
        }
    }

    /// Whether `code` counts as a failure.
    pub const fn is_failure(&self, code: Code) -> bool {
        self.failures & (1 << code as u32) != 0
    }

    /// How a call that ended with `code` counts.
    pub const fn classify_code(&self, code: Code) -> Outcome {
        if self.is_failure(code) {
            Outcome::Failure
        } else {
            Outcome::Success
        }
    }

    /// How a call counts from its status in `headers` (the trailers, or the
    /// headers of a trailers-only response); `None` if they carry no
    /// `grpc-status`. A value that is not a status code reads as `UNKNOWN`,
    /// as gRPC clients read it.
    pub fn classify_trailers(&self, headers: &HeaderMap) -> Option<Outcome> {
        let status = headers.get(GRPC_STATUS)?;
        Some(self.classify_code(Code::from_bytes(status.as_bytes())))
    }

    /// How a call counts from its response head, if the head alone decides
    /// it: a trailers-only response (its `grpc-status` is in the headers),
    /// or an HTTP status other than 200, which gRPC maps to a code (502, 503
    /// and 504 from a proxy are `UNAVAILABLE`, for example). `None`: the
    /// status comes in the trailers, after the body.
    pub fn classify_head<B>(&self, response: &Response<B>) -> Option<Outcome> {
        if response.status() != StatusCode::OK {
            return Some(self.classify_code(code_of_http_status(response.status())));
        }
        self.classify_trailers(response.headers())
    }

    /// How a response body that ended without trailers counts: gRPC clients
    /// read a missing status as an error of their own, `UNKNOWN` here.
    pub const fn classify_missing_status(&self) -> Outcome {
        self.classify_code(Code::Unknown)
    }
}

impl Default for GrpcClassifier {
    fn default() -> Self {
        GrpcClassifier::new()
    }
}

/// gRPC's mapping of an HTTP status to a status code, for responses that
/// are not gRPC at all (a proxy's error page): "HTTP to gRPC Status Code
/// Mapping" in the gRPC documentation.
fn code_of_http_status(status: StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    #[test]
    fn the_default_failures_are_exactly_the_five_server_codes() {
        let failures: Vec<Code> = ALL
            .into_iter()
            .filter(|c| GrpcClassifier::new().is_failure(*c))
            .collect();
        assert_eq!(
            failures,
            [
                Code::Unknown,
                Code::DeadlineExceeded,
                Code::ResourceExhausted,
                Code::Internal,
                Code::Unavailable
            ]
        );
        assert_eq!(GrpcClassifier::default(), GrpcClassifier::new());
        assert!(ALL.iter().all(|c| !GrpcClassifier::none().is_failure(*c)));
        assert!(
            !GrpcClassifier::none()
                .failure(Code::Ok)
                .is_failure(Code::Ok)
        );
    }

    fn trailers(status: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_STATUS, status.parse().unwrap());
        headers
    }

    #[test]
    fn reads_grpc_status_from_headers_and_trailers() {
        let classes = GrpcClassifier::new();
        assert_eq!(
            classes.classify_trailers(&trailers("14")),
            Some(Outcome::Failure)
        );
        assert_eq!(
            classes.classify_trailers(&trailers("5")),
            Some(Outcome::Success)
        );
        assert_eq!(
            classes.classify_trailers(&trailers("0")),
            Some(Outcome::Success)
        );
        // Not a code: UNKNOWN, a failure by default.
        assert_eq!(
            classes.classify_trailers(&trailers("x")),
            Some(Outcome::Failure)
        );
        assert_eq!(classes.classify_trailers(&HeaderMap::new()), None);
    }

    #[test]
    fn the_head_decides_trailers_only_and_non_grpc_responses() {
        let classes = GrpcClassifier::new();
        let mut ok = Response::new(());
        assert_eq!(
            classes.classify_head(&ok),
            None,
            "status comes in the trailers"
        );
        ok.headers_mut().insert(GRPC_STATUS, "14".parse().unwrap());
        assert_eq!(classes.classify_head(&ok), Some(Outcome::Failure));

        let http = |status: u16| {
            let mut r = Response::new(());
            *r.status_mut() = StatusCode::from_u16(status).unwrap();
            classes.classify_head(&r)
        };
        assert_eq!(http(503), Some(Outcome::Failure));
        assert_eq!(http(502), Some(Outcome::Failure));
        assert_eq!(http(404), Some(Outcome::Success), "UNIMPLEMENTED");
        assert_eq!(http(401), Some(Outcome::Success), "UNAUTHENTICATED");
        assert_eq!(http(400), Some(Outcome::Failure), "INTERNAL");
        assert_eq!(http(500), Some(Outcome::Failure), "UNKNOWN");
        assert_eq!(classes.classify_missing_status(), Outcome::Failure);
    }
}
