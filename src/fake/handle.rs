//! Handling one request: read and record it, take the fault due, then apply the fault or
//! route the request to its normal answer (by the fake's protocol: Anthropic Messages or
//! OpenAI Chat Completions).

use std::os::fd::RawFd;
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;

use super::body::{self, FakeBody, Outcome, Pacing};
use super::openai::{self, Completion, OPENAI_MODEL};
use super::reply::{FAKE_MODEL, Reply, input_tokens};
use super::{Fault, Protocol, Recorded, Shared, Ticket, respond, server};

/// What a connection's requests share: the fake's state and the socket (for resets).
pub(crate) struct ConnCtx {
    pub shared: Arc<Shared>,
    /// The connection's socket; open for as long as the connection polls its service.
    pub fd: RawFd,
    /// When the connection's previous request arrived (for the idle close).
    pub last_request: std::sync::Mutex<Option<std::time::Instant>>,
}

/// The service error: the connection is to be dropped without a response.
#[derive(Debug)]
pub(crate) struct Abort(&'static str);

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fake upstream: {}", self.0)
    }
}

impl std::error::Error for Abort {}

/// The routes the fake knows.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    Messages,
    CountTokens,
    /// OpenAI's `POST …/chat/completions`.
    Chat,
    Models,
    Root,
    Unknown,
}

impl Route {
    fn of(protocol: Protocol, method: &Method, path: &str) -> Route {
        let method = method.as_str();
        match protocol {
            Protocol::Anthropic => match (method, path) {
                ("POST", "/v1/messages") => Route::Messages,
                ("POST", "/v1/messages/count_tokens") => Route::CountTokens,
                ("GET", "/v1/models") => Route::Models,
                ("GET" | "HEAD", "/") => Route::Root,
                _ => Route::Unknown,
            },
            // A base URL may or may not end in /v1 (or have a prefix of its own).
            Protocol::OpenAi => match (method, path) {
                ("POST", _) if path.ends_with("/chat/completions") => Route::Chat,
                ("GET", "/v1/models" | "/models") => Route::Models,
                _ => Route::Unknown,
            },
        }
    }

    fn takes_json(self) -> bool {
        matches!(self, Route::Messages | Route::CountTokens | Route::Chat)
    }

    fn streams(self) -> bool {
        matches!(self, Route::Messages | Route::Chat)
    }
}

/// One received request, recorded, with the fault it drew.
struct Exchange {
    route: Route,
    /// `METHOD /path`, for OpenAI's 404 message.
    target: String,
    body_len: usize,
    /// The parsed body (`Value::Null` on routes without one); `None` when a JSON route's
    /// body is not JSON.
    json: Option<Value>,
    ticket: Ticket,
}

impl Exchange {
    fn streams(&self) -> bool {
        let stream = self.json.as_ref().and_then(|v| v.get("stream"));
        self.route.streams() && stream.and_then(Value::as_bool) == Some(true)
    }

    /// The reply the request gets, in model and text (the nonce echo, the renamed model).
    fn reply(&self, request: &Value, default_model: &str) -> Reply {
        let ticket = &self.ticket;
        let configured = &ticket.reply_text;
        let mut reply = Reply::for_request(
            request,
            self.body_len,
            ticket.seq,
            configured,
            default_model,
        );
        if !ticket.echo_nonce {
            reply.text.clone_from(configured);
        }
        if let Some(model) = &ticket.reply_model {
            reply.model.clone_from(model);
        }
        reply.cache = ticket.cache;
        if let Some(n) = ticket.input_tokens {
            reply.input_tokens = n;
        }
        reply
    }
}

/// The hyper service: answer `request` (or fail the connection, on a reset fault).
pub(crate) async fn handle(
    conn: Arc<ConnCtx>,
    request: Request<Incoming>,
) -> Result<Response<FakeBody>, Abort> {
    let previous = (conn.last_request.lock())
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .replace(std::time::Instant::now());
    if conn.shared.closes_idle(previous) {
        return Err(Abort("idle keep-alive connection closed"));
    }
    let (parts, incoming) = request.into_parts();
    let collected = incoming.collect().await;
    let body = collected
        .map_err(|_| Abort("request body unreadable"))?
        .to_bytes();
    let exchange = receive(&conn.shared, &parts, body);
    let outcome = Outcome::new(Arc::clone(&conn.shared));
    apply_fault(&conn, exchange, outcome).await
}

/// Record the request (taking its fault) and parse what the route needs.
fn receive(shared: &Shared, parts: &Parts, body: Bytes) -> Exchange {
    let route = Route::of(shared.protocol, &parts.method, parts.uri.path());
    let target = format!("{} {}", parts.method, parts.uri.path());
    let json = if route.takes_json() {
        serde_json::from_slice(&body).ok()
    } else {
        Some(Value::Null)
    };
    let body_len = body.len();
    let ticket = shared.record(recorded(parts, body));
    Exchange {
        route,
        target,
        body_len,
        json,
        ticket,
    }
}

fn recorded(parts: &Parts, body: Bytes) -> Recorded {
    let headers = parts.headers.iter().map(|(name, value)| {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        (name.as_str().to_owned(), value)
    });
    Recorded {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: headers.collect(),
        body,
        fault: Fault::None,
    }
}

