//! THE request pipeline. For every request the proxy receives:
//!
//! 1. [`guard`](crate::proxy::guard): on a loopback listener only loopback `Host` names
//!    are served (421 otherwise); a request from a web page (`Origin`) only when it is the
//!    proxy's own or a configured origin (403 otherwise).
//! 2. `/_qcc/…` is the proxy's own: `/_qcc/health` (liveness), `/_qcc/status` and
//!    `/_qcc/usage` (JSON), `/_qcc/metrics` (Prometheus text; [`crate::metrics`]), the
//!    status page `/_qcc/` with its `app.js` and `app.css` ([`page`](crate::proxy::page):
//!    no data, served without the token).
//!    With an access token configured, the client must present it (`x-api-key` or
//!    `Authorization: Bearer`), compared in constant time.
//!    `GET /v1/models` is answered here when the serving profile's endpoints rename models
//!    or speak `openai` ([`local`](crate::proxy::local)).
//! 3. The body is read fully, bounded by `max_body_bytes` (413 past it), so that it can be
//!    sent again to another endpoint; its `stream` flag and conversation id are read, and
//!    its `model` when the snapshot has model routes.
//! 4. One routing snapshot is taken and the router lists the candidates (the profile the
//!    model is routed to, a recovery trial, the serving profile by stickiness and
//!    strategy, then the next tiers, then open endpoints as the last resort).
//! 5. Each candidate in turn, within `max_attempts`, the retry deadline and the retry
//!    budget (a last resort whose `retry-after` ends soon is waited for). A Messages
//!    request skips a candidate at one of its limits (`limited`: not an attempt, not a
//!    failure, no budget spent; every candidate limited → 429 `rate_limit_error` with
//!    `retry-after`). Send with the
//!    client's headers minus its credentials plus the endpoint's. A failure on a reused
//!    pooled connection before any response byte is sent once more on a fresh connection
//!    to the same endpoint (not a failure, not a failover). A connect error, a timeout
//!    before headers, a retryable status, or a stream whose first SSE event is an `error`
//!    is a failure: the breaker hears of it and the next candidate is tried.
//!    An `openai` endpoint gets the request rebuilt as Chat Completions and its answer
//!    translated back ([`openai`]); it takes only `/v1/messages` (and answers `count_tokens`
//!    with a local estimate). Before an Anthropic attempt, thinking blocks no Anthropic
//!    endpoint signed are removed (only when the config has `openai` endpoints).
//! 6. Commit point — response headers, or for a stream its first event (translated, for
//!    an `openai` endpoint): status, headers and
//!    body go back unchanged, streamed frame by frame, plus `x-qcc-endpoint` and
//!    `x-qcc-attempts`. Nothing is retried after this.
//! 7. Every candidate failed: the last upstream error response goes back unchanged; if no
//!    attempt got one, a 503 with `retry-after` naming each endpoint tried. The proxy's own
//!    "no endpoint is available" 503 is left for when nothing could be sent at all (every
//!    endpoint disabled, its key rejected, or held for billing).

mod openai;

use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::balance::sticky::session_key;
use crate::metrics::AttemptResult;
use crate::proxy::Proxy;
use crate::proxy::body::{Passthrough, ProxyBody, describe, poll_chunk};
use crate::proxy::client::{UpstreamClient, was_stale};
use crate::proxy::error::{error_response, full};
use crate::proxy::guard::{Decision, add_cors};
use crate::proxy::peek::{Peeked, peek_body};
use crate::proxy::request_body::{ReadError, RequestBody};
use crate::proxy::retry::{Verdict, classify_status, failure_for};
use crate::proxy::routing::{Candidate, RouteTable};
use crate::proxy::upstream::{request_headers, response_headers, storable_headers};
use crate::queue::model::NewItem;
use crate::sse;
use crate::state::model::{EndpointKind, QueueMode};
use crate::upstream::breaker::Failure;
use crate::upstream::keys::KeyState;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// Headers named on every request (a static name is not parsed again each time).
static SESSION_HEADER: HeaderName = HeaderName::from_static("x-claude-code-session-id");
static X_QCC_ENDPOINT: HeaderName = HeaderName::from_static("x-qcc-endpoint");
static X_QCC_ATTEMPTS: HeaderName = HeaderName::from_static("x-qcc-attempts");

/// Largest upstream error body kept to pass on or to read a spend-limit message from.
const MAX_ERROR_BODY: usize = 1024 * 1024;
/// Turns given to the upstream connection's task for a whole answer's first bytes.
const READY_TURNS: usize = 2;
/// Longest first SSE event looked at before committing.
const MAX_FIRST_EVENT: usize = 256 * 1024;

/// Handle one client request, sending upstream with `client` (the serving thread's own).
/// Never fails: every problem becomes a response.
pub async fn handle(
    proxy: &Proxy,
    client: &UpstreamClient,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let table = proxy.router.table();
    let cors = match proxy.access.admit(&req, &table.settings) {
        Decision::Serve { cors } => cors,
        Decision::Answer(r) => return r,
    };
    let path = req.uri().path();
    let mut response = if path == "/_qcc/metrics" {
        metrics_endpoint(proxy, &req).await
    } else if path.starts_with("/_qcc/") {
        own_endpoint(proxy, &req)
    } else if path == "/_qcc" {
        crate::proxy::page::redirect()
    } else if let Some(denied) = proxy.access.check_token(req.headers()) {
        denied
    } else if let Some(models) = local_models(proxy, &table, &req) {
        models
    } else {
        serve(proxy, client, table, req).await
    };
    if let Some(origin) = cors {
        add_cors(response.headers_mut(), origin);
    }
    response
}

