//! The control channel between the CLI and the daemon: a Unix socket (mode 0600) in the
//! runtime dir carrying newline-delimited JSON frames.
//!
//! [`protocol`] holds the typed messages both sides share; [`client`] is the CLI's
//! synchronous side; [`server`] is the daemon's async accept loop. The first exchange is a
//! [`protocol::Hello`] carrying [`protocol::PROTOCOL_VERSION`]; on a mismatch the CLI tells
//! the user to run `qcc proxy restart`.

pub mod client;
pub mod protocol;
pub mod server;
