//! Facts about a load (real or predicted), conditions on them, and the verdicts drawn:
//! whether a row bears out its claim, and whether a claim holds over all its rows.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::outcome::PluginOutcome;

/// Values of the `env` fact: the plugin's init-time variable holds the value (`seen`),
/// stays empty although the host set it (`missed`), or the plugin does not read it
/// while it is opened (`not-read`).
pub const ENV_VALUES: &[&str] = &["seen", "missed", "not-read"];

const NUMERIC: &[&str] = &["goroutines_per_reload", "rss_mib_per_reload"];

/// What happened (or is predicted to happen) in one row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// Per plugin, in load order.
    pub outcome: Vec<PluginOutcome>,
    /// The first load variable's fate (rows with load env and the runtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Hot reload: goroutines left per reload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goroutines_per_reload: Option<f64>,
    /// Hot reload: RSS growth per reload, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_mib_per_reload: Option<f64>,
}

impl Facts {
    /// The outcomes of `plugins`, nothing else measured.
    pub fn of(plugins: &[super::results::Observed]) -> Facts {
        Facts {
            outcome: plugins.iter().map(|o| o.outcome).collect(),
            ..Default::default()
        }
    }

    fn number(&self, fact: &str) -> Option<f64> {
        match fact {
            "goroutines_per_reload" => self.goroutines_per_reload,
            "rss_mib_per_reload" => self.rss_mib_per_reload,
            _ => None,
        }
    }
}

/// Whether a row bears out its claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Confirmed,
    Refuted,
    Partly,
    /// No row of the claim ran.
    Untested,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Refuted => "refuted",
            Verdict::Partly => "partly",
            Verdict::Untested => "untested",
        }
    }

    /// All confirmed → confirmed; all refuted → refuted; a mix → partly; none → untested.
    pub fn combine(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let (mut yes, mut no, mut n) = (0, 0, 0);
        for v in verdicts {
            match v {
                Verdict::Confirmed => yes += 1,
                Verdict::Refuted => no += 1,
                Verdict::Partly => {}
                Verdict::Untested => continue,
            }
            n += 1;
        }
        if n == 0 {
            Verdict::Untested
        } else if yes == n {
            Verdict::Confirmed
        } else if no == n {
            Verdict::Refuted
        } else {
            Verdict::Partly
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One condition checked against the facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// `outcome[1]`, `env`, `goroutines_per_reload`.
    pub fact: String,
    pub wanted: String,
    pub got: String,
    pub holds: bool,
}

/// A word a condition may name: a load outcome, `build-failed` or `not-run`.
fn known_outcome(word: &str) -> bool {
    PluginOutcome::parse(word).is_some_and(|o| o != PluginOutcome::Unrecognised)
}

fn parse_number_condition(text: &str) -> Option<(&str, f64)> {
    let t = text.trim();
    for op in [">=", "<=", ">", "<", "="] {
        if let Some(rest) = t.strip_prefix(op) {
            return rest.trim().parse().ok().map(|n| (op, n));
        }
    }
    None
}

/// Rejects conditions on unknown facts or with unknown values.
pub fn check_conditions(conds: &BTreeMap<String, Vec<String>>, plugins: usize) -> Result<()> {
    for (fact, wanted) in conds {
        match fact.as_str() {
            "outcome" => {
                if wanted.len() != 1 && wanted.len() != plugins {
                    bail!(
                        "outcome: {} values for {plugins} plugins (give one for all, or one each)",
                        wanted.len()
                    );
                }
                for w in wanted {
                    for alt in w.trim_start_matches('!').split('|') {
                        if !known_outcome(alt.trim()) {
                            bail!(
                                "outcome: `{alt}` is not an outcome (ok, package-mismatch, crash, not-implemented, already-loaded, missing-library, wrong-machine, wrong-libc, static-tls, build-failed, ...)"
                            );
                        }
                    }
                }
            }
            "env" => {
                for w in wanted {
                    for alt in w.trim_start_matches('!').split('|') {
                        if !ENV_VALUES.contains(&alt.trim()) {
                            bail!("env: `{alt}` is not one of {}", ENV_VALUES.join(", "));
                        }
                    }
                }
            }
            f if NUMERIC.contains(&f) => {
                if wanted.len() != 1 || parse_number_condition(&wanted[0]).is_none() {
                    bail!("{f}: expected one comparison such as \">0\" or \"=0\"");
                }
            }
            other => bail!(
                "unknown fact `{other}` (outcome, env, {})",
                NUMERIC.join(", ")
            ),
        }
    }
    Ok(())
}

/// `a|b` matches either; a leading `!` negates.
fn matches_word(wanted: &str, got: &str) -> bool {
    let (negate, alts) = match wanted.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, wanted),
    };
    let any = alts.split('|').any(|a| a.trim() == got);
    any != negate
}