/// `GET /v1/models` answered from the serving profile's model maps, when it has any or
/// speaks `openai` ([`crate::proxy::local::models`]).
fn local_models(
    proxy: &Proxy,
    table: &RouteTable,
    req: &Request<Incoming>,
) -> Option<Response<ProxyBody>> {
    if req.method() != Method::GET || req.uri().path() != "/v1/models" {
        return None;
    }
    let serving = proxy.router.tier_state();
    let (_, profile) = table.profile(&serving.serving)?;
    crate::proxy::local::models(profile)
}

/// Steps 3 to 7 for a request that may use the proxy.
async fn serve(
    proxy: &Proxy,
    client: &UpstreamClient,
    table: std::sync::Arc<RouteTable>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let arrived = Instant::now();
    proxy.requests.fetch_add(1, Ordering::Relaxed);
    proxy.in_flight.fetch_add(1, Ordering::Relaxed);
    let _guard = InFlightGuard(proxy);
    let (parts, body) = req.into_parts();
    let max = table.settings.max_body_bytes as usize;
    let body = match RequestBody::read(body, max).await {
        Ok(b) => b,
        Err(e @ ReadError::TooLarge(_)) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                &e.to_string(),
            );
        }
        Err(e @ ReadError::Broken(_)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &e.to_string(),
            );
        }
    };
    let meta = RequestMeta::read(
        &parts.method,
        parts.uri.path(),
        &parts.headers,
        &body,
        &table,
        Some(&proxy.usage_sink()),
        arrived,
    );
    let response = forward(proxy, client, &table, &parts, body, &meta, true).await;
    // qcc's own time: arrival to the first attempt sent, plus commit to the answer handed
    // over (attempts' upstream time and waits between them left out).
    if let (Some(sent), Some(committed)) = (meta.first_sent.get(), meta.committed.get()) {
        proxy
            .metrics()
            .overhead(sent.saturating_duration_since(meta.arrived) + committed.elapsed());
    }
    response
}

/// Send a request through the normal routing (tiers, breakers, budget) without going
/// through a client connection, and without queueing it again if it fails: how queued
/// requests are replayed.
pub async fn dispatch(
    proxy: &Proxy,
    method: Method,
    path_and_query: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response<ProxyBody>, http::Error> {
    let (mut parts, ()) = Request::builder()
        .method(method)
        .uri(path_and_query)
        .body(())?
        .into_parts();
    parts.headers = headers;
    let body = RequestBody::from(body);
    let table = proxy.router.table();
    let meta = RequestMeta::read(
        &parts.method,
        parts.uri.path(),
        &parts.headers,
        &body,
        &table,
        Some(&proxy.usage_sink()),
        Instant::now(),
    );
    Ok(forward(proxy, &proxy.client, &table, &parts, body, &meta, false).await)
}

/// Keeps the proxy-wide in-flight count.
struct InFlightGuard<'a>(&'a Proxy);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the proxy needs to know of a request body.
struct RequestMeta {
    stream: bool,
    /// The conversation's pin key ([`RouteTable::sticky_key`]).
    session: Option<String>,
    /// The requested `model`: read only when `table` has model routes, a profile ordering
    /// by price (`cost`, `adaptive`), or counts usage.
    model: Option<String>,
    /// A Messages request the usage accounting counts.
    counted: Option<crate::usage::UsageSink>,
    /// For the usage accounting: the model as the body spells it (a slice, no copy).
    model_raw: Option<Bytes>,
    /// When the request arrived, its first attempt was sent and an attempt committed.
    arrived: Instant,
    first_sent: OnceLock<Instant>,
    committed: OnceLock<Instant>,
}

impl RequestMeta {
    /// Read `stream` and `metadata.user_id` without parsing the body ([`peek`]), and
    /// `model` when there are model routes to match it against, a strategy to price it for,
    /// or usage to count.
    fn read(
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &RequestBody,
        table: &RouteTable,
        usage: Option<&crate::usage::UsageSink>,
        arrived: Instant,
    ) -> Self {
        let header = headers.get(&SESSION_HEADER).and_then(|v| v.to_str().ok());
        // The header names the conversation; only without it is `metadata.user_id` needed.
        let peeked = if *method == Method::POST {
            peek_body(body, header.is_none_or(|h| h.trim().is_empty()))
        } else {
            Peeked::default()
        };
        let counted = (table.count_usage && *method == Method::POST && path == "/v1/messages")
            .then(|| usage.cloned())
            .flatten();
        let model = if !table.needs_model || *method != Method::POST {
            None
        } else {
            crate::proxy::peek::model(body)
        };
        let session = session_key(header, peeked.user_id.as_deref());
        Self {
            stream: peeked.stream,
            session: table.sticky_key(session, model.as_deref()),
            model,
            model_raw: counted.as_ref().and_then(|_| {
                crate::proxy::peek::model_bytes(body)
                    .or_else(|| crate::proxy::peek::model(body).map(Bytes::from))
            }),
            counted,
            arrived,
            first_sent: OnceLock::new(),
            committed: OnceLock::new(),
        }
    }

    /// What the answer of attempt `number`, with `status`, reports to the usage accounting
    /// when this request is counted; `sent`: the model sent when a model map renamed it.
    fn tally(
        &self,
        number: usize,
        sent: Option<&str>,
        status: StatusCode,
    ) -> Option<crate::usage::Tally> {
        let sink = self.counted.clone()?;
        Some(crate::usage::Tally {
            sink,
            model: self.model_raw.clone().unwrap_or_default(),
            upstream_model: sent.map(str::to_owned),
            status: status.as_u16(),
            attempts: number as u32,
        })
    }
}

