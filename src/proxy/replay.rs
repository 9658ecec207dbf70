//! Replaying queued requests through the proxy's normal routing (tiers, breakers, retry
//! budget) — in the daemon, or in the CLI when no daemon runs. A batch first claims every
//! item it will send (so a concurrent batch never sends the same item), then replays them
//! a few at a time and records each outcome as it ends.
//!
//! `qcc queue retry` / `retry-all` are the user saying "try now": before such a batch every
//! open breaker's cooldown ends at once ([`Breaker::expedite`]), so each open endpoint's
//! next request is its trial and the replays go to whatever answers. The daemon's own
//! background retries ([`Selection::Due`]) leave the breakers alone.
//!
//! [`Breaker::expedite`]: crate::upstream::breaker::Breaker::expedite

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};

use crate::report::queue::{ItemResult, RetrySummary};

use crate::proxy::Proxy;
use crate::proxy::forward::dispatch;
use crate::queue::model::{ItemState, Outcome, QueueItem, StoredResponse};
use crate::queue::store::{QueueError, QueueStore};

/// Which items a batch takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Selection {
    /// These ids (pending or dead).
    Ids(Vec<String>),
    /// Every pending item.
    AllPending,
    /// Pending items whose next attempt time has come (the daemon's background retries).
    Due,
}

/// Replay one claimed item: (outcome, response body to store).
pub async fn replay(proxy: &Proxy, item: &QueueItem, body: Vec<u8>) -> (Outcome, Option<Bytes>) {
    let mut headers = HeaderMap::new();
    for (k, v) in &item.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.append(k, v);
        }
    }
    let method = Method::from_bytes(item.method.as_bytes()).unwrap_or(Method::POST);
    let response = match dispatch(proxy, method, &item.path, headers, Bytes::from(body)).await {
        Ok(r) => r,
        Err(e) => {
            return (
                Outcome::Rejected(format!("cannot rebuild the request: {e}")),
                None,
            );
        }
    };
    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let endpoint = response
        .headers()
        .get("x-qcc-endpoint")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match response.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return (
                Outcome::Failed(format!("the response broke off: {e}")),
                None,
            );
        }
    };
    let code = status.as_u16();
    if status.is_success() {
        let sse = headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream"));
        if sse && crate::sse::contains_error(&body) {
            return (
                Outcome::Failed("the stream ended with an error event".into()),
                None,
            );
        }
        let stored = StoredResponse {
            status: code,
            headers,
            bytes: body.len() as u64,
            endpoint,
            at: chrono::Utc::now(),
        };
        return (Outcome::Succeeded(stored), Some(body));
    }
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .map_or_else(|| format!("HTTP {code}"), |m| format!("HTTP {code}: {m}"));
    match crate::proxy::retry::classify_status(status) {
        // Other 4xx: the request itself is refused; sending it again cannot help.
        crate::proxy::retry::Verdict::Deliver if status.is_client_error() => {
            (Outcome::Rejected(message), None)
        }
        _ => (Outcome::Failed(message), None),
    }
}

/// Claim the selected items and replay them, `concurrency` at a time; `on_item` hears of
/// each as it ends.
pub async fn run(
    proxy: Arc<Proxy>,
    queue: QueueStore,
    selection: Selection,
    concurrency: usize,
    on_item: impl Fn(&ItemResult, usize) + Send + Sync,
) -> Result<RetrySummary, QueueError> {
    let q = queue.clone();
    let selection_is_manual = selection != Selection::Due;
    let (claimer, items) = tokio::task::spawn_blocking(move || {
        let claimer = q.claimer()?;
        let (which, due_only) = match &selection {
            Selection::Ids(ids) => (Some(ids.as_slice()), false),
            Selection::AllPending => (None, false),
            Selection::Due => (None, true),
        };
        let items = q.claim(which, due_only, &claimer)?;
        Ok::<_, QueueError>((claimer, items))
    })
    .await
    .map_err(|e| {
        QueueError::Store(crate::state::StoreError::Io {
            action: "run",
            path: "queue".into(),
            source: std::io::Error::other(e),
        })
    })??;
    let total = items.len();
    if total > 0 && selection_is_manual {
        let now = std::time::Instant::now();
        for u in proxy.routes().all.iter().filter(|u| u.enabled) {
            u.breaker.expedite(now);
        }
    }
    let results: Vec<ItemResult> = futures_util::stream::iter(items)
        .map(|item| {
            let proxy = proxy.clone();
            let queue = queue.clone();
            async move { replay_and_record(&proxy, &queue, item).await }
        })
        .buffer_unordered(concurrency.max(1))
        .inspect(|r| on_item(r, total))
        .collect()
        .await;
    drop(claimer);
    let count = |s: ItemState| results.iter().filter(|r| r.state == s).count();
    Ok(RetrySummary {
        attempted: results.len(),
        succeeded: count(ItemState::Succeeded),
        failed: count(ItemState::Pending),
        dead: count(ItemState::Dead),
        items: results,
    })
}

async fn replay_and_record(proxy: &Proxy, queue: &QueueStore, item: QueueItem) -> ItemResult {
    let q = queue.clone();
    let id = item.id.clone();
    let body = match tokio::task::spawn_blocking(move || q.body(&id)).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return recorded(proxy, queue, &item, Outcome::Rejected(e.to_string()), None).await;
        }
        Err(e) => return recorded(proxy, queue, &item, Outcome::Failed(e.to_string()), None).await,
    };
    let (outcome, body) = replay(proxy, &item, body).await;
    recorded(proxy, queue, &item, outcome, body).await
}

async fn recorded(
    proxy: &Proxy,
    queue: &QueueStore,
    item: &QueueItem,
    outcome: Outcome,
    body: Option<Bytes>,
) -> ItemResult {
    let settings = proxy.routes().queue.clone();
    let status = match &outcome {
        Outcome::Succeeded(r) => Some(r.status),
        _ => None,
    };
    let error = match &outcome {
        Outcome::Failed(e) | Outcome::Rejected(e) => Some(e.clone()),
        Outcome::Succeeded(_) => None,
    };
    let q = queue.clone();
    let id = item.id.clone();
    let written = tokio::task::spawn_blocking(move || {
        q.record(&id, outcome, body.as_deref(), &settings)?;
        q.find(&id).map(|i| i.state)
    })
    .await;
    let state = match written {
        Ok(Ok(state)) => state,
        Ok(Err(e)) => {
            tracing::error!(queue_id = %item.id, "could not record a replay: {e}");
            ItemState::Pending
        }
        Err(e) => {
            tracing::error!(queue_id = %item.id, "recording task failed: {e}");
            ItemState::Pending
        }
    };
    ItemResult {
        id: item.id.clone(),
        state,
        status,
        error,
    }
}
