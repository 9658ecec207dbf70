//! Errors the proxy itself answers with, in Anthropic's shape
//! (`{"type":"error","error":{"type":…,"message":…}}`) so clients handle them as usual.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;

use crate::proxy::body::ProxyBody;

/// Build a JSON body in Anthropic's error shape.
pub fn error_json(kind: &str, message: &str) -> Bytes {
    let v = serde_json::json!({
        "type": "error",
        "error": { "type": kind, "message": message },
    });
    Bytes::from(serde_json::to_vec(&v).expect("json"))
}

/// A complete error response.
pub fn error_response(status: StatusCode, kind: &str, message: &str) -> Response<ProxyBody> {
    let mut r = Response::new(full(error_json(kind, message)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The in-band SSE error event that ends a stream that failed after it started.
pub fn sse_error_event(kind: &str, message: &str) -> Bytes {
    crate::sse::event("error", &error_json(kind, message))
}

/// A fixed body.
pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}
