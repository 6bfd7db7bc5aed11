//! Prediction against reality.

use super::super::outcome::PluginOutcome;
use super::super::results::{Agreement, Prediction, Reality};
use crate::verdict::Outcome;

/// Prediction against reality: per plugin the outcome and the exact message (a crash
/// must be predicted as one, with the host's first line); the env fact when both have it.
pub(super) fn compare(real: &Reality, predicted: &Prediction) -> Agreement {
    let mut a = Agreement::default();
    for (r, p) in real.plugins.iter().zip(&predicted.plugins) {
        if !r.outcome.loaded() {
            continue;
        }
        a.compared += 1;
        let agrees = match r.outcome {
            PluginOutcome::OK => p.outcome == PluginOutcome::OK,
            PluginOutcome::CRASH => {
                matches!(
                    p.outcome,
                    PluginOutcome::Load(Outcome::Crash | Outcome::NotAPlugin | Outcome::Truncated)
                ) && p.error == r.error
            }
            _ => {
                p.outcome != PluginOutcome::OK
                    && p.outcome != PluginOutcome::CRASH
                    && p.error == r.error
            }
        };
        if agrees {
            a.agree += 1;
        } else {
            a.disagreements.push(format!(
                "{}: real {}{}, predicted {}{}",
                r.name,
                r.outcome,
                r.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default(),
                p.outcome,
                p.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
    }
    if let (Some(r), Some(p)) = (&real.facts.env, &predicted.facts.env) {
        a.compared += 1;
        if r == p {
            a.agree += 1;
        } else {
            a.disagreements
                .push(format!("env: real {r}, predicted {p}"));
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::claims::Facts;
    use crate::matrix::def::Via;
    use crate::matrix::results::Observed;

    #[test]
    fn comparison_needs_the_exact_message() {
        let obs = |o: &str, e: Option<&str>| Observed {
            name: "p.so".into(),
            outcome: PluginOutcome::parse(o).unwrap(),
            error: e.map(str::to_string),
            cause: None,
        };
        let real = Reality::of(
            Via::Host,
            "",
            String::new(),
            vec![
                obs("package-mismatch", Some("x")),
                obs("crash", Some("fatal error: y")),
            ],
        );
        let pred = |a: Observed, b: Observed| Prediction {
            command: String::new(),
            plugins: vec![a, b],
            facts: Facts::default(),
            seconds: 0.0,
        };
        let good = compare(
            &real,
            &pred(
                obs("package-mismatch", Some("x")),
                obs("crash", Some("fatal error: y")),
            ),
        );
        assert_eq!((good.compared, good.agree), (2, 2));
        let bad = compare(
            &real,
            &pred(
                obs("package-mismatch", Some("z")),
                obs("package-mismatch", Some("fatal error: y")),
            ),
        );
        assert_eq!(bad.agree, 0);
        assert_eq!(bad.disagreements.len(), 2);
    }
}
