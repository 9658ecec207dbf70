//! Model maps: per-endpoint rules that rename the model a client asked for into the one
//! that endpoint serves (`claude-sonnet-*=deepseek-chat`, `*=deepseek-reasoner`). Globs,
//! first match wins. Data and matching only; rewriting a request body lives in the proxy.
//!
//! The glob matcher ([`glob_match`]) and the pattern check ([`check_pattern`]) are also
//! those of model routes (`Config::routes`): one dialect of model globs in qcc.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One rule: a glob over the requested model (`*` any run of characters, `?` one
/// character) and the model to send instead. Stored as `pattern=target`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelRule {
    pub pattern: String,
    pub target: String,
}

/// Why a rule's text is not a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelRuleError {
    #[error("model rule '{0}' has no '='")]
    NoEquals(String),
    #[error("model rule '{0}' has an empty side")]
    Empty(String),
    #[error("the model pattern '{0}' appears twice")]
    Duplicate(String),
}

impl ModelRuleError {
    pub fn hint(&self) -> &'static str {
        match self {
            ModelRuleError::Duplicate(_) => {
                "give each pattern once (the first match wins, so a second rule would never apply)"
            }
            _ => {
                "write PATTERN=MODEL, e.g. --model 'claude-sonnet-*=deepseek-chat' or --model '*=glm-4.6'"
            }
        }
    }
}

impl ModelRule {
    pub fn parse(text: &str) -> Result<Self, ModelRuleError> {
        let (pattern, target) = text
            .split_once('=')
            .ok_or_else(|| ModelRuleError::NoEquals(text.to_owned()))?;
        let (pattern, target) = (pattern.trim(), target.trim());
        if pattern.is_empty() || target.is_empty() {
            return Err(ModelRuleError::Empty(text.to_owned()));
        }
        Ok(Self {
            pattern: pattern.to_owned(),
            target: target.to_owned(),
        })
    }

    pub fn matches(&self, model: &str) -> bool {
        glob_match(&self.pattern, model)
    }
}

/// Refuse a rule list that names a pattern twice.
pub fn check_unique(rules: &[ModelRule]) -> Result<(), ModelRuleError> {
    for (i, r) in rules.iter().enumerate() {
        if rules[..i].iter().any(|o| o.pattern == r.pattern) {
            return Err(ModelRuleError::Duplicate(r.pattern.clone()));
        }
    }
    Ok(())
}

/// The model to send for `requested` under `rules` (first match wins), or `None` when no
/// rule matches (the request goes as it is).
pub fn map<'a>(rules: &'a [ModelRule], requested: &str) -> Option<&'a str> {
    rules
        .iter()
        .find(|r| r.matches(requested))
        .map(|r| r.target.as_str())
}

/// Does the model name `text` match the glob `pattern` (`*` any run of characters, `?`
/// one character; everything else literal, case-sensitive, the whole name)?
pub fn glob_match(pattern: &str, text: &str) -> bool {
    glob(pattern.as_bytes(), text.as_bytes())
}

/// Why a model glob (of a route) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("the model pattern is empty")]
    Empty,
    #[error("the model pattern '{0}' contains white space or a control character")]
    Space(String),
    #[error("the model pattern '{0}' contains '=' (a route names a profile, not a model)")]
    Equals(String),
    #[error("the model pattern '{0}' is longer than {PATTERN_MAX} bytes")]
    TooLong(String),
}

/// Longest model glob accepted (model names are a few dozen bytes).
pub const PATTERN_MAX: usize = 200;

impl PatternError {
    pub fn hint(&self) -> &'static str {
        match self {
            PatternError::Equals(_) => {
                "write the glob and the profile apart: qcc route add 'claude-haiku-*' cheap"
            }
            _ => "a glob over model names: `*` any run, `?` one character, e.g. 'claude-haiku-*'",
        }
    }
}