/// An upstream error response read whole, to pass on if it is the last word.
struct Buffered {
    endpoint: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

enum Attempt {
    /// Past the commit point: this goes to the client.
    Commit(Response<ProxyBody>),
    /// Failed before the commit point.
    Failed {
        failure: Failure,
        response: Option<Buffered>,
    },
}

fn failed(reason: String) -> Attempt {
    Attempt::Failed {
        failure: Failure::Transient(reason),
        response: None,
    }
}

async fn forward(
    proxy: &Proxy,
    client: &UpstreamClient,
    table: &RouteTable,
    parts: &http::request::Parts,
    body: RequestBody,
    meta: &RequestMeta,
    enqueue: bool,
) -> Response<ProxyBody> {
    let settings = &table.settings;
    let deadline = Instant::now() + Duration::from_secs(settings.retry_deadline_secs);
    let router = &proxy.router;
    router.budget.record_request();
    // Keeping the body for another attempt (or the queue) counts against a proxy-wide byte
    // budget; past it the request gets one attempt, and its body is freed once sent.
    let hold = RetryHold::acquire(proxy, body.len() as u64, settings.retry_buffer_bytes);
    let max_attempts = if hold.is_some() {
        settings.max_attempts.max(1) as usize
    } else {
        tracing::debug!("retry buffer full: one attempt only");
        1
    };
    // An `openai` endpoint takes only the Messages paths: for any other it is no candidate
    // (not an attempt, not a failure).
    let openai_serves = openai::serves(&parts.method, parts.uri.path());
    let can_serve = |c: &Candidate| openai_serves || c.upstream.kind != EndpointKind::Openai;
    let plan_max = if openai_serves || !table.has_openai {
        max_attempts
    } else {
        table.all.len().max(max_attempts)
    };
    let mut planned = router.plan(
        table,
        meta.session.as_deref(),
        meta.model.as_deref(),
        plan_max,
    );
    planned.retain(can_serve);
    planned.truncate(max_attempts);
    if !openai_serves
        && table
            .all
            .iter()
            .all(|u| !u.enabled || u.kind == EndpointKind::Openai)
    {
        return error_response(
            StatusCode::NOT_FOUND,
            "not_found_error",
            &format!(
                "qcc: no endpoint serves {}: openai endpoints take only /v1/messages (and count_tokens)",
                parts.uri.path()
            ),
        );
    }
    let mut candidates: std::collections::VecDeque<Candidate> = planned.into();
    // Limits count Messages requests (what spends tokens and money): an endpoint at one is
    // skipped — not an attempt, not a failure, no retry budget spent.
    let limited_path = parts.method == Method::POST && parts.uri.path() == "/v1/messages";
    let estimate = (body.len() / 4).max(1) as u64;
    let mut replanned = false;
    // What an Anthropic attempt is sent: the body without what translated turns left
    // behind, decided once per request (`None` until the first Anthropic attempt).
    let mut fitted: Option<Option<RequestBody>> = None;
    let mut body = Some(body);
    let mut tried: Vec<Tried> = Vec::new();
    let mut last_response: Option<Buffered> = None;
    let mut resorted = false;
    let mut i = 0;
    while i < max_attempts {
        let Some(mut candidate) = candidates.pop_front() else {
            let ids: Vec<&str> = tried.iter().filter_map(Tried::endpoint).collect();
            // Some were skipped at their limits: the plan went no further than
            // `max_attempts` candidates, so the rest of the profiles are asked for now.
            if !replanned && tried.iter().any(|t| matches!(t, Tried::Limited { .. })) {
                replanned = true;
                let more = router.plan(
                    table,
                    meta.session.as_deref(),
                    meta.model.as_deref(),
                    table.all.len(),
                );
                candidates.extend(
                    more.into_iter()
                        .filter(|c| can_serve(c) && !ids.contains(&c.upstream.id.as_str())),
                );
                continue;
            }
            // The regular candidates are used up: the open endpoints are the last resort.
            if resorted {
                break;
            }
            resorted = true;
            let resorts = router.last_resorts(table, &ids, Instant::now());
            candidates.extend(resorts.into_iter().filter(can_serve));
            continue;
        };
        if candidate.upstream.kind == EndpointKind::Openai
            && parts.uri.path().ends_with("/count_tokens")
        {
            // Answered here, at once: nothing is sent, so nothing waits or spends budget.
            return openai::count_tokens(body.as_ref(), &candidate.upstream.id, i + 1);
        }
        let reservation = if limited_path {
            match candidate.upstream.admit(|| estimate) {
                Ok(r) => r,
                Err(held) => {
                    tracing::debug!(endpoint = %candidate.upstream.id, "limited, skipped: {}", held.reason);
                    tried.push(Tried::Limited {
                        endpoint: candidate.upstream.id.clone(),
                        held,
                    });
                    continue;
                }
            }
        } else {
            None
        };
        // A `retry-after` that ends past the deadline is not waited for: the others first.
        if candidate.not_before.is_some_and(|at| at > deadline) {
            candidate.not_before = None;
            if !candidates.is_empty() {
                candidates.push_back(candidate);
                continue;
            }
        }
        // The state shared with other daemons (docs/team.md), for a Messages request: a
        // limit reached across them, or a breaker another one opened, skips the candidate
        // (not an attempt). No answer in time: this daemon's own decision stands.
        if limited_path && let Some(skip) = shared_admission(proxy, &candidate, estimate).await {
            if let Some(r) = reservation {
                r.cancel();
            }
            tried.push(skip);
            continue;
        }
        if i > 0 {
            if Instant::now() >= deadline {
                tried.push(Tried::Skipped(Skip::Deadline));
                break;
            }
            if !router.budget.try_retry() {
                proxy.metrics().retry_refused();
                tried.push(Tried::Skipped(Skip::Budget));
                break;
            }
            proxy.metrics().failover();
        }
        i += 1;
        // A last resort whose `retry-after` ends soon: wait for it (within the deadline).
        if let Some(at) = candidate.not_before {
            tokio::time::sleep_until(at.into()).await;
        }
        let u = candidate.upstream.clone();
        if u.kind == EndpointKind::Anthropic && fitted.is_none() {
            fitted = Some(body.as_ref().and_then(openai::fit_for_anthropic));
        }
        let this_body = match (&fitted, u.kind) {
            (Some(Some(fit)), EndpointKind::Anthropic) => fit.clone(),
            _ => match &hold {
                Some(_) => body.clone().unwrap_or_default(),
                None => body.take().unwrap_or_default(),
            },
        };
        // The key this attempt sends: its failure is that key's, even if the slot is read
        // again meanwhile (a 401 of an old key must not reject the new one).
        let key = u.key.current();
        match attempt(
            proxy,
            client,
            table,
            parts,
            this_body,
            meta,
            &candidate,
            i,
            &key,
            reservation,
        )
        .await
        {
            Attempt::Commit(response) => return response,
            Attempt::Failed { failure, response } => {
                u.metrics.attempt(match &response {
                    Some(r) if r.status.is_success() => AttemptResult::ErrorEvent,
                    Some(_) => AttemptResult::ErrorStatus,
                    None => AttemptResult::NoResponse,
                });
                let reason = failure.reason().to_owned();
                let resort = if candidate.last_resort {
                    " (last resort)"
                } else {
                    ""
                };
                tracing::warn!(endpoint = %u.id, attempt = i, "attempt failed{resort}: {reason}");
                u.stats.record_error(&reason);
                let now = Instant::now();
                let policy = table.breaker_policy();
                // A refused key read through a reference is read again (it may have rotated).
                u.key.heard(&failure);
                let opened = if candidate.last_resort {
                    u.breaker.last_resort_failed(&failure, policy, key.fp, now)
                } else {
                    u.breaker.failure(&failure, policy, key.fp, now)
                };
                if opened {
                    router.changed.notify_one();
                    router.evaluate(table, now);
                }
                tried.push(Tried::Attempt {
                    endpoint: u.id.clone(),
                    reason,
                });
                if response.is_some() {
                    last_response = response;
                }
            }
        }
    }
    let attempts = tried
        .iter()
        .filter(|t| matches!(t, Tried::Attempt { .. }))
        .count();
    // Counted as answered: the error that went back, from whom.
    let answered_by = last_response.as_ref().map(|r| r.endpoint.clone());
    let only_limited = attempts == 0
        && last_response.is_none()
        && tried.iter().any(|t| matches!(t, Tried::Limited { .. }));
    let mut response = match last_response {
        Some(r) => pass_on(r, attempts),
        None if only_limited => all_limited(&tried),
        None => all_failed(table, &tried, attempts),
    };
    if let Some(t) = meta.tally(attempts, None, response.status()) {
        let by = answered_by.and_then(|id| table.all.iter().find(|u| u.id == id));
        let (endpoint, profile) = match by {
            Some(u) => (u.shared_id.clone(), u.shared_profile.clone()),
            None => (
                std::sync::Arc::from("-"),
                std::sync::Arc::from(proxy.router.tier_state().serving.as_str()),
            ),
        };
        let none = crate::usage::Reported::Tokens(Default::default());
        t.close(&endpoint, &profile, none, false);
    }
    // Every endpoint at a limit: the client is told when to come back, nothing is queued.
    if let (true, Some(body), false) = (enqueue, body, only_limited) {
        let error = tried
            .last()
            .map_or_else(|| "no endpoint available".to_owned(), Tried::to_string);
        queue_failed(proxy, table, parts, body, meta, error, &mut response).await;
    }
    response
}

/// What became of one candidate of a request that failed everywhere.
enum Tried {
    /// Sent, and failed before the commit point.
    Attempt { endpoint: String, reason: String },
    /// Not sent: the endpoint is at a limit (not an attempt, not a failure).
    Limited {
        endpoint: String,
        held: crate::upstream::limits::Held,
    },
    /// Not sent: the request stopped trying.
    Skipped(Skip),
    /// Not sent: another daemon opened its breaker (it is opened here too).
    OpenElsewhere { endpoint: String, reason: String },
}

/// Ask the shared state about sending to `candidate` (counted when it may go): `Some`
/// when it is skipped; the request is of about `estimate` tokens. A last
/// resort is sent whatever another daemon's breaker says, as one opened here would be; a
/// limit holds for it too. An endpoint found at a shared limit is held here as well until
/// it frees (`limited`; not asked again meanwhile).
async fn shared_admission(proxy: &Proxy, candidate: &Candidate, estimate: u64) -> Option<Tried> {
    let u = &candidate.upstream;
    let limits = u
        .limits
        .as_ref()
        .map(crate::shared::Limits::from)
        .unwrap_or_default();
    match proxy.shared.admit(&u.id, &limits, estimate).await? {
        crate::shared::Verdict::Go => None,
        crate::shared::Verdict::Limited { reason, wait } => {
            tracing::debug!(endpoint = %u.id, "limited across the daemons, skipped: {reason}");
            let held = crate::upstream::limits::Held {
                until_ms: crate::upstream::limits::unix_ms() + wait.as_millis() as u64,
                reason: format!("{reason}, across the daemons sharing it"),
            };
            u.limiter.hold_shared(held.until_ms, held.reason.clone());
            Some(Tried::Limited {
                endpoint: u.id.clone(),
                held,
            })
        }
        crate::shared::Verdict::Open { .. } if candidate.last_resort => None,
        crate::shared::Verdict::Open {
            left,
            cause,
            reason,
        } => {
            let now = Instant::now();
            let cause = match cause {
                crate::shared::TripCause::Failures => crate::upstream::breaker::Cause::Failures,
                crate::shared::TripCause::RetryAfter => crate::upstream::breaker::Cause::RetryAfter,
                crate::shared::TripCause::Billing => crate::upstream::breaker::Cause::Billing,
            };
            if u.breaker.open_shared(now + left, cause, &reason, now) {
                tracing::info!(endpoint = %u.id, "breaker opened by another daemon for {} s: {reason}", left.as_secs());
                proxy.router.changed.notify_one();
            }
            Some(Tried::OpenElsewhere {
                endpoint: u.id.clone(),
                reason: format!("breaker open on another daemon after {reason}"),
            })
        }
    }
}

/// Why a request stopped trying before its candidates ran out.
#[derive(Clone, Copy)]
enum Skip {
    Deadline,
    Budget,
}

impl Tried {
    /// The endpoint it names, when it is not to be tried again as a last resort.
    fn endpoint(&self) -> Option<&str> {
        match self {
            Tried::Attempt { endpoint, .. } | Tried::Limited { endpoint, .. } => Some(endpoint),
            Tried::Skipped(_) | Tried::OpenElsewhere { .. } => None,
        }
    }
}

impl std::fmt::Display for Tried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tried::Attempt { endpoint, reason } => write!(f, "{endpoint}: {reason}"),
            Tried::Limited { endpoint, held } => write!(f, "{endpoint}: limited ({})", held.reason),
            Tried::Skipped(Skip::Deadline) => f.write_str("retry deadline passed"),
            Tried::Skipped(Skip::Budget) => f.write_str("retry budget exhausted"),
            Tried::OpenElsewhere { endpoint, reason } => write!(f, "{endpoint}: {reason}"),
        }
    }
}

