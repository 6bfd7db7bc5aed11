//! Real loads vs predictions: parsing a ground-truth host's output and comparing it with
//! `plugctl inspect`'s `load` object (outcome and exact message). Shared by the
//! prediction tests.

use std::process::Command;

use serde_json::Value;

use super::Finished;

/// Removes the variables that change how a real load goes (search paths, preloads, glibc
/// tunables, Go's runtime settings), so a pair runs only in the environment it states.
pub fn clear_loader_env(command: &mut Command) {
    for var in [
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "GLIBC_TUNABLES",
        "GODEBUG",
        "GOTRACEBACK",
    ] {
        command.env_remove(var);
    }
}

/// What really happened to one plugin of a pair.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    Ok,
    Err(String),
    /// The host died while opening it: the first line it printed, or the signal.
    Crash(String),
}

/// Parses `OK <path>` / `ERR <path>: <error>` lines of loadhost/dlhost; a plugin after
/// the last line crashed the host, later ones never ran (`None`).
pub fn observe(finished: &Finished, plugins: &[String]) -> Vec<Option<Observed>> {
    let mut results: Vec<Option<Observed>> = Vec::new();
    for line in finished.stdout.lines() {
        if let Some(rest) = line.strip_prefix("OK ") {
            assert!(
                plugins.get(results.len()).is_some_and(|p| p == rest),
                "unexpected line {line}"
            );
            results.push(Some(Observed::Ok));
        } else if let Some(rest) = line.strip_prefix("ERR ") {
            let path = &plugins[results.len()];
            let error = rest
                .strip_prefix(&format!("{path}: "))
                .expect("ERR line names the plugin");
            results.push(Some(Observed::Err(error.to_string())));
        }
    }
    let clean_exit = finished.code() == Some(0) && !finished.timed_out;
    if results.len() < plugins.len() {
        assert!(
            !clean_exit,
            "host exited cleanly without reporting every plugin: {finished:?}"
        );
        let first_line = finished.stderr.lines().find(|l| !l.trim().is_empty());
        let crash = match (first_line, finished.signal()) {
            (Some(line), _) => line.to_string(),
            (None, Some(7)) => "Bus error".to_string(),
            (None, Some(11)) => "Segmentation fault".to_string(),
            (None, signal) => format!("killed ({signal:?}, timed out: {})", finished.timed_out),
        };
        results.push(Some(Observed::Crash(crash)));
    }
    results.resize(plugins.len(), None);
    results
}

/// Whether a prediction matches what happened; `None` when it does.
pub fn disagreement(observed: &Observed, load: &Value) -> Option<String> {
    let outcome = load["outcome"].as_str().unwrap_or("<none>");
    let error = load["error"].as_str();
    let ok = match observed {
        Observed::Ok => outcome == "ok",
        Observed::Err(text) => {
            outcome != "ok" && outcome != "crash" && error == Some(text.as_str())
        }
        Observed::Crash(first) => {
            matches!(outcome, "crash" | "not-a-plugin" | "truncated")
                && error == Some(first.as_str())
        }
    };
    (!ok).then(|| format!("observed {observed:?}, predicted {outcome}: {error:?}"))
}
