//! The env-timing layer: did the plugin see the variables the user set, before or after
//! `plugin.Open`?

use crate::golang::GoFacts;
use crate::runtime::child::ChildRun;
use crate::runtime::details::{EnvDetails, EnvVarSeen};
use crate::runtime::env::{EnvVar, Masker};
use crate::runtime::events::Event;
use crate::runtime::{Layer, LayerStatus};

/// The env-timing layer: did the plugin see the user's variables?
pub fn env_layer(
    vars: &[EnvVar],
    masker: &Masker,
    after_open: bool,
    run: &ChildRun,
    comparison: Option<&ChildRun>,
    i: usize,
    go: Option<&GoFacts>,
) -> Layer {
    let idx = i as i64;
    let seen = |r: &ChildRun, when: &str, name: &str| -> Vec<String> {
        r.target_events()
            .filter_map(|e| match e {
                Event::Env(v) if v.index == idx && v.when == when && v.name == name => {
                    v.seen_in.clone()
                }
                _ => None,
            })
            .flatten()
            .collect()
    };
    let static_reads: Vec<String> = go.map(|g| g.init_env_reads.clone()).unwrap_or_default();
    let mut rows = Vec::new();
    let mut missed = Vec::new();
    let mut parts = Vec::new();
    for var in vars {
        let at_init_static = static_reads.contains(&var.name);
        let open_seen = seen(run, "after-open", &var.name);
        let init_seen = seen(run, "after-init", &var.name);
        let before_seen = comparison
            .map(|c| seen(c, "after-open", &var.name))
            .unwrap_or_default();
        let verdict = if after_open {
            if !before_seen.is_empty() && open_seen.is_empty() && init_seen.is_empty() {
                missed.push(var.name.clone());
                format!(
                    "MISSED: set after plugin.Open, {} stays empty (set before Open, it holds the value): the plugin reads {} during plugin.Open",
                    before_seen.join(", "),
                    var.name
                )
            } else if at_init_static && init_seen.is_empty() {
                missed.push(var.name.clone());
                format!(
                    "MISSED: the plugin's package init reads {} (static scan), before the host set it",
                    var.name
                )
            } else if !init_seen.is_empty() {
                format!(
                    "seen after Init ({}): the plugin reads it at Init, after Open: setting it after Open works",
                    init_seen.join(", ")
                )
            } else {
                format!(
                    "not read during plugin.Open{}: setting it after Open is fine",
                    if at_init_static {
                        ""
                    } else {
                        " (static scan and measurement agree)"
                    }
                )
            }
        } else if !open_seen.is_empty() {
            format!(
                "seen: set before plugin.Open, the plugin's {} holds its value",
                open_seen.join(", ")
            )
        } else if at_init_static {
            "set before plugin.Open; the plugin's init reads it (static scan)".to_string()
        } else {
            "set before plugin.Open; no exported variable holds its value".to_string()
        };
        parts.push(format!("{}={} {verdict}", var.name, masker.show(var)));
        rows.push(EnvVarSeen {
            name: var.name.clone(),
            value: masker.show(var),
            secret: var.is_secret(),
            set: if after_open {
                "after-open"
            } else {
                "before-open"
            },
            read_at_init_static: at_init_static,
            seen_after_open: open_seen,
            seen_after_init: init_seen,
            seen_when_set_before_open: comparison.map(|_| before_seen),
            verdict,
        });
    }
    let status = if missed.is_empty() {
        LayerStatus::Pass
    } else {
        LayerStatus::Fail
    };
    Layer::new("env", status, parts.join("; ")).with(EnvDetails {
        set: if after_open {
            "after plugin.Open"
        } else {
            "before plugin.Open"
        },
        vars: rows,
    })
}