async fn apply_fault(
    conn: &ConnCtx,
    exchange: Exchange,
    outcome: Outcome,
) -> Result<Response<FakeBody>, Abort> {
    match exchange.ticket.fault.clone() {
        Fault::ResetBeforeHeaders => Err(reset(conn, outcome)),
        Fault::DieAfterEvents(_) if !exchange.streams() => Err(reset(conn, outcome)),
        Fault::Hang => hang(outcome).await,
        Fault::Status {
            status,
            retry_after,
            message,
        } => {
            let ticket = &exchange.ticket;
            let response = respond::error(status, ticket, message.as_deref(), retry_after);
            Ok(finished(response, outcome))
        }
        Fault::ErrorEvent => {
            let event = match exchange.ticket.protocol {
                Protocol::Anthropic => respond::overloaded_event(),
                Protocol::OpenAi => openai::error_chunk(),
            };
            let body = body::event_stream(vec![event], Pacing::default(), outcome);
            Ok(respond::event_stream(&exchange.ticket, body))
        }
        Fault::DelayHeaders(delay) => {
            tokio::time::sleep(delay).await;
            Ok(route(&exchange, outcome))
        }
        Fault::None | Fault::DieAfterEvents(_) | Fault::SlowStream(_) | Fault::EndWithoutDone => {
            Ok(route(&exchange, outcome))
        }
    }
}

/// Arm a RST on the socket and fail the service, so hyper drops (closes) the socket.
fn reset(conn: &ConnCtx, outcome: Outcome) -> Abort {
    outcome.abandon();
    server::arm_reset(conn.fd);
    Abort("connection reset on purpose")
}

/// Hold the request forever; dropping this future (client gone, shutdown) drops `outcome`
/// unsettled, which counts a disconnect.
async fn hang(outcome: Outcome) -> Result<Response<FakeBody>, Abort> {
    let _outcome = outcome;
    std::future::pending().await
}

fn finished(response: Response<FakeBody>, outcome: Outcome) -> Response<FakeBody> {
    outcome.complete();
    response
}

/// The normal answer for the exchange's route.
fn route(exchange: &Exchange, outcome: Outcome) -> Response<FakeBody> {
    let ticket = &exchange.ticket;
    let Some(request) = &exchange.json else {
        let message = Some("request body is not valid JSON");
        return finished(respond::error(400, ticket, message, None), outcome);
    };
    let response = match exchange.route {
        Route::Messages => return messages(exchange, request, outcome),
        Route::Chat => return chat(exchange, request, outcome),
        Route::CountTokens => {
            let tokens = input_tokens(exchange.body_len);
            respond::json(StatusCode::OK, ticket, &respond::count_tokens(tokens))
        }
        Route::Models => {
            let models = match ticket.protocol {
                Protocol::Anthropic => respond::models(),
                Protocol::OpenAi => openai::models(),
            };
            respond::json(StatusCode::OK, ticket, &models)
        }
        Route::Root => respond::empty(ticket),
        Route::Unknown => respond::not_found(ticket, &exchange.target),
    };
    finished(response, outcome)
}

/// `POST /v1/messages`: a Message, streamed or whole.
fn messages(exchange: &Exchange, request: &Value, outcome: Outcome) -> Response<FakeBody> {
    let ticket = &exchange.ticket;
    let reply = exchange.reply(request, FAKE_MODEL);
    if !exchange.streams() {
        let response = respond::json(StatusCode::OK, ticket, &respond::message(&reply));
        return finished(response, outcome);
    }
    let mut events = respond::message_events(&reply);
    if ticket.fault == Fault::EndWithoutDone {
        // content_block_stop, message_delta, message_stop
        events.truncate(events.len().saturating_sub(3));
    }
    let body = body::event_stream(events, pacing(&ticket.fault), outcome);
    respond::event_stream(ticket, body)
}

/// `POST …/chat/completions`: a chat completion, streamed (usage when the request's
/// `stream_options.include_usage` asks for it) or whole.
fn chat(exchange: &Exchange, request: &Value, outcome: Outcome) -> Response<FakeBody> {
    let ticket = &exchange.ticket;
    let reply = exchange.reply(request, OPENAI_MODEL);
    let completion = Completion::new(reply, ticket.openai_reply.clone(), ticket.seq);
    if !exchange.streams() {
        let answer = openai::completion(&completion);
        return finished(respond::json(StatusCode::OK, ticket, &answer), outcome);
    }
    let usage = request.pointer("/stream_options/include_usage");
    let include_usage = usage.and_then(Value::as_bool) == Some(true);
    let finishes = ticket.fault != Fault::EndWithoutDone;
    let chunks = openai::stream(&completion, include_usage, finishes);
    let body = body::event_stream(chunks, pacing(&ticket.fault), outcome);
    respond::event_stream(ticket, body)
}

/// How a streamed Message misbehaves under `fault`.
fn pacing(fault: &Fault) -> Pacing {
    match *fault {
        Fault::SlowStream(delay) => Pacing {
            delay: Some(delay),
            die_after: None,
        },
        Fault::DieAfterEvents(count) => Pacing {
            delay: None,
            die_after: Some(count),
        },
        _ => Pacing::default(),
    }
}
