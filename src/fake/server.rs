//! The network side: the accept loop, one hyper HTTP/1 connection per accepted socket, and
//! the SO_LINGER trick that turns a close into a RST.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::Shared;
use super::handle::{ConnCtx, handle};

const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Accept connections until `stop` fires (or its sender is dropped).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, _peer)) => {
                        tokio::spawn(serve_connection(stream, Arc::clone(&shared)));
                    }
                    // Out of descriptors or the like: back off instead of spinning.
                    Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
                }
            }
        }
    }
}

/// Serve HTTP/1 (keep-alive) on one socket until either side closes it.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let conn = Arc::new(ConnCtx {
        shared,
        fd: stream.as_raw_fd(),
        last_request: std::sync::Mutex::new(None),
    });
    let service = service_fn(move |request| handle(Arc::clone(&conn), request));
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Set SO_LINGER {on, 0} on `fd`, so that closing it sends a RST instead of a FIN.
///
/// `fd` must be an open socket: callers pass the socket of the connection whose service is
/// running, which hyper keeps open at least until the service future returns.
pub(crate) fn arm_reset(fd: RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let len = std::mem::size_of::<libc::linger>() as libc::socklen_t;
    let value = (&linger as *const libc::linger).cast::<libc::c_void>();
    // SAFETY: `fd` is an open socket (see above) and `value`/`len` describe a live `linger`.
    // A failure only means the close is a FIN instead of a RST, so the result is ignored.
    unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, value, len);
    }
}