/// Check a model glob as a route takes it: trimmed, non-empty, without white space,
/// control characters or `=`, at most [`PATTERN_MAX`] bytes. Returns it trimmed.
pub fn check_pattern(text: &str) -> Result<&str, PatternError> {
    let p = text.trim();
    if p.is_empty() {
        return Err(PatternError::Empty);
    }
    if p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(PatternError::Space(p.to_owned()));
    }
    if p.contains('=') {
        return Err(PatternError::Equals(p.to_owned()));
    }
    if p.len() > PATTERN_MAX {
        return Err(PatternError::TooLong(p.to_owned()));
    }
    Ok(p)
}

/// Glob match with `*` and `?`, iterative with one backtrack point (linear for the
/// patterns people write).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

impl fmt::Display for ModelRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.pattern, self.target)
    }
}

impl std::str::FromStr for ModelRule {
    type Err = ModelRuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelRule::parse(s)
    }
}

impl TryFrom<String> for ModelRule {
    type Error = ModelRuleError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        ModelRule::parse(&text)
    }
}

impl From<ModelRule> for String {
    fn from(v: ModelRule) -> String {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(texts: &[&str]) -> Vec<ModelRule> {
        texts.iter().map(|t| ModelRule::parse(t).unwrap()).collect()
    }

    #[test]
    fn first_match_wins_and_star_is_the_default() {
        let r = rules(&[
            "claude-sonnet-*=deepseek-chat",
            "claude-haiku-*=deepseek-chat",
            "*=deepseek-reasoner",
        ]);
        assert_eq!(map(&r, "claude-sonnet-4-5-20250929"), Some("deepseek-chat"));
        assert_eq!(map(&r, "claude-haiku-4-5"), Some("deepseek-chat"));
        assert_eq!(map(&r, "claude-opus-4-1"), Some("deepseek-reasoner"));
        assert_eq!(map(&r[..2], "claude-opus-4-1"), None);
        assert_eq!(map(&[], "x"), None);
    }

    #[test]
    fn globs_match_whole_names() {
        let m = |p: &str, t: &str| glob(p.as_bytes(), t.as_bytes());
        assert!(m("claude-*", "claude-"));
        assert!(m("*opus*", "claude-opus-4"));
        assert!(m("claude-?-x", "claude-3-x"));
        assert!(!m("claude-?-x", "claude-33-x"));
        assert!(!m("claude-sonnet", "claude-sonnet-4"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("**", ""));
    }

    #[test]
    fn route_patterns_are_checked() {
        assert_eq!(check_pattern(" claude-haiku-* "), Ok("claude-haiku-*"));
        assert_eq!(check_pattern("*"), Ok("*"));
        assert_eq!(check_pattern("  "), Err(PatternError::Empty));
        assert!(matches!(
            check_pattern("claude haiku"),
            Err(PatternError::Space(_))
        ));
        assert!(matches!(check_pattern("a\tb"), Err(PatternError::Space(_))));
        assert!(matches!(
            check_pattern("claude-*=x"),
            Err(PatternError::Equals(_))
        ));
        assert!(matches!(
            check_pattern(&"x".repeat(201)),
            Err(PatternError::TooLong(_))
        ));
        assert!(glob_match("claude-haiku-*", "claude-haiku-4-5"));
        assert!(!glob_match("claude-haiku-*", "claude-sonnet-4-5"));
    }

    #[test]
    fn rules_round_trip_as_text_and_refuse_half_rules() {
        let r = ModelRule::parse(" claude-* = glm-4.6 ").unwrap();
        assert_eq!(r.to_string(), "claude-*=glm-4.6");
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"claude-*=glm-4.6\"");
        assert_eq!(serde_json::from_str::<ModelRule>(&json).unwrap(), r);
        assert!(ModelRule::parse("claude").is_err());
        assert!(ModelRule::parse("=x").is_err());
        assert!(ModelRule::parse("x=").is_err());
    }
}
