//! The CLI's side of the control socket: synchronous, with timeouts, typed errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::ipc::protocol::{Hello, MAX_FRAME, PROTOCOL_VERSION, Request, Response, encode};

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
}

impl IpcError {
    pub fn hint(&self) -> Option<String> {
        match self {
            IpcError::NotRunning => Some("start it with `qcc proxy start`".into()),
            IpcError::VersionMismatch { .. } | IpcError::Protocol(_) => {
                Some("run `qcc proxy restart` to start the daemon of this qcc version".into())
            }
            IpcError::Io(_) => Some("see `qcc proxy logs`".into()),
        }
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
