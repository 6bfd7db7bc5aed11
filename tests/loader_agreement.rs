//! The loader model (ld.so emulation, no Go rules) against what the fixture corpus's
//! ground-truth hosts really printed (`observed.json`, recorded by tests/fixtures/build.py):
//! every pair whose outcome is decided by `dlopen`.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::fixtures;
use plugctl::elf::Artifact;
use plugctl::loader::{Environment, Loader, OpenMode, Plugin};

/// Loader errors as they appear at the end of a Go `plugin.Open` error or a dlhost line.
fn is_loader_error(text: &str) -> bool {
    [
        "cannot open shared object file",
        "wrong ELF class",
        "invalid ELF header",
        "file too short",
        "cannot read file data",
        "not found (required by",
        "undefined symbol:",
        "cannot allocate memory in static TLS block",
        "ELF file",
        "cannot dynamically load",
        "only ET_DYN and ET_EXEC",
        "no dynamic section",
        "cannot be dlopen()ed",
    ]
    .iter()
    .any(|p| text.contains(p))
}

#[test]
fn loader_model_agrees_with_every_recorded_fixture_load() {
    let fx = fixtures();
    let root = fx.dir.canonicalize().unwrap_or_else(|_| fx.dir.clone());
    let manifest = &fx.manifest;
    let observed = std::fs::read_to_string(root.join("observed.json"))
        .expect("the fixture build records observed.json");
    let observed: serde_json::Value = serde_json::from_str(&observed).unwrap();
    let paths: BTreeMap<&str, &str> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| Some((a["id"].as_str()?, a["path"].as_str()?)))
        .collect();
    let results: BTreeMap<&str, &serde_json::Value> = observed["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| Some((r["id"].as_str()?, r)))
        .collect();
    let mut parsed: BTreeMap<String, Option<Artifact>> = BTreeMap::new();
    let (mut agree, mut total) = (0, 0);
    for pair in manifest["pairs"].as_array().unwrap() {
        let id = pair["id"].as_str().unwrap();
        let host_id = pair["host"].as_str().unwrap();
        let Some(result) = results.get(id) else {
            continue;
        };
        let go_host = host_id.starts_with("go/host/");
        if host_id.starts_with("go/envhost") || host_id.ends_with("/nocgo") {
            continue; // no dlopen happens (argument protocol / plugin: not implemented)
        }
        let llp: Vec<String> = pair["ld_library_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| root.join(d.as_str().unwrap()).display().to_string())
            .collect();
        let tunables = pair["env"]["GLIBC_TUNABLES"].as_str();
        let env = Environment::build(
            (!llp.is_empty()).then(|| llp.join(":")),
            None,
            root.clone(),
            tunables.map(str::to_string),
            false,
        );
        let plugin_paths: Vec<PathBuf> = pair["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| root.join(paths[p.as_str().unwrap()]))
            .collect();
        for p in plugin_paths
            .iter()
            .chain([root.join(paths[host_id])].iter())
        {
            let key = p.display().to_string();
            parsed.entry(key).or_insert_with(|| Artifact::read(p).ok());
        }
        let host = parsed[&root.join(paths[host_id]).display().to_string()].as_ref();
        let plugins: Vec<Plugin> = plugin_paths
            .iter()
            .map(|p| match parsed[&p.display().to_string()].as_ref() {
                Some(a) => Plugin::Artifact(a),
                None => Plugin::Name(p.display().to_string()),
            })
            .collect();
        let mode = if go_host {
            OpenMode::GO_PLUGIN_OPEN
        } else {
            OpenMode {
                lazy: pair["lazy"].as_bool().unwrap_or(false),
                ..OpenMode::C_HOST
            }
        };
        let sim = Loader::new(&env).simulate_plugins(host, &plugins, mode);
        // Compare plugin by plugin, as far as the real run got.
        let stdout: Vec<&str> = result["stdout"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l.as_str())
            .collect();
        let crashed =
            result["signal"].as_str().is_some() || result["exit"].as_i64().is_some_and(|e| e != 0);
        let mut lines = Vec::new();
        let mut same = true;
        for (i, prediction) in sim.plugins.iter().enumerate() {
            let real = stdout.get(i).copied();
            let ok = prediction.verdict.outcome == plugctl::verdict::Outcome::Ok;
            let error = prediction.verdict.error.clone().unwrap_or_default();
            let agrees = match real {
                // The run ended before this plugin: a crash.
                None => {
                    let predicted_crash =
                        prediction.verdict.outcome == plugctl::verdict::Outcome::Crash;
                    // Go runtime crashes happen after a successful dlopen; SIGBUS inside it.
                    let bus = result["signal"].as_str() == Some("SIGBUS")
                        || result["fatal"].to_string().contains("SIGBUS");
                    crashed && (predicted_crash == bus || (go_host && ok && !bus))
                }
                Some(line) if line.starts_with("OK") => ok,
                Some(line) => {
                    let message = line.split_once(": ").map_or("", |(_, m)| m);
                    let dl = if go_host {
                        message.split_once("\"): ").map_or(message, |(_, m)| m)
                    } else {
                        message
                    };
                    if go_host && !is_loader_error(dl) {
                        ok
                    } else {
                        !ok && dl == error
                    }
                }
            };
            same &= agrees;
            lines.push(format!(
                "    real {:?}\n    pred {:?} {}",
                real, prediction.verdict.outcome, error
            ));
            if real.is_none() {
                break;
            }
        }
        total += 1;
        if same {
            agree += 1;
        } else {
            println!("DIFF {id}\n{}", lines.join("\n"));
        }
    }
    println!("fixture agreement: {agree}/{total} pairs");
    assert_eq!(agree, total);
}
