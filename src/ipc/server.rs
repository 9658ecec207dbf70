//! The daemon's side of the control socket: accept connections, exchange hellos, and hand
//! each request to a handler. Runs on the daemon's tokio runtime.

use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::ipc::protocol::{Hello, MAX_FRAME, Request, Response, encode};

/// How long a new control connection may take to say hello.
const HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Pause after a failed accept.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);

/// Serve the control socket until the listener fails or the task is dropped.
/// `handle` answers one request; a `Stop` response keeps the connection open (the process
/// exit closes it, which is how `qcc proxy stop` learns the daemon is gone).
pub async fn serve<H, F>(listener: UnixListener, handle: Arc<H>)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors (EMFILE) and the like: back off instead of spinning.
                tracing::warn!("control socket: accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, handle).await {
                tracing::debug!("control connection ended: {e}");
            }
        });
    }
}

async fn read_frame(
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    let n = reader
        .take(MAX_FRAME as u64 + 1)
        .read_line(&mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if n > MAX_FRAME {
        return Err(std::io::Error::other("frame too large"));
    }
    Ok(Some(line))
}

async fn connection<H, F>(stream: UnixStream, handle: Arc<H>) -> std::io::Result<()>
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send,
{
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    // Always answer with our hello first, so that an older or newer CLI can tell. A peer
    // that sends no hello in time is dropped (it would hold a task forever).
    let Ok(hello) = tokio::time::timeout(HELLO_TIMEOUT, read_frame(&mut reader)).await else {
        return Ok(());
    };
    let Some(line) = hello? else {
        return Ok(());
    };
    write.write_all(&encode(&Hello::ours())).await?;
    if serde_json::from_str::<Hello>(&line).is_err() {
        return Ok(());
    }
    while let Some(line) = read_frame(&mut reader).await? {
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(request) => handle(request).await,
            Err(e) => Response::Error {
                message: format!("unknown request ({e}); run `qcc proxy restart`"),
            },
        };
        let stopping = response == Response::Stopping;
        write.write_all(&encode(&response)).await?;
        if stopping {
            // Hold the connection until the process exits.
            std::future::pending::<()>().await;
        }
    }
    Ok(())
}
