//! THE request pipeline. For every request the proxy receives:
//!
//! 1. `/_qcc/…` is the proxy's own: `/_qcc/health` (liveness) and `/_qcc/status` (JSON).
//! 2. With an access token configured, the client must present it (`x-api-key` or
//!    `Authorization: Bearer`), compared in constant time.
//! 3. The body is read fully, bounded by `max_body_bytes` (413 past it), so that it can be
//!    sent again to another endpoint.
//! 4. One routing snapshot is taken; it lists the candidate endpoints.
//! 5. Each candidate in turn (at most `max_attempts`): send the request with the client's
//!    headers minus its credentials, plus the endpoint's; wait for headers (timeout by
//!    `stream`). A connect error, a timeout or a retryable status ([`retry`]) moves on to the
//!    next candidate; anything else is the commit point.
//! 6. Commit: status, headers and body go back unchanged, the body streamed frame by frame,
//!    plus `x-qcc-endpoint` and `x-qcc-attempts`.
//! 7. Every candidate failed: the last attempt's upstream error response goes back as it is;
//!    if the last attempt got no response, a 503 with `retry-after` naming the endpoints.
//!
//! [`retry`]: crate::proxy::retry

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use subtle::ConstantTimeEq;

use crate::proxy::Proxy;
use crate::proxy::body::{Passthrough, ProxyBody, describe};
use crate::proxy::error::{error_response, full};
use crate::proxy::retry::{Verdict, classify_status};
use crate::proxy::routing::{RouteTable, Upstream};
use crate::proxy::upstream::{request_headers, response_headers, target_url};

/// Handle one client request. Never fails: every problem becomes a response.
pub async fn handle(proxy: Arc<Proxy>, req: Request<Incoming>) -> Response<ProxyBody> {
    if req.uri().path().starts_with("/_qcc/") {
        return own_endpoint(&proxy, &req);
    }
    if let Some(denied) = check_access(&proxy, &req) {
        return denied;
    }
    proxy.requests.fetch_add(1, Ordering::Relaxed);
    proxy.in_flight.fetch_add(1, Ordering::Relaxed);
    let _guard = InFlightGuard(&proxy);
    let routes = proxy.routes();
    let (parts, body) = req.into_parts();
    let max = routes.settings.max_body_bytes as usize;
    let body = match Limited::new(body, max).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                &format!("request body exceeds the proxy's limit of {max} bytes"),
            );
        }
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("could not read the request body: {e}"),
            );
        }
    };
    forward(&proxy, &routes, parts, body).await
}

/// Keeps the proxy-wide in-flight count.
struct InFlightGuard<'a>(&'a Proxy);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether the body asks for a stream (`"stream": true`), read without building a tree.
fn wants_stream(method: &Method, body: &Bytes) -> bool {
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(default)]
        stream: bool,
    }
    *method == Method::POST
        && serde_json::from_slice::<Peek>(body)
            .map(|p| p.stream)
            .unwrap_or(false)
}

/// One failed attempt, for logs and the final 503.
struct Failure {
    endpoint: String,
    reason: String,
}

