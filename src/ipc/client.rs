//! The CLI's side of the control socket: synchronous, with timeouts, typed calls (one per
//! request: [`Client::status`], [`Client::reload`], …) and typed errors. An answer of the
//! wrong kind is an error ([`IpcError::Unexpected`]), never ignored.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::ipc::protocol::{Hello, MAX_FRAME, PROTOCOL_VERSION, Request, Response, encode};
use crate::report::health::{HealthReport, ProbeReport};
use crate::report::queue::RetrySummary;
use crate::report::status::StatusReport;

#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error("the qcc daemon is not running")]
    NotRunning,
    #[error(
        "the running daemon speaks control protocol {daemon} (qcc {daemon_version}); this qcc speaks {PROTOCOL_VERSION}"
    )]
    VersionMismatch { daemon: u32, daemon_version: String },
    #[error("talking to the daemon failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the daemon sent something this qcc does not understand: {0}")]
    Protocol(String),
    /// The daemon understood the request and refused it.
    #[error("{0}")]
    Daemon(String),
    /// The daemon answered with a response of another kind.
    #[error("unexpected answer from the daemon: {0}")]
    Unexpected(String),
}

impl IpcError {
    pub fn hint(&self) -> Option<String> {
        match self {
            IpcError::NotRunning => Some("start it with `qcc proxy start`".into()),
            IpcError::VersionMismatch { .. } | IpcError::Protocol(_) | IpcError::Unexpected(_) => {
                Some("run `qcc proxy restart` to start the daemon of this qcc version".into())
            }
            IpcError::Io(_) => Some("see `qcc proxy logs`".into()),
            IpcError::Daemon(_) => None,
        }
    }
}

/// The error for an answer that is not the one asked for: the daemon's own refusal, or a
/// response of another kind.
fn unexpected(r: Response) -> IpcError {
    match r {
        Response::Error { message } => IpcError::Daemon(message),
        other => IpcError::Unexpected(format!("{other:?}").chars().take(200).collect()),
    }
}

/// A handshaken connection to the daemon.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connect and exchange hellos. `timeout` bounds each read and write.
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Self, IpcError> {
        let stream = match UnixStream::connect(socket) {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(IpcError::NotRunning);
            }
            Err(e) => return Err(e.into()),
        };
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut client = Self {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        };
        client.writer.write_all(&encode(&Hello::ours()))?;
        let line = client.read_frame()?.ok_or(IpcError::NotRunning)?;
        let hello: Hello = serde_json::from_str(&line)
            .map_err(|_| IpcError::Protocol(line.chars().take(200).collect()))?;
        if hello.protocol != PROTOCOL_VERSION {
            return Err(IpcError::VersionMismatch {
                daemon: hello.protocol,
                daemon_version: hello.version,
            });
        }
        Ok(client)
    }

    fn read_frame(&mut self) -> Result<Option<String>, IpcError> {
        let mut line = String::new();
        let n = (&mut self.reader)
            .take(MAX_FRAME as u64 + 1)
            .read_line(&mut line)?;
        if n == 0 {
            return Ok(None);
        }
        if n > MAX_FRAME {
            return Err(IpcError::Protocol("frame too large".into()));
        }
        Ok(Some(line))
    }

    /// Send one request and read its response.
    pub fn call(&mut self, request: &Request) -> Result<Response, IpcError> {
        self.writer.write_all(&encode(request))?;
        let line = self
            .read_frame()?
            .ok_or_else(|| IpcError::Protocol("the daemon closed the connection".into()))?;
        serde_json::from_str(&line)
            .map_err(|_| IpcError::Protocol(line.chars().take(200).collect()))
    }

    /// Today's usage and the chart series (what `/_qcc/usage` serves).
    pub fn usage(&mut self) -> Result<crate::report::usage::UsageSummary, IpcError> {
        match self.call(&Request::Usage)? {
            Response::Usage(u) => Ok(*u),
            other => Err(unexpected(other)),
        }
    }

    /// `qcc proxy status`.
    pub fn status(&mut self) -> Result<StatusReport, IpcError> {
        match self.call(&Request::Status)? {
            Response::Status(s) => Ok(*s),
            other => Err(unexpected(other)),
        }
    }

    /// Re-read the config now. `Ok(Some(why))`: the daemon refused the new config and keeps
    /// the old one.
    pub fn reload(&mut self) -> Result<Option<String>, IpcError> {
        match self.call(&Request::Reload)? {
            Response::Reloaded { error } => Ok(error),
            other => Err(unexpected(other)),
        }
    }

    /// End an endpoint's billing hold (and its provider's announced hold); whether a billing
    /// hold ended.
    pub fn release(&mut self, endpoint: &str) -> Result<bool, IpcError> {
        match self.call(&Request::Release {
            endpoint: endpoint.to_owned(),
        })? {
            Response::Released { billing } => Ok(billing),
            other => Err(unexpected(other)),
        }
    }

    /// Ask the daemon to drain (up to `timeout_secs`) and exit; see [`Client::wait_closed`].
    pub fn stop(&mut self, timeout_secs: u64) -> Result<(), IpcError> {
        match self.call(&Request::Stop { timeout_secs })? {
            Response::Stopping => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Every endpoint's health figures and histories.
    pub fn health(&mut self) -> Result<HealthReport, IpcError> {
        match self.call(&Request::Health)? {
            Response::Health(r) => Ok(*r),
            other => Err(unexpected(other)),
        }
    }

    /// Probe one endpoint (its id) or every enabled one now.
    pub fn probe(&mut self, endpoint: Option<String>) -> Result<Vec<ProbeReport>, IpcError> {
        match self.call(&Request::ProbeNow { endpoint })? {
            Response::Probed { results } => Ok(results),
            other => Err(unexpected(other)),
        }
    }

    /// Replay these queued items, or every pending one.
    pub fn queue_retry(&mut self, ids: Option<Vec<String>>) -> Result<RetrySummary, IpcError> {
        match self.call(&Request::QueueRetry { ids })? {
            Response::QueueRetried(summary) => Ok(summary),
            other => Err(unexpected(other)),
        }
    }

    /// Block until the daemon closes the connection (it does so by exiting), or `timeout`.
    /// Returns whether it closed.
    pub fn wait_closed(&mut self, timeout: Duration) -> Result<bool, IpcError> {
        self.writer.set_read_timeout(Some(timeout))?;
        let mut buf = [0u8; 256];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(false);
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(true),
                Err(e) => return Err(e.into()),
            }
        }
    }
}
