//! What became of one plugin of a row: the load's [`Outcome`] (real or predicted), or
//! why there was no load. Spelled in reports and definitions as the outcome itself
//! (`ok`, `package-mismatch`, ...), `build-failed`, `not-run` or `error`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::verdict::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginOutcome {
    /// It was loaded (or predicted) and ended this way.
    Load(Outcome),
    /// The plugin did not build (its row did not load anything).
    BuildFailed,
    /// An earlier plugin crashed the host, or another plugin of the row did not build.
    NotRun,
    /// The host printed an error none of the loaders prints (`error`).
    Unrecognised,
}

impl PluginOutcome {
    pub const OK: PluginOutcome = PluginOutcome::Load(Outcome::Ok);
    pub const CRASH: PluginOutcome = PluginOutcome::Load(Outcome::Crash);

    pub fn as_str(self) -> &'static str {
        match self {
            PluginOutcome::Load(o) => o.as_str(),
            PluginOutcome::BuildFailed => "build-failed",
            PluginOutcome::NotRun => "not-run",
            PluginOutcome::Unrecognised => "error",
        }
    }

    /// The outcome spelled `word`.
    pub fn parse(word: &str) -> Option<PluginOutcome> {
        match word {
            "build-failed" => Some(PluginOutcome::BuildFailed),
            "not-run" => Some(PluginOutcome::NotRun),
            "error" => Some(PluginOutcome::Unrecognised),
            w => Outcome::parse(w).map(PluginOutcome::Load),
        }
    }

    /// Whether a load happened (real or predicted) to compare.
    pub fn loaded(self) -> bool {
        !matches!(self, PluginOutcome::BuildFailed | PluginOutcome::NotRun)
    }
}

impl fmt::Display for PluginOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PluginOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PluginOutcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        PluginOutcome::parse(&word)
            .ok_or_else(|| serde::de::Error::custom(format!("`{word}` is not a plugin outcome")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_round_trips_through_its_spelling() {
        let all = Outcome::ALL.iter().map(|o| PluginOutcome::Load(*o)).chain([
            PluginOutcome::BuildFailed,
            PluginOutcome::NotRun,
            PluginOutcome::Unrecognised,
        ]);
        for o in all {
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(json, format!("\"{o}\""));
            assert_eq!(serde_json::from_str::<PluginOutcome>(&json).unwrap(), o);
        }
        assert!(PluginOutcome::parse("fine").is_none());
    }
}
