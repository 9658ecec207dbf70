//! Keys by reference: where an endpoint's key is read from when it is used (`env:VAR`,
//! `file:PATH`, `cmd:COMMAND`), instead of being stored in `config.json`. This module is
//! the reference as data — parsing, display, validation. Reading the value (environment,
//! file, running the command with a timeout, caching) lives in `upstream::keys`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a key is read from when it is used. Stored as its text (`env:RELAY_KEY`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum KeyRef {
    /// An environment variable of the process that uses the key (daemon or CLI).
    Env(String),
    /// A file holding the key (surrounding whitespace ignored); a leading `~/` is the home
    /// directory.
    File(String),
    /// A shell command printing the key on its first line (`sh -c`), run with a timeout;
    /// its answer is cached for `proxy.key_ttl_secs` and the command is run again when
    /// the upstream refuses the key.
    Cmd(String),
}

/// Why a reference's text is not a reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefError {
    #[error("'{0}' is not a key reference")]
    Scheme(String),
    #[error("the key reference '{0}' names nothing after its prefix")]
    Empty(String),
    #[error("'{0}' is not an environment variable name")]
    EnvName(String),
}

impl KeyRefError {
    pub fn hint(&self) -> &'static str {
        match self {
            KeyRefError::EnvName(_) => "use letters, digits and '_', not starting with a digit",
            _ => "write env:VAR, file:PATH or 'cmd:COMMAND', e.g. --key-ref 'cmd:pass show relay'",
        }
    }
}

impl KeyRef {
    pub fn parse(text: &str) -> Result<Self, KeyRefError> {
        let text = text.trim();
        let (scheme, rest) = text
            .split_once(':')
            .ok_or_else(|| KeyRefError::Scheme(text.to_owned()))?;
        let rest = rest.trim();
        if rest.is_empty() {
            return Err(KeyRefError::Empty(text.to_owned()));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "env" => {
                let mut chars = rest.chars();
                let first_ok = chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
                if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(KeyRefError::EnvName(rest.to_owned()));
                }
                Ok(KeyRef::Env(rest.to_owned()))
            }
            "file" => Ok(KeyRef::File(rest.to_owned())),
            "cmd" => Ok(KeyRef::Cmd(rest.to_owned())),
            _ => Err(KeyRefError::Scheme(text.to_owned())),
        }
    }

    /// `env`, `file` or `cmd`.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyRef::Env(_) => "env",
            KeyRef::File(_) => "file",
            KeyRef::Cmd(_) => "cmd",
        }
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::Env(v) => write!(f, "env:{v}"),
            KeyRef::File(p) => write!(f, "file:{p}"),
            KeyRef::Cmd(c) => write!(f, "cmd:{c}"),
        }
    }
}

impl std::str::FromStr for KeyRef {
    type Err = KeyRefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyRef::parse(s)
    }
}

impl TryFrom<String> for KeyRef {
    type Error = KeyRefError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        KeyRef::parse(&text)
    }
}

impl From<KeyRef> for String {
    fn from(v: KeyRef) -> String {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_and_round_trips() {
        for text in [
            "env:RELAY_KEY",
            "file:~/.config/relay.key",
            "cmd:pass show relay",
        ] {
            let r = KeyRef::parse(text).unwrap();
            assert_eq!(r.to_string(), text);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<KeyRef>(&json).unwrap(), r);
        }
        assert_eq!(
            KeyRef::parse(" ENV:_K1 ").unwrap(),
            KeyRef::Env("_K1".into())
        );
    }

    #[test]
    fn refuses_what_is_not_a_reference() {
        assert!(matches!(
            KeyRef::parse("sk-ant-123"),
            Err(KeyRefError::Scheme(_))
        ));
        assert!(matches!(
            KeyRef::parse("vault:x"),
            Err(KeyRefError::Scheme(_))
        ));
        assert!(matches!(
            KeyRef::parse("cmd:  "),
            Err(KeyRefError::Empty(_))
        ));
        assert!(matches!(
            KeyRef::parse("env:1X"),
            Err(KeyRefError::EnvName(_))
        ));
        assert!(matches!(
            KeyRef::parse("env:A-B"),
            Err(KeyRefError::EnvName(_))
        ));
        assert!(serde_json::from_str::<KeyRef>("\"nope\"").is_err());
    }
}
