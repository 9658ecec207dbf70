//! The factor weights of the `adaptive` strategy (`config.json` → a profile's `score`,
//! omitted when they are the defaults): how much each factor of an endpoint's score counts.
//! `qcc profile edit NAME --score latency=0.3,cost=0.2,success=0.3,weight=0.1,quota=0.1`.

use serde::{Deserialize, Serialize};

/// Relative weights of the `adaptive` score's factors (non-negative, not all zero; only
/// their ratios matter). A factor left out of `--score` is 0.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreWeights {
    /// Peak-EWMA time to headers × (requests in flight + 1), relative to the best.
    #[serde(default)]
    pub latency: f64,
    /// Recent success rate.
    #[serde(default)]
    pub success: f64,
    /// The blended price of the model the endpoint would be sent, relative to the cheapest.
    #[serde(default)]
    pub cost: f64,
    /// Effective weight, relative to the heaviest.
    #[serde(default)]
    pub weight: f64,
    /// Remaining quota (rate-limit headroom, 0..1).
    #[serde(default)]
    pub quota: f64,
}

impl Default for ScoreWeights {
    /// latency 0.3, success 0.3, cost 0.2, weight 0.1, quota 0.1.
    fn default() -> Self {
        Self {
            latency: 0.3,
            success: 0.3,
            cost: 0.2,
            weight: 0.1,
            quota: 0.1,
        }
    }
}

/// The factor names `--score` takes, in the order they are shown.
pub const FACTORS: [&str; 5] = ["latency", "success", "cost", "weight", "quota"];

/// Why a `--score` value is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    #[error("'{0}' is not FACTOR=WEIGHT")]
    Malformed(String),
    #[error("unknown score factor '{0}'")]
    Unknown(String),
    #[error("score factor '{0}' is given twice")]
    Duplicate(String),
    #[error("the weight of '{0}' must be a finite number, not negative")]
    Negative(String),
    #[error("the score weights are all zero")]
    AllZero,
}

impl ScoreError {
    pub fn hint(&self) -> &'static str {
        match self {
            ScoreError::Unknown(_) => {
                "factors: latency, success, cost, weight, quota (e.g. --score latency=0.5,cost=0.5)"
            }
            ScoreError::AllZero => "give at least one factor a positive weight, or --score default",
            _ => "e.g. --score latency=0.3,cost=0.2,success=0.3,weight=0.1,quota=0.1",
        }
    }
}

impl ScoreWeights {
    /// Parse `factor=weight,…` (factors left out are 0). Refuses unknown or repeated
    /// factors, negative or non-finite weights, and all zero.
    pub fn parse(s: &str) -> Result<Self, ScoreError> {
        let mut w = ScoreWeights {
            latency: 0.0,
            success: 0.0,
            cost: 0.0,
            weight: 0.0,
            quota: 0.0,
        };
        let mut seen = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let Some((name, value)) = part.split_once('=') else {
                return Err(ScoreError::Malformed(part.to_owned()));
            };
            let name = name.trim();
            let slot = match name {
                "latency" => &mut w.latency,
                "success" => &mut w.success,
                "cost" => &mut w.cost,
                "weight" => &mut w.weight,
                "quota" => &mut w.quota,
                "" => return Err(ScoreError::Malformed(part.to_owned())),
                other => return Err(ScoreError::Unknown(other.to_owned())),
            };
            if seen.contains(&name) {
                return Err(ScoreError::Duplicate(name.to_owned()));
            }
            seen.push(name);
            let v: f64 = value
                .trim()
                .parse()
                .map_err(|_| ScoreError::Malformed(part.to_owned()))?;
            if !v.is_finite() || v < 0.0 {
                return Err(ScoreError::Negative(name.to_owned()));
            }
            *slot = v;
        }
        w.check()?;
        Ok(w)
    }

    /// Non-negative, finite, not all zero (a hand-edited config is checked too).
    pub fn check(&self) -> Result<(), ScoreError> {
        for (name, v) in FACTORS.iter().zip(self.values()) {
            if !v.is_finite() || v < 0.0 {
                return Err(ScoreError::Negative((*name).to_owned()));
            }
        }
        if self.total() <= 0.0 {
            return Err(ScoreError::AllZero);
        }
        Ok(())
    }

    /// The weights in [`FACTORS`] order.
    pub fn values(&self) -> [f64; 5] {
        [
            self.latency,
            self.success,
            self.cost,
            self.weight,
            self.quota,
        ]
    }

    pub fn total(&self) -> f64 {
        self.values().iter().sum()
    }
}

impl std::fmt::Display for ScoreWeights {
    /// `latency=0.3,success=0.3,…`, factors at 0 left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (name, v) in FACTORS.iter().zip(self.values()) {
            if v == 0.0 {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{name}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_show() {
        let w =
            ScoreWeights::parse("latency=0.3,cost=0.2,success=0.3,weight=0.1,quota=0.1").unwrap();
        assert_eq!(w, ScoreWeights::default());
        let w = ScoreWeights::parse(" latency = 1 ").unwrap();
        assert_eq!((w.latency, w.cost, w.total()), (1.0, 0.0, 1.0));
        assert_eq!(w.to_string(), "latency=1");
        assert_eq!(
            ScoreWeights::default().to_string(),
            "latency=0.3,success=0.3,cost=0.2,weight=0.1,quota=0.1"
        );
        for (bad, err) in [
            ("speed=1", ScoreError::Unknown("speed".into())),
            ("latency=-1", ScoreError::Negative("latency".into())),
            ("latency=inf", ScoreError::Negative("latency".into())),
            ("latency=0,cost=0", ScoreError::AllZero),
            ("latency", ScoreError::Malformed("latency".into())),
            ("latency=x", ScoreError::Malformed("latency=x".into())),
            ("", ScoreError::Malformed("".into())),
            ("=1", ScoreError::Malformed("=1".into())),
            ("cost=1,cost=2", ScoreError::Duplicate("cost".into())),
        ] {
            assert_eq!(ScoreWeights::parse(bad), Err(err), "{bad}");
        }
    }
}