/// Bytes of request bodies the proxy holds for possible retries, against a budget: a
/// thousand streams opened at once must not each keep a 75 KB body until their first event.
struct RetryHold<'a> {
    held: &'a std::sync::atomic::AtomicU64,
    bytes: u64,
}

impl<'a> RetryHold<'a> {
    fn acquire(proxy: &'a Proxy, bytes: u64, budget: u64) -> Option<Self> {
        let held = &proxy.retry_bytes;
        let after = held.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if after > budget && after > bytes {
            held.fetch_sub(bytes, Ordering::Relaxed);
            return None;
        }
        Some(Self { held, bytes })
    }
}

impl Drop for RetryHold<'_> {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Step 7's epilogue: keep a request that failed everywhere for replay, as the queue policy
/// says, and tell the client its id in `x-qcc-queue-id`. The files are written on the
/// blocking pool.
async fn queue_failed(
    proxy: &Proxy,
    table: &RouteTable,
    parts: &http::request::Parts,
    body: RequestBody,
    meta: &RequestMeta,
    error: String,
    response: &mut Response<ProxyBody>,
) {
    let settings = table.queue.clone();
    let wanted = match settings.mode {
        QueueMode::All => true,
        QueueMode::NonStreaming => !meta.stream,
        QueueMode::None => false,
    };
    let Some(queue) = proxy.queue.clone().filter(|_| wanted) else {
        return;
    };
    let new = NewItem {
        id: String::new(),
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned(),
        headers: storable_headers(&parts.headers),
        stream: meta.stream,
        body_bytes: 0,
        error,
    };
    let stored =
        tokio::task::spawn_blocking(move || queue.enqueue(new, &body.contiguous(), &settings))
            .await;
    match stored {
        Ok(Ok((id, evicted))) => {
            tracing::info!(queue_id = %id, "request failed everywhere; queued for replay");
            if !evicted.is_empty() {
                tracing::warn!("queue limits reached: evicted the oldest {evicted:?}");
            }
            if let Ok(v) = HeaderValue::from_str(&id) {
                response.headers_mut().insert("x-qcc-queue-id", v);
            }
        }
        Ok(Err(e)) => tracing::error!("could not queue a failed request: {e}"),
        Err(e) => tracing::error!("queueing task failed: {e}"),
    }
}

