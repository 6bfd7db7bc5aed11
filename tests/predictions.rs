//! Every host×plugin pair of the fixture corpus is loaded for real (a Go host calling
//! plugin.Open, or a C host calling dlopen, each in a fresh process with a timeout) and
//! compared with `plugctl inspect --host`'s static prediction: outcome and exact message,
//! and the CI gate: plugctl's exit status and finding severities against the real loads.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::loads::{Observed, clear_loader_env, disagreement, observe};
use common::{fixtures, plugctl, run_with_timeout};
use serde_json::Value;

fn host_command(dir: &std::path::Path, pair: &Value, manifest: &Value) -> Command {
    let host_id = pair["host"].as_str().unwrap();
    let host = manifest["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == host_id)
        .unwrap();
    let mut command = Command::new(dir.join(host["path"].as_str().unwrap()));
    command.current_dir(dir);
    if pair["lazy"] == true {
        command.arg("--lazy");
    }
    apply_pair_env(&mut command, dir, pair);
    command
}

/// The environment a pair runs in; plugctl gets exactly the same one.
fn apply_pair_env(command: &mut Command, dir: &std::path::Path, pair: &Value) {
    clear_loader_env(command);
    let dirs: Vec<String> = pair["ld_library_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| dir.join(d.as_str().unwrap()).display().to_string())
        .collect();
    if !dirs.is_empty() {
        command.env("LD_LIBRARY_PATH", dirs.join(":"));
    }
    for (key, value) in pair["env"].as_object().unwrap() {
        command.env(key, value.as_str().unwrap());
    }
}

fn plugin_paths(pair: &Value, manifest: &Value) -> Vec<String> {
    pair["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            let art = manifest["artifacts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["id"] == *id)
                .unwrap();
            art["path"].as_str().unwrap().to_string()
        })
        .collect()
}

/// plugctl's answer for one pair: its exit status and each artifact's JSON object.
struct Predicted {
    exit: i32,
    artifacts: Vec<Value>,
}

fn predict(dir: &std::path::Path, pair: &Value, manifest: &Value, plugins: &[String]) -> Predicted {
    let host_id = pair["host"].as_str().unwrap();
    let host = manifest["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == host_id)
        .unwrap();
    let mut command = plugctl();
    command.current_dir(dir);
    apply_pair_env(&mut command, dir, pair);
    // A pair is one host process opening its plugins in order.
    command.args([
        "inspect",
        "--sequence",
        "--format",
        "json",
        "--host",
        host["path"].as_str().unwrap(),
    ]);
    if pair["lazy"] == true {
        command.arg("--lazy");
    }
    command.args(plugins);
    let finished = run_with_timeout(command, Duration::from_secs(30));
    assert!(!finished.timed_out, "plugctl timed out on {}", pair["id"]);
    assert!(
        matches!(finished.code(), Some(0..=2)),
        "plugctl crashed on {}: {finished:?}",
        pair["id"]
    );
    let doc: Value = serde_json::from_str(&finished.stdout)
        .unwrap_or_else(|e| panic!("plugctl JSON for {}: {e}\n{}", pair["id"], finished.stderr));
    Predicted {
        exit: finished.code().unwrap(),
        artifacts: doc["artifacts"].as_array().unwrap().clone(),
    }
}

/// The CI gate for one artifact: a load that fails for real carries an error-level
/// finding (so the default `--fail-on error` fails), one that loads carries none.
fn gate_disagreement(observed: &Observed, artifact: &Value) -> Option<String> {
    let errors: Vec<&str> = artifact["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    let loads = *observed == Observed::Ok;
    (loads != errors.is_empty()).then(|| {
        format!("observed {observed:?}, error findings {errors:?}: the CI gate would be wrong")
    })
}

#[test]
fn predictions_agree_with_real_loads_for_every_pair() {
    let fx = fixtures();
    let manifest = &fx.manifest;
    let mut per_category: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut exit_agree = (0usize, 0usize);
    let mut gate_agree = (0usize, 0usize);
    for pair in manifest["pairs"].as_array().unwrap() {
        let category = pair["category"].as_str().unwrap().to_string();
        if category == "go-env-timing" {
            continue; // checked by env_timing_* below
        }
        let plugins = plugin_paths(pair, manifest);
        let mut command = host_command(&fx.dir, pair, manifest);
        command.args(
            pair["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap()),
        );
        command.args(&plugins);
        let finished = run_with_timeout(command, Duration::from_secs(60));
        let observed = observe(&finished, &plugins);
        let predicted = predict(&fx.dir, pair, manifest, &plugins);
        let really_fails = observed
            .iter()
            .any(|seen| seen.as_ref().is_none_or(|s| *s != Observed::Ok));
        // 2 when an input is not a readable ELF file (still a failing gate), else 1.
        let unreadable = predicted.artifacts.iter().any(|a| a["status"] == "error");
        let expected_exit = match (really_fails, unreadable) {
            (false, _) => 0,
            (true, false) => 1,
            (true, true) => 2,
        };
        exit_agree.1 += 1;
        if predicted.exit == expected_exit {
            exit_agree.0 += 1;
        } else {
            failures.push(format!(
                "{}: plugctl exits {}, the real load {}",
                pair["id"],
                predicted.exit,
                if really_fails { "fails" } else { "succeeds" }
            ));
        }
        for (index, (seen, artifact)) in observed.iter().zip(&predicted.artifacts).enumerate() {
            let Some(seen) = seen else { continue };
            let entry = per_category.entry(category.clone()).or_default();
            entry.1 += 1;
            match disagreement(seen, &artifact["load"]) {
                None => entry.0 += 1,
                Some(why) => failures.push(format!(
                    "{} [{}] {}: {why}",
                    pair["id"], index, plugins[index]
                )),
            }
            gate_agree.1 += 1;
            match gate_disagreement(seen, artifact) {
                None => gate_agree.0 += 1,
                Some(why) => failures.push(format!(
                    "{} [{}] {}: {why}",
                    pair["id"], index, plugins[index]
                )),
            }
        }
    }
    let (agree, total) = per_category
        .values()
        .fold((0, 0), |acc, v| (acc.0 + v.0, acc.1 + v.1));
    eprintln!("prediction agreement by category:");
    for (category, (a, t)) in &per_category {
        eprintln!("  {category:<20} {a}/{t}");
    }
    eprintln!("  {:<20} {agree}/{total}", "all");
    eprintln!(
        "exit status vs real load (pairs): {}/{}; error findings vs real load (artifacts): {}/{}",
        exit_agree.0, exit_agree.1, gate_agree.0, gate_agree.1
    );
    assert!(
        total >= 250,
        "the corpus should give at least 250 loads, got {total}"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} predictions disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