async fn forward(
    proxy: &Proxy,
    routes: &RouteTable,
    parts: http::request::Parts,
    body: Bytes,
) -> Response<ProxyBody> {
    let settings = &routes.settings;
    let stream = wants_stream(&parts.method, &body);
    let header_timeout = Duration::from_secs(if stream {
        settings.stream_header_timeout_secs
    } else {
        settings.header_timeout_secs
    });
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let candidates: Vec<&Arc<Upstream>> = routes
        .candidates()
        .take(settings.max_attempts.max(1) as usize)
        .collect();
    let mut failures: Vec<Failure> = Vec::new();
    let total = candidates.len();
    for (i, upstream) in candidates.into_iter().enumerate() {
        let attempt = i + 1;
        let in_flight = upstream.stats.begin();
        let started = Instant::now();
        let request = proxy
            .client
            .request(
                parts.method.clone(),
                target_url(&upstream.base_url, path_and_query),
            )
            .headers(request_headers(&parts.headers, upstream))
            .body(body.clone());
        let outcome = tokio::time::timeout(header_timeout, request.send()).await;
        let response = match outcome {
            Err(_) => {
                let reason = format!("no response headers within {} s", header_timeout.as_secs());
                upstream.stats.record_error(&reason);
                failures.push(Failure {
                    endpoint: upstream.id.clone(),
                    reason,
                });
                continue;
            }
            Ok(Err(e)) => {
                let reason = describe(&e);
                upstream.stats.record_error(&reason);
                tracing::warn!(endpoint = %upstream.id, attempt, "upstream failed: {reason}");
                failures.push(Failure {
                    endpoint: upstream.id.clone(),
                    reason,
                });
                continue;
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        if classify_status(status) == Verdict::Retry {
            let reason = format!("HTTP {}", status.as_u16());
            upstream.stats.record_error(&reason);
            tracing::warn!(endpoint = %upstream.id, attempt, "upstream answered {status}");
            if attempt < total {
                failures.push(Failure {
                    endpoint: upstream.id.clone(),
                    reason,
                });
                continue;
            }
        } else {
            upstream.stats.record_latency(started.elapsed());
        }
        tracing::debug!(endpoint = %upstream.id, attempt, %status, "committed");
        return commit(
            response,
            upstream,
            attempt,
            settings.idle_timeout_secs,
            in_flight,
        );
    }
    all_failed(&failures)
}

/// Hand an upstream response to the client, streaming its body.
fn commit(
    response: reqwest::Response,
    upstream: &Arc<Upstream>,
    attempts: usize,
    idle_secs: u64,
    in_flight: crate::proxy::stats::InFlight,
) -> Response<ProxyBody> {
    let status = response.status();
    let mut headers = response_headers(response.headers());
    let sse = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if let Ok(v) = HeaderValue::from_str(&upstream.id) {
        headers.insert("x-qcc-endpoint", v);
    }
    headers.insert("x-qcc-attempts", HeaderValue::from(attempts));
    let body = Passthrough::new(
        Box::pin(response.bytes_stream()),
        Duration::from_secs(idle_secs),
        sse,
        upstream.stats.clone(),
        in_flight,
    );
    let mut out = Response::new(body.boxed_unsync());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

/// Every candidate failed without an upstream response to pass on.
fn all_failed(failures: &[Failure]) -> Response<ProxyBody> {
    let message = if failures.is_empty() {
        "qcc: the active profile has no enabled endpoint".to_owned()
    } else {
        let tried: Vec<String> = failures
            .iter()
            .map(|f| format!("{} ({})", f.endpoint, f.reason))
            .collect();
        format!("qcc: every endpoint failed: {}", tried.join("; "))
    };
    let mut r = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded_error",
        &message,
    );
    r.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from_static("10"));
    r.headers_mut()
        .insert("x-qcc-attempts", HeaderValue::from(failures.len()));
    r
}

/// Check the client's access token, if one is required.
fn check_access(proxy: &Proxy, req: &Request<Incoming>) -> Option<Response<ProxyBody>> {
    let token = proxy.access_token.as_ref()?;
    let presented = req
        .headers()
        .get("x-api-key")
        .map(|v| v.as_bytes())
        .or_else(|| {
            req.headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        });
    let ok = presented.is_some_and(|p| bool::from(p.ct_eq(token.expose().as_bytes())));
    if ok {
        None
    } else {
        Some(error_response(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "qcc: this proxy requires its access token as the API key",
        ))
    }
}

/// `/_qcc/health` and `/_qcc/status`.
fn own_endpoint(proxy: &Proxy, req: &Request<Incoming>) -> Response<ProxyBody> {
    let json = |v: serde_json::Value| {
        let mut r = Response::new(full(serde_json::to_vec(&v).expect("json")));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    match req.uri().path() {
        "/_qcc/health" => json(serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
        })),
        "/_qcc/status" => {
            if let Some(denied) = check_access(proxy, req) {
                return denied;
            }
            let routes = proxy.routes();
            json(serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "active_profile": routes.active_profile,
                "active_tier": routes.active_tier,
                "requests": proxy.requests(),
                "in_flight": proxy.in_flight(),
                "endpoints": proxy.endpoint_status(),
            }))
        }
        _ => error_response(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "qcc: unknown proxy endpoint (try /_qcc/health or /_qcc/status)",
        ),
    }
}