/// One attempt at one endpoint, up to the commit point.
#[allow(clippy::too_many_arguments)]
async fn attempt(
    proxy: &Proxy,
    client: &UpstreamClient,
    table: &RouteTable,
    parts: &http::request::Parts,
    body: RequestBody,
    meta: &RequestMeta,
    candidate: &Candidate,
    number: usize,
    key: &KeyState,
    reservation: Option<crate::upstream::limits::Reservation>,
) -> Attempt {
    let u = &candidate.upstream;
    let Some(credential) = &key.credential else {
        // Read as unavailable since it was chosen: nothing is sent without a key.
        let why = key.error.as_deref().unwrap_or("no key");
        return failed(format!("key not available ({why})"));
    };
    let settings = &table.settings;
    let header_timeout = Duration::from_secs(if meta.stream {
        settings.stream_header_timeout_secs
    } else {
        settings.header_timeout_secs
    });
    if u.kind == EndpointKind::Openai {
        return openai::attempt(
            proxy,
            client,
            table,
            parts,
            body,
            meta,
            candidate,
            number,
            credential,
            header_timeout,
            reservation,
        )
        .await;
    }
    // A model map renames the model for this endpoint; the answer names the asked one.
    let (body, mapped) = match crate::proxy::model_map::rewrite(&body, &u.models) {
        Some((body, asked, sent)) => {
            if u.stats.note_model(&asked, &sent) {
                tracing::info!(endpoint = %u.id, "model {asked} sent as {sent}");
            }
            (body, Some((asked, sent)))
        }
        None => (body, None),
    };
    let sent_model = mapped.as_ref().map(|(_, sent)| sent.clone());
    let renamed = mapped.filter(|_| !u.report_upstream_model);
    let in_flight = u.stats.begin();
    let started = Instant::now();
    let _ = meta.first_sent.set(started);
    let build = || -> Result<Request<crate::proxy::request_body::Outgoing>, String> {
        let uri = u
            .base
            .uri_for(parts.uri.path_and_query())
            .map_err(|e| format!("cannot build the upstream URL: {e}"))?;
        let mut request = Request::new(body.outgoing());
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = request_headers(&parts.headers, credential);
        Ok(request)
    };
    let sent = send(client, u, header_timeout, started, build).await;
    drop(body);
    let response = match sent {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let (head, mut upstream_body) = response.into_parts();
    let status = head.status;
    let headers = head.headers;
    // What the provider announces of its limits (the headers go on to the client as they are).
    u.limiter.hear(&headers);
    if classify_status(status) == Verdict::Retry {
        let body = read_bounded(upstream_body, MAX_ERROR_BODY, Duration::from_secs(10)).await;
        return Attempt::Failed {
            failure: failure_for(status, &headers, &body),
            response: Some(Buffered {
                endpoint: u.id.clone(),
                status,
                headers,
                body,
            }),
        };
    }
    let latency = started.elapsed();
    let sse = is_sse(&headers);
    let mut prefix = None;
    if sse && status.is_success() {
        let left = header_timeout.saturating_sub(started.elapsed());
        match first_event(&mut upstream_body, left).await {
            Ok(first) if sse::is_error(&first) => {
                return Attempt::Failed {
                    failure: Failure::Transient("the stream's first event was an error".into()),
                    response: Some(Buffered {
                        endpoint: u.id.clone(),
                        status,
                        headers,
                        body: first,
                    }),
                };
            }
            Ok(first) => prefix = Some(first),
            Err(reason) => return failed(reason),
        }
    }
    // The commit point.
    commit_point(
        proxy,
        candidate,
        meta,
        latency,
        started.elapsed(),
        number,
        status,
    );
    // A whole answer's first bytes came with its headers, but hyper's client hands them
    // over a turn or two later: take them if they are there by then, so that the head and
    // the body leave in one write (two otherwise). Never waits for data that has not come.
    // Likewise, whatever else (or the end) is already there goes with it.
    let mut ended = None;
    let mut then = None;
    if !upstream_body.is_end_stream() {
        match ready_chunk(&mut upstream_body).await {
            Some(Some(Ok(chunk))) if prefix.is_none() => prefix = Some(chunk),
            Some(Some(Ok(chunk))) => then = Some(chunk),
            Some(Some(Err(e))) => ended = Some(Some(describe(&e))),
            Some(None) => ended = Some(None),
            None => {}
        }
    }
    let mut headers = headers;
    if let Some((asked, sent)) = &renamed {
        if prefix.is_none() && ended.is_none() && !upstream_body.is_end_stream() {
            // The answer's first piece names the model: wait for it (within the idle limit).
            let idle = Duration::from_secs(settings.idle_timeout_secs);
            match tokio::time::timeout(idle, next_chunk(&mut upstream_body)).await {
                Ok(Some(Ok(chunk))) => prefix = Some(chunk),
                Ok(Some(Err(e))) => ended = Some(Some(describe(&e))),
                Ok(None) => ended = Some(None),
                Err(_) => {}
            }
        }
        if let Some(p) = &prefix
            && let Some(renamed) = crate::proxy::model_map::report_asked(p, sent, asked)
        {
            let grown = renamed.len() as i64 - p.len() as i64;
            fix_content_length(&mut headers, grown);
            prefix = Some(renamed);
        }
    }
    let mut body = Passthrough::new(
        upstream_body,
        prefix,
        Duration::from_secs(settings.idle_timeout_secs),
        sse,
        u.clone(),
        table.breaker_policy(),
        in_flight,
    );
    if let Some(t) = meta.tally(number, sent_model.as_deref(), status) {
        body = body.tally(t);
    }
    if reservation.is_some() {
        body = body.reserve(reservation);
    }
    if let Some(chunk) = then {
        body = body.then(chunk);
    }
    if let Some(end) = ended {
        body = body.ended(end);
    }
    let mut out = Response::new(body.boxed_unsync());
    *out.status_mut() = status;
    *out.headers_mut() = response_headers(headers);
    mark(out.headers_mut(), &u.id, number);
    Attempt::Commit(out)
}

/// Send the request `build` makes, within `timeout` for the response headers. A failure
/// on a reused pooled connection before any response byte (the upstream closed it as the
/// request went out) is not the endpoint's: the request goes once more on a fresh one.
async fn send(
    client: &UpstreamClient,
    u: &crate::upstream::Upstream,
    timeout: Duration,
    started: Instant,
    build: impl Fn() -> Result<Request<crate::proxy::request_body::Outgoing>, String>,
) -> Result<Response<Incoming>, String> {
    let mut sent = tokio::time::timeout(timeout, client.request(build()?)).await;
    if let Ok(Err(e)) = &sent
        && was_stale(e, started)
        && let Ok(again) = build()
    {
        tracing::debug!(endpoint = %u.id, "reused connection failed ({}); resending on a fresh one", describe(e));
        let left = timeout.saturating_sub(started.elapsed());
        sent = tokio::time::timeout(left, client.fresh(again)).await;
    }
    match sent {
        Err(_) => Err(format!(
            "no response headers within {} s",
            timeout.as_secs()
        )),
        Ok(Err(e)) => Err(describe(&e)),
        Ok(Ok(r)) => Ok(r),
    }
}

/// The commit point's bookkeeping: the endpoint's latency figures, its breaker closed, the
/// conversation pinned to it.
fn commit_point(
    proxy: &Proxy,
    candidate: &Candidate,
    meta: &RequestMeta,
    latency: Duration,
    first_byte: Duration,
    number: usize,
    status: StatusCode,
) {
    let u = &candidate.upstream;
    let _ = meta.committed.set(Instant::now());
    u.metrics.attempt(AttemptResult::Committed);
    u.metrics.latency(latency);
    u.metrics.first_token(first_byte);
    u.stats.record_latency(latency);
    u.stats.record_first_byte(first_byte);
    if u.breaker.success() {
        proxy.router.changed.notify_one();
        tracing::info!(endpoint = %u.id, "breaker closed: a request succeeded{}", if candidate.last_resort { " (last resort)" } else { "" });
    }
    if let Some(session) = &meta.session {
        proxy.router.sticky.pin(session, &u.id);
    }
    tracing::debug!(endpoint = %u.id, attempt = number, %status, "committed");
}

/// `GET /_qcc/metrics`: the Prometheus text, behind the access token like `/_qcc/status`.
async fn metrics_endpoint(proxy: &Proxy, req: &Request<Incoming>) -> Response<ProxyBody> {
    if let Some(denied) = proxy.access.check_token(req.headers()) {
        return denied;
    }
    let mut scrape = crate::metrics::Scrape {
        in_flight: proxy.in_flight(),
        ..Default::default()
    };
    let table = proxy.router.table();
    let now = Instant::now();
    scrape.endpoints = table
        .all
        .iter()
        .map(|u| (u.id.clone(), u.profile.clone(), u.state(now).0))
        .collect();
    // The queue's counts as the daemon last read them (every 2 s, for the status report):
    // a scrape reads no file.
    scrape.queue = proxy.queue_counts().map(|q| {
        vec![
            ("pending", q.pending as u64),
            ("retrying", q.retrying as u64),
            ("succeeded", q.succeeded as u64),
            ("dead", q.dead as u64),
        ]
    });
    let mut r = Response::new(full(proxy.metrics().encode(&scrape)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    r
}

/// A body that grew (or shrank) by `by` bytes keeps a true `content-length`.
fn fix_content_length(headers: &mut HeaderMap, by: i64) {
    let len = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<i64>().ok());
    if let Some(len) = len {
        headers.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from((len + by).max(0)),
        );
    }
}

/// `x-qcc-endpoint` (who answered) and `x-qcc-attempts`.
fn mark(headers: &mut HeaderMap, endpoint: &str, attempts: usize) {
    if let Ok(v) = HeaderValue::from_str(endpoint) {
        headers.insert(&X_QCC_ENDPOINT, v);
    }
    headers.insert(&X_QCC_ATTEMPTS, HeaderValue::from(attempts));
}

fn is_sse(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Read a (small) body whole, within a size cap and a time limit.
async fn read_bounded(mut body: Incoming, cap: usize, limit: Duration) -> Bytes {
    let mut buf = BytesMut::new();
    let read = async {
        while let Some(chunk) = next_chunk(&mut body).await {
            let Ok(chunk) = chunk else { break };
            buf.extend_from_slice(&chunk[..chunk.len().min(cap - buf.len())]);
            if buf.len() >= cap {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(limit, read).await;
    buf.freeze()
}

/// Read until the first SSE event is complete (a blank line), the stream ends, or `limit`.
/// What was read is returned whole (it may hold more than the first event); in the usual
/// case, one chunk holding the whole event, it is that chunk, not a copy.
async fn first_event(body: &mut Incoming, limit: Duration) -> Result<Bytes, String> {
    let read = async {
        let mut buf = BytesMut::new();
        loop {
            match next_chunk(body).await {
                Some(Ok(chunk)) if buf.is_empty() && first_event_read(&chunk) => {
                    return Ok(chunk);
                }
                Some(Ok(chunk)) => {
                    buf.extend_from_slice(&chunk);
                    if first_event_read(&buf) {
                        return Ok(buf.freeze());
                    }
                }
                Some(Err(e)) => {
                    return Err(format!(
                        "stream failed before its first event: {}",
                        describe(&e)
                    ));
                }
                None => return Ok(buf.freeze()),
            }
        }
    };
    match tokio::time::timeout(limit, read).await {
        Err(_) => Err(format!("no first event within {} s", limit.as_secs())),
        Ok(Err(e)) => Err(e),
        Ok(Ok(first)) if first.is_empty() => Err("the stream ended before its first event".into()),
        Ok(Ok(first)) => Ok(first),
    }
}

/// Whether `read` holds a whole SSE event (it has a blank line) or is as much as is looked at.
fn first_event_read(read: &[u8]) -> bool {
    read.len() >= MAX_FIRST_EVENT || sse::event_end(read).is_some()
}

/// The body's next chunk if it is there within [`READY_TURNS`] turns of the runtime (the
/// upstream connection's task passing on what it has read); `None` if it is not yet.
async fn ready_chunk(body: &mut Incoming) -> Option<Option<Result<Bytes, hyper::Error>>> {
    for turn in 0..=READY_TURNS {
        if let Poll::Ready(chunk) =
            std::future::poll_fn(|cx| Poll::Ready(poll_chunk(body, cx))).await
        {
            return Some(chunk);
        }
        if turn < READY_TURNS {
            tokio::task::yield_now().await;
        }
    }
    None
}

/// The next data chunk of an upstream body (other frames skipped); `None` at its end.
async fn next_chunk(body: &mut Incoming) -> Option<Result<Bytes, hyper::Error>> {
    std::future::poll_fn(|cx| poll_chunk(body, cx)).await
}

/// Pass an upstream error response on unchanged (plus our two headers).
fn pass_on(r: Buffered, attempts: usize) -> Response<ProxyBody> {
    let mut out = Response::new(full(r.body));
    *out.status_mut() = r.status;
    let mut headers = response_headers(r.headers);
    headers.remove(http::header::CONTENT_LENGTH);
    mark(&mut headers, &r.endpoint, attempts);
    *out.headers_mut() = headers;
    out
}

/// No attempt got an upstream response to pass on: 503, `retry-after` from the soonest
/// cooldown (1–60 s), and what happened to each endpoint.
fn all_failed(table: &RouteTable, tried: &[Tried], attempts: usize) -> Response<ProxyBody> {
    let now = Instant::now();
    let soonest = table
        .all
        .iter()
        .filter(|u| u.enabled)
        .filter_map(|u| u.breaker.view(u.key_fp(), now).cooldown_left)
        .min()
        .map_or(10, |d| d.as_secs_f64().ceil() as u64)
        .clamp(1, 60);
    let message = if tried.is_empty() {
        "qcc: no endpoint is available (every one is disabled, has its key rejected or is held \
         after a billing error; see `qcc proxy status`)"
            .to_owned()
    } else {
        let list: Vec<String> = tried.iter().map(Tried::to_string).collect();
        format!("qcc: every endpoint tried failed ({})", list.join("; "))
    };
    let mut r = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded_error",
        &message,
    );
    r.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(soonest));
    r.headers_mut()
        .insert(&X_QCC_ATTEMPTS, HeaderValue::from(attempts));
    r
}

/// Every candidate was at a limit (none was sent to): 429 `rate_limit_error`, with a
/// `retry-after` for the soonest reset (whole seconds, at least 1).
fn all_limited(tried: &[Tried]) -> Response<ProxyBody> {
    let now = crate::upstream::limits::unix_ms();
    let held: Vec<_> = tried
        .iter()
        .filter_map(|t| match t {
            Tried::Limited { endpoint, held } => Some((endpoint, held)),
            _ => None,
        })
        .collect();
    let soonest = held
        .iter()
        .map(|(_, h)| h.secs_left(now))
        .min()
        .unwrap_or(1);
    let list: Vec<String> = held
        .iter()
        .map(|(e, h)| format!("{e}: {}", h.reason))
        .collect();
    let mut r = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_error",
        &format!(
            "qcc: every endpoint is at a limit ({}); the soonest resets in {soonest} s",
            list.join("; ")
        ),
    );
    r.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(soonest));
    r.headers_mut()
        .insert(&X_QCC_ATTEMPTS, HeaderValue::from(0));
    r
}

/// `/_qcc/health` and `/_qcc/status`.
fn own_endpoint(proxy: &Proxy, req: &Request<Incoming>) -> Response<ProxyBody> {
    let json = |v: serde_json::Value| {
        let mut r = Response::new(full(serde_json::to_vec(&v).expect("json")));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        crate::proxy::page::no_store(r.headers_mut());
        r
    };
    let path = req.uri().path();
    match path {
        "/_qcc/health" => json(serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
        })),
        "/_qcc/status" | "/_qcc/usage" => {
            if let Some(denied) = proxy.access.check_token(req.headers()) {
                return denied;
            }
            if path == "/_qcc/status" {
                json(serde_json::to_value(proxy.status_report()).expect("json"))
            } else {
                json(serde_json::to_value(proxy.usage_summary()).expect("json"))
            }
        }
        _ => match crate::proxy::page::asset(path) {
            Some((content_type, body)) => {
                crate::proxy::page::serve(req.method(), content_type, body)
            }
            None => error_response(
                StatusCode::NOT_FOUND,
                "not_found_error",
                "qcc: unknown proxy endpoint (try /_qcc/ for the status page, /_qcc/health, \
                 /_qcc/status, /_qcc/usage or /_qcc/metrics)",
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_reads_stream_and_session() {
        let table = crate::proxy::routing::test_table(&["https://a.example"]);
        let body = Bytes::from_static(
            br#"{"stream":true,"metadata":{"user_id":"{\"session_id\":\"s-9\"}"},"messages":[]}"#,
        );
        let m = RequestMeta::read(
            &Method::POST,
            "/v1/messages",
            &HeaderMap::new(),
            &RequestBody::from(body),
            &table,
            None,
            Instant::now(),
        );
        assert!(m.stream);
        assert_eq!(m.session.as_deref(), Some("s-9"));
        let mut h = HeaderMap::new();
        h.insert("x-claude-code-session-id", "hdr".parse().unwrap());
        let m = RequestMeta::read(
            &Method::POST,
            "/v1/messages",
            &h,
            &RequestBody::from(Bytes::from_static(b"not json")),
            &table,
            None,
            Instant::now(),
        );
        assert!(!m.stream);
        assert_eq!(m.session.as_deref(), Some("hdr"));
    }

    #[test]
    fn meta_reads_the_model_only_when_there_are_routes() {
        let body = || RequestBody::from(Bytes::from_static(br#"{"model":"claude-haiku-4-5"}"#));
        let mut h = HeaderMap::new();
        h.insert("x-claude-code-session-id", "conv".parse().unwrap());
        let plain = crate::proxy::routing::test_table(&["https://a.example"]);
        let m = RequestMeta::read(
            &Method::POST,
            "/v1/messages",
            &h,
            &body(),
            &plain,
            None,
            Instant::now(),
        );
        assert_eq!((m.model, m.session.as_deref()), (None, Some("conv")));
        let mut config = crate::state::Config::default();
        config
            .add_profile("p", None, Default::default(), chrono::Utc::now())
            .unwrap();
        config.add_route("claude-haiku-*", "p", None).unwrap();
        let routed = RouteTable::build(
            &config,
            &crate::upstream::stats::StatsRegistry::default(),
            &crate::upstream::keys::KeyRegistry::default(),
        )
        .unwrap();
        let m = RequestMeta::read(
            &Method::POST,
            "/v1/messages",
            &h,
            &body(),
            &routed,
            None,
            Instant::now(),
        );
        assert_eq!(m.model.as_deref(), Some("claude-haiku-4-5"));
        assert_eq!(
            m.session,
            routed.sticky_key(Some("conv".into()), m.model.as_deref())
        );
        assert_ne!(m.session.as_deref(), Some("conv"), "a pin of its own");
        let m = RequestMeta::read(
            &Method::GET,
            "/v1/messages",
            &h,
            &body(),
            &routed,
            None,
            Instant::now(),
        );
        assert_eq!((m.model, m.session.as_deref()), (None, Some("conv")));
    }
}