/// Checks every condition; one check per plugin for `outcome`.
pub fn evaluate(
    conds: &BTreeMap<String, Vec<String>>,
    facts: &Facts,
    names: &[String],
) -> Vec<Check> {
    let mut checks = Vec::new();
    for (fact, wanted) in conds {
        match fact.as_str() {
            "outcome" => {
                for (i, name) in names.iter().enumerate() {
                    let w = if wanted.len() == 1 {
                        &wanted[0]
                    } else {
                        &wanted[i]
                    };
                    let got = facts
                        .outcome
                        .get(i)
                        .copied()
                        .unwrap_or(PluginOutcome::NotRun);
                    checks.push(Check {
                        fact: format!("outcome of {name}"),
                        wanted: w.clone(),
                        holds: matches_word(w, got.as_str()),
                        got: got.to_string(),
                    });
                }
            }
            "env" => {
                let got = facts.env.clone().unwrap_or_else(|| "not observed".into());
                let w = &wanted[0];
                checks.push(Check {
                    fact: "env".into(),
                    wanted: w.clone(),
                    holds: facts.env.is_some() && matches_word(w, &got),
                    got,
                });
            }
            f => {
                let w = &wanted[0];
                let value = facts.number(f);
                let holds = match (parse_number_condition(w), value) {
                    (Some((op, n)), Some(v)) => match op {
                        ">=" => v >= n,
                        "<=" => v <= n,
                        ">" => v > n,
                        "<" => v < n,
                        _ => (v - n).abs() < 1e-9,
                    },
                    _ => false,
                };
                checks.push(Check {
                    fact: f.to_string(),
                    wanted: w.clone(),
                    got: value
                        .map(|v| format!("{v:.2}"))
                        .unwrap_or_else(|| "not observed".into()),
                    holds,
                });
            }
        }
    }
    checks
}

/// All checks hold → confirmed; none → refuted; some → partly.
pub fn verdict(checks: &[Check]) -> Verdict {
    Verdict::combine(checks.iter().map(|c| {
        if c.holds {
            Verdict::Confirmed
        } else {
            Verdict::Refuted
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conds(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn outcome_conditions_per_plugin_and_for_all() {
        let names = vec!["a.so".to_string(), "b.so".to_string()];
        let facts = Facts {
            outcome: vec![
                PluginOutcome::OK,
                PluginOutcome::Load(crate::verdict::Outcome::AlreadyLoaded),
            ],
            ..Default::default()
        };
        let all_ok = evaluate(&conds(&[("outcome", &["ok"])]), &facts, &names);
        assert_eq!(verdict(&all_ok), Verdict::Partly);
        let each = evaluate(
            &conds(&[("outcome", &["ok", "already-loaded|package-mismatch"])]),
            &facts,
            &names,
        );
        assert_eq!(verdict(&each), Verdict::Confirmed);
        let not_ok = evaluate(&conds(&[("outcome", &["!ok"])]), &facts, &names);
        assert_eq!(verdict(&not_ok), Verdict::Partly);
        let crash = evaluate(&conds(&[("outcome", &["crash"])]), &facts, &names);
        assert_eq!(verdict(&crash), Verdict::Refuted);
    }

    #[test]
    fn numbers_and_env() {
        let facts = Facts {
            outcome: vec![PluginOutcome::OK],
            env: Some("missed".into()),
            goroutines_per_reload: Some(1.0),
            ..Default::default()
        };
        let names = vec!["p.so".to_string()];
        let c = evaluate(
            &conds(&[("env", &["missed"]), ("goroutines_per_reload", &[">0"])]),
            &facts,
            &names,
        );
        assert_eq!(verdict(&c), Verdict::Confirmed);
        let c = evaluate(
            &conds(&[("goroutines_per_reload", &["=0"])]),
            &facts,
            &names,
        );
        assert_eq!(verdict(&c), Verdict::Refuted);
        let none = Facts::default();
        let c = evaluate(&conds(&[("rss_mib_per_reload", &[">1"])]), &none, &names);
        assert!(!c[0].holds && c[0].got == "not observed");
    }

    #[test]
    fn combining_and_validation() {
        use Verdict::*;
        assert_eq!(Verdict::combine([Confirmed, Confirmed]), Confirmed);
        assert_eq!(Verdict::combine([Refuted, Untested]), Refuted);
        assert_eq!(Verdict::combine([Confirmed, Refuted]), Partly);
        assert_eq!(Verdict::combine([Partly]), Partly);
        assert_eq!(Verdict::combine([]), Untested);
        assert!(check_conditions(&conds(&[("outcome", &["ok", "crash"])]), 2).is_ok());
        assert!(check_conditions(&conds(&[("outcome", &["ok", "crash"])]), 3).is_err());
        assert!(check_conditions(&conds(&[("outcome", &["fine"])]), 1).is_err());
        assert!(check_conditions(&conds(&[("env", &["maybe"])]), 1).is_err());
        assert!(check_conditions(&conds(&[("goroutines_per_reload", &["lots"])]), 1).is_err());
        assert!(check_conditions(&conds(&[("colour", &["red"])]), 1).is_err());
    }
}
