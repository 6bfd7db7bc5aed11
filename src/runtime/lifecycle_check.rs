//! `plugctl load --lifecycle-check`: the illegal call orders a careless host produces,
//! each in a fresh harness process (a Go plugin cannot be opened twice in one process),
//! and how the plugin reacted to the illegal call: refused it with an error, panicked,
//! hung (did not return within the phase timeout), crashed the process, or silently
//! accepted it. Expected reactions come from plugctl.toml `[lifecycle_check]`
//! (default: `refused`, the seed article's strict Init → Run → Close state machine).

use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;

use super::child::ChildRun;
use super::details::LifecycleCheckDetails;
use super::harness::HarnessSpec;
use super::observe;
use super::{Layer, LayerStatus};

/// The illegal orders: (name, calls; the last call is the illegal one).
pub const TRANSITIONS: &[(&str, &[&str])] = &[
    ("run_before_init", &["run"]),
    ("init_twice", &["init", "init"]),
    ("run_after_close", &["init", "close", "run"]),
    ("close_twice", &["init", "close", "close"]),
];

/// The seed's phase timeouts: Init 3 s; Run and Close get the same unless overridden.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Run's context is cancelled after this long, so a Run that serves until cancelled
/// returns instead of counting as hung.
pub const DEFAULT_RUN_FOR: Duration = Duration::from_millis(500);

/// How a plugin reacted to one illegal call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    Refused,
    Panicked,
    Hung,
    Crashed,
    Accepted,
    /// A legal call before the illegal one did not succeed, or the function is missing.
    NotApplicable,
}

impl Reaction {
    pub fn parse(text: &str) -> Result<Option<Reaction>> {
        Ok(Some(match text.trim() {
            "refused" => Reaction::Refused,
            "panicked" => Reaction::Panicked,
            "hung" => Reaction::Hung,
            "crashed" => Reaction::Crashed,
            "accepted" => Reaction::Accepted,
            "any" => return Ok(None),
            other => bail!("`{other}`: expected refused, panicked, hung, crashed, accepted or any"),
        }))
    }

    fn as_str(self) -> &'static str {
        match self {
            Reaction::Refused => "refused",
            Reaction::Panicked => "panicked",
            Reaction::Hung => "hung",
            Reaction::Crashed => "crashed",
            Reaction::Accepted => "accepted",
            Reaction::NotApplicable => "not applicable",
        }
    }
}

/// What to run and expect.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    pub init_timeout: Duration,
    pub run_timeout: Duration,
    pub close_timeout: Duration,
    pub run_for: Duration,
    /// Expected reaction per transition name; `None`: any reaction passes.
    pub expected: Vec<(String, Option<Reaction>)>,
}

impl Default for CheckSpec {
    fn default() -> Self {
        CheckSpec {
            init_timeout: DEFAULT_INIT_TIMEOUT,
            run_timeout: DEFAULT_RUN_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            run_for: DEFAULT_RUN_FOR,
            expected: TRANSITIONS
                .iter()
                .map(|t| (t.0.to_string(), Some(Reaction::Refused)))
                .collect(),
        }
    }
}

impl CheckSpec {
    pub fn expected(&self, transition: &str) -> Option<Reaction> {
        self.expected
            .iter()
            .find(|e| e.0 == transition)
            .and_then(|e| e.1)
    }

    /// The harness spec for one transition: `base` calling `calls` in this order.
    pub fn spec(&self, base: &HarnessSpec, calls: &[&'static str]) -> HarnessSpec {
        HarnessSpec {
            sequence: calls.to_vec(),
            init_timeout_ms: Some(self.init_timeout.as_millis() as u64),
            run_timeout_ms: Some(self.run_timeout.as_millis() as u64),
            close_timeout_ms: Some(self.close_timeout.as_millis() as u64),
            run_for_ms: self.run_for.as_millis() as u64,
            ..base.clone()
        }
    }
}

/// One transition's result.
#[derive(Debug, Clone, Serialize)]
pub struct TransitionResult {
    pub transition: &'static str,
    pub calls: Vec<&'static str>,
    pub reaction: Reaction,
    pub expected: Option<Reaction>,
    pub ok: bool,
    /// The illegal call's error, panic value or timeout message.
    pub detail: Option<String>,
    pub phases: Vec<observe::Phase>,
}

/// Classifies the illegal (last) call of one transition run for plugin `i`.
pub fn classify(
    transition: &'static str,
    calls: &'static [&'static str],
    run: &ChildRun,
    i: usize,
    spec: &CheckSpec,
) -> TransitionResult {
    let phases = observe::phases(run, i);
    let legal_failed = phases
        .iter()
        .take(calls.len().saturating_sub(1))
        .any(|p| p.status != "ok");
    let last = (phases.len() == calls.len())
        .then(|| phases.last())
        .flatten();
    let (reaction, detail) = match last {
        _ if legal_failed => (
            Reaction::NotApplicable,
            phases.iter().find(|p| p.status != "ok").map(|p| {
                format!(
                    "{} {}: {}",
                    p.symbol,
                    p.status,
                    p.error.clone().or(p.panic.clone()).unwrap_or_default()
                )
            }),
        ),
        None => (
            Reaction::NotApplicable,
            Some("the illegal call was not made".into()),
        ),
        Some(p) => match p.status.as_str() {
            "ok" => (Reaction::Accepted, None),
            "error" => (Reaction::Refused, p.error.clone()),
            "panic" => (Reaction::Panicked, p.panic.clone()),
            "timeout" => (Reaction::Hung, p.error.clone()),
            "crash" => (Reaction::Crashed, p.error.clone()),
            other => (
                Reaction::NotApplicable,
                Some(format!("{} {other}", p.symbol)),
            ),
        },
    };
    let expected = spec.expected(transition);
    TransitionResult {
        transition,
        calls: calls.to_vec(),
        reaction,
        expected,
        ok: expected.is_none_or(|e| e == reaction),
        detail,
        phases,
    }
}

/// The `lifecycle-check` layer from the per-transition results.
pub fn layer(results: Vec<TransitionResult>) -> Layer {
    let skip = results
        .iter()
        .all(|r| r.reaction == Reaction::NotApplicable);
    let parts: Vec<String> = results
        .iter()
        .map(|r| {
            let mut s = format!("{}: {}", r.transition, r.reaction.as_str());
            if !r.ok && !skip {
                s.push_str(&format!(
                    " (expected {})",
                    r.expected.map_or("any", Reaction::as_str)
                ));
            }
            s
        })
        .collect();
    // No lifecycle functions (or Init itself fails): nothing to check.
    let status = if skip {
        LayerStatus::Skip
    } else if results.iter().all(|r| r.ok) {
        LayerStatus::Pass
    } else {
        LayerStatus::Fail
    };
    Layer::new("lifecycle-check", status, parts.join("; ")).with(LifecycleCheckDetails {
        transitions: results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_seed() {
        let spec = CheckSpec::default();
        assert_eq!(spec.init_timeout, Duration::from_secs(3));
        assert!(
            TRANSITIONS
                .iter()
                .all(|t| spec.expected(t.0) == Some(Reaction::Refused))
        );
        assert_eq!(Reaction::parse("any").unwrap(), None);
        assert!(Reaction::parse("sometimes").is_err());
    }
}
