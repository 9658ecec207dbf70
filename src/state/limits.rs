//! An endpoint's local limits (`limits` in `config.json`): requests and tokens per minute,
//! tokens per UTC day, and day / month budgets in US dollars. Pure: the type, what a valid
//! value is, and how the CLI's text becomes one. Counting against them is the `upstream`
//! layer's (`upstream::limits`).

use serde::{Deserialize, Serialize};

/// What one endpoint may take before it is `limited` (every field optional; an empty set
/// is omitted from `config.json`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Requests per sliding minute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens (input of every kind + output) per sliding minute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Tokens per UTC day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<u64>,
    /// Spend per UTC day, in US dollars (from the usage accounting's prices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_day_usd: Option<f64>,
    /// Spend per UTC month, in US dollars.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_month_usd: Option<f64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// Whether token counts matter (tpm or tokens per day).
    pub fn counts_tokens(&self) -> bool {
        self.tpm.is_some() || self.tokens_per_day.is_some()
    }

    /// The first value that is not positive, by its config name.
    pub fn check(&self) -> Result<(), LimitError> {
        let counts = [
            ("rpm", self.rpm),
            ("tpm", self.tpm),
            ("tokens_per_day", self.tokens_per_day),
        ];
        for (name, v) in counts {
            if v == Some(0) {
                return Err(LimitError::NotPositive {
                    flag: name.into(),
                    value: "0".into(),
                });
            }
        }
        for (name, v) in [
            ("budget_day_usd", self.budget_day_usd),
            ("budget_month_usd", self.budget_month_usd),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(LimitError::NotPositive {
                    flag: name.into(),
                    value: v.to_string(),
                });
            }
        }
        Ok(())
    }

    /// A short description for tables: `rpm 50, tpm 40000, $10/day`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.rpm {
            parts.push(format!("rpm {v}"));
        }
        if let Some(v) = self.tpm {
            parts.push(format!("tpm {v}"));
        }
        if let Some(v) = self.tokens_per_day {
            parts.push(format!("{v} tokens/day"));
        }
        if let Some(v) = self.budget_day_usd {
            parts.push(format!("${v}/day"));
        }
        if let Some(v) = self.budget_month_usd {
            parts.push(format!("${v}/month"));
        }
        parts.join(", ")
    }
}

/// A limit the user typed that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{flag} must be positive, not {value}")]
    NotPositive { flag: String, value: String },
    #[error("{flag} takes a whole number, not '{value}'")]
    NotACount { flag: String, value: String },
    #[error("{flag} takes a plain amount in US dollars, not '{value}'")]
    NotAnAmount { flag: String, value: String },
}

impl LimitError {
    pub fn hint(&self) -> String {
        match self {
            LimitError::NotPositive { .. } => {
                "give a number above 0; to remove limits, `qcc endpoint edit <profile> <endpoint> --clear-limits`".into()
            }
            LimitError::NotACount { flag, .. } => format!("a whole number, e.g. {flag} 50"),
            LimitError::NotAnAmount { flag, .. } => format!(
                "digits with an optional decimal point, no '$' or ',': e.g. {flag} 12.50"
            ),
        }
    }
}

/// `--rpm 50`: a whole number above 0.
pub fn parse_count(flag: &str, text: &str) -> Result<u64, LimitError> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(LimitError::NotPositive {
            flag: flag.into(),
            value: t.into(),
        });
    }
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LimitError::NotACount {
            flag: flag.into(),
            value: text.into(),
        });
    }
    match t.parse::<u64>() {
        Ok(0) => Err(LimitError::NotPositive {
            flag: flag.into(),
            value: t.into(),
        }),
        Ok(n) => Ok(n),
        Err(_) => Err(LimitError::NotACount {
            flag: flag.into(),
            value: text.into(),
        }),
    }
}

/// `--budget-day 12.50`: digits with at most one decimal point, above 0 (no `$`, no
/// thousands separator, no decimal comma, no exponent).
pub fn parse_usd(flag: &str, text: &str) -> Result<f64, LimitError> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    if !plain {
        return Err(LimitError::NotAnAmount {
            flag: flag.into(),
            value: text.into(),
        });
    }
    let v: f64 = digits.parse().map_err(|_| LimitError::NotAnAmount {
        flag: flag.into(),
        value: text.into(),
    })?;
    if negative || v <= 0.0 || !v.is_finite() {
        return Err(LimitError::NotPositive {
            flag: flag.into(),
            value: t.into(),
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_amounts_parse_strictly() {
        assert_eq!(parse_count("rpm", "50"), Ok(50));
        assert_eq!(parse_count("rpm", " 7 "), Ok(7));
        for bad in ["0", "-1", "-20"] {
            assert!(matches!(
                parse_count("rpm", bad),
                Err(LimitError::NotPositive { .. })
            ));
        }
        for bad in ["", "x", "1.5", "1e3", "5,00", "+3"] {
            assert!(
                matches!(parse_count("rpm", bad), Err(LimitError::NotACount { .. })),
                "{bad}"
            );
        }
        assert_eq!(parse_usd("budget_day_usd", "12.50"), Ok(12.5));
        assert_eq!(parse_usd("budget_day_usd", "3"), Ok(3.0));
        assert_eq!(parse_usd("budget_day_usd", ".5"), Ok(0.5));
        for bad in ["$5", "5,00", "1,000", "1e2", "abc", "", "1.2.3", "."] {
            assert!(
                matches!(
                    parse_usd("budget_day_usd", bad),
                    Err(LimitError::NotAnAmount { .. })
                ),
                "{bad}"
            );
        }
        for bad in ["0", "-1", "0.00", "-2.5"] {
            assert!(
                matches!(
                    parse_usd("budget_day_usd", bad),
                    Err(LimitError::NotPositive { .. })
                ),
                "{bad}"
            );
        }
        let e = parse_usd("--budget-day", "$5").unwrap_err();
        assert!(e.hint().contains("--budget-day 12.50"), "{}", e.hint());
    }

    #[test]
    fn empty_limits_are_omitted_and_checked() {
        let l = Limits::default();
        assert!(l.is_empty());
        assert_eq!(serde_json::to_value(l).unwrap(), serde_json::json!({}));
        let l = Limits {
            rpm: Some(3),
            budget_day_usd: Some(1.5),
            ..Limits::default()
        };
        assert_eq!(
            serde_json::to_value(l).unwrap(),
            serde_json::json!({"rpm": 3, "budget_day_usd": 1.5})
        );
        assert_eq!(l.summary(), "rpm 3, $1.5/day");
        l.check().unwrap();
        let bad = Limits {
            tpm: Some(0),
            ..Limits::default()
        };
        assert!(bad.check().is_err());
        let bad = Limits {
            budget_month_usd: Some(-1.0),
            ..Limits::default()
        };
        assert!(bad.check().is_err());
    }
}
