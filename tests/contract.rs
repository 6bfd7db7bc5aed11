//! `plugctl contract` and the contract part of `plugctl diff`, against real plugins:
//!
//! - the static reading of every export equals what `reflect` says in a real host
//!   (`reflecthost`, built per toolchain by tests/fixtures/build.py, opens the plugin,
//!   lists the symbols the runtime registered and prints their types as JSON);
//! - `diff` classifies every change of the v2-breaking and v2-compat builds, and finds
//!   none between builds that differ only in toolchain patch or build flags;
//! - emitted schemas pass the draft 2020-12 meta-schema, and the config files under
//!   tests/fixtures/src/contract/configs get the expected verdicts and JSON paths.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{fixtures, plugctl, run_with_timeout};
use serde_json::Value;

const MAIN_GO: &str = "1.26.6";

fn contract_plugin(go: &str, variant: &str) -> PathBuf {
    let f = fixtures();
    f.path(&f.rel(&format!("go/contract-plugin/{go}/{variant}")))
}

fn run(command: Command) -> common::Finished {
    let done = run_with_timeout(command, Duration::from_secs(60));
    assert!(!done.timed_out, "timed out");
    done
}

fn contract_json(plugin: &Path) -> Value {
    let mut c = plugctl();
    c.args(["contract", "--format", "json"]).arg(plugin);
    let done = run(c);
    assert_eq!(
        done.code(),
        Some(0),
        "{}: {}",
        plugin.display(),
        done.stderr
    );
    serde_json::from_str(&done.stdout).expect("contract JSON")
}

/// What reflect says, or why the host could not open the plugin.
fn reflect_json(host: &Path, plugin: &Path, lib_path: Option<&str>) -> Result<Value, String> {
    let mut c = Command::new(host);
    c.arg(plugin);
    if let Some(dirs) = lib_path {
        c.env("LD_LIBRARY_PATH", dirs);
    }
    let done = run(c);
    if done.code() != Some(0) {
        return Err(done.stderr.trim().to_string());
    }
    serde_json::from_str(&done.stdout).map_err(|e| e.to_string())
}

#[test]
fn static_contract_equals_reflect_for_every_export() {
    let f = fixtures();
    let hosts: Vec<(String, PathBuf)> = f
        .artifacts_of_kind("go-reflect-host")
        .map(|a| {
            (
                a["go"].as_str().unwrap().to_string(),
                f.path(a["path"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(hosts.len(), 5, "one reflect host per toolchain");
    // Every x86-64 Go plugin of the corpus built with default-compatible flags, and
    // every contract plugin: the ones a std-only host of the same toolchain can open.
    let mut plugins: Vec<(String, PathBuf, bool, Option<String>)> = Vec::new();
    for kind in ["go-contract-plugin", "go-lifecycle-plugin", "go-plugin"] {
        for a in f.artifacts_of_kind(kind) {
            let (Some(path), Some(go)) = (a["path"].as_str(), a["go"].as_str()) else {
                continue;
            };
            if a["arch"] != "x86_64" {
                continue;
            }
            let flags = &a["flags"];
            // -trimpath/-race/-gcflags change std package hashes: the default host
            // refuses them (plugin.Open's package check), so reflect cannot see them.
            let comparable =
                flags["trimpath"] != true && flags["race"] != true && flags["gcflags"].is_null();
            if comparable {
                let required = kind == "go-contract-plugin"
                    || a["flags"]["build_args"] == Value::Array(vec![]);
                // Plugins whose DT_NEEDED library lives off the search path.
                let lib_path = a["needs_ld_library_path"].as_array().map(|dirs| {
                    dirs.iter()
                        .map(|d| f.path(d.as_str().unwrap()).display().to_string())
                        .collect::<Vec<_>>()
                        .join(":")
                });
                plugins.push((go.to_string(), f.path(path), required, lib_path));
            }
        }
    }
    let mut agree = 0;
    let mut total = 0;
    let mut skipped = Vec::new();
    let mut mismatches = Vec::new();
    for (go, plugin, required, lib_path) in &plugins {
        let host = &hosts
            .iter()
            .find(|h| &h.0 == go)
            .expect("host for toolchain")
            .1;
        let reflected = match reflect_json(host, plugin, lib_path.as_deref()) {
            Ok(v) => v,
            Err(why) => {
                assert!(
                    !required,
                    "{}: reflect host failed: {why}",
                    plugin.display()
                );
                skipped.push(format!("{}: {why}", plugin.display()));
                continue;
            }
        };
        let ours = contract_json(plugin);
        let want: Vec<&Value> = reflected["symbols"].as_array().unwrap().iter().collect();
        let got = ours["symbols"].as_array().unwrap();
        let names = |v: &mut dyn Iterator<Item = &Value>| {
            v.map(|s| s["name"].as_str().unwrap().to_string())
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(
            names(&mut want.iter().copied()),
            names(&mut got.iter()),
            "{}: the symbol set differs from the runtime's",
            plugin.display()
        );
        for w in want {
            total += 1;
            let g = got.iter().find(|g| g["name"] == w["name"]).unwrap();
            if g["kind"] == w["kind"] && g["type"] == w["type"] {
                agree += 1;
            } else {
                mismatches.push(format!(
                    "{} {}:\n  reflect {}\n  plugctl {}",
                    plugin.display(),
                    w["name"],
                    w["type"],
                    g["type"]
                ));
            }
        }
    }
    eprintln!(
        "static contract vs reflect: {agree}/{total} symbols agree over {} plugins ({} not openable by a default host: {:?})",
        plugins.len() - skipped.len(),
        skipped.len(),
        skipped
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(total >= 50, "too few symbols compared: {total}");
}

#[test]
fn inspect_json_carries_the_same_export_types() {
    let plugin = contract_plugin(MAIN_GO, "v1");
    let mut c = plugctl();
    c.args(["inspect", "--format", "json"]).arg(&plugin);
    let done = run(c);
    let doc: Value = serde_json::from_str(&done.stdout).expect("inspect JSON");
    let exports = doc["artifacts"][0]["go"]["exports"].as_array().unwrap();
    let contract = contract_json(&plugin);
    assert_eq!(exports.len(), 10);
    for e in exports {
        let s = contract["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == e["name"])
            .unwrap();
        assert_eq!(e["type"], s["type"], "{}", e["name"]);
    }
}

/// (kind, class, subject) of every contract change `diff A B` reports.
fn contract_changes(a: &Path, b: &Path) -> (i32, BTreeSet<(String, String, String)>, Value) {
    let mut c = plugctl();
    c.args(["diff", "--format", "json"]).arg(a).arg(b);
    let done = run(c);
    let doc: Value = serde_json::from_str(&done.stdout).expect("diff JSON");
    let changes = doc["contract"]["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no contract section: {}", done.stdout))
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["class"].as_str().unwrap().to_string(),
                c["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (done.code().unwrap_or(-1), changes, doc["contract"].clone())
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn diff_classifies_every_contract_change() {
    let v1 = contract_plugin(MAIN_GO, "v1");
    let (code, changes, doc) = contract_changes(&v1, &contract_plugin(MAIN_GO, "v2-breaking"));
    assert_eq!(
        changes,
        set(&[
            ("signature_changed", "breaking", "Validate"),
            ("field_retyped", "breaking", "main.Config.Retries"),
            ("tag_tightened", "breaking", "main.Config.Name"),
        ]),
        "{doc:#}"
    );
    assert_eq!(code, 1, "breaking changes exit 1");

    let (_, changes, doc) = contract_changes(&v1, &contract_plugin(MAIN_GO, "v2-compat"));
    assert_eq!(
        changes,
        set(&[
            ("symbol_added", "compatible", "Health"),
            ("field_added", "compatible", "main.Config.Region"),
        ]),
        "{doc:#}"
    );

    // Reversed, the compatible build's changes are breaking for a host built against it.
    let (_, changes, _) = contract_changes(&contract_plugin(MAIN_GO, "v2-compat"), &v1);
    assert_eq!(
        changes,
        set(&[
            ("symbol_removed", "breaking", "Health"),
            ("field_removed", "breaking", "main.Config.Region"),
        ])
    );
    let (_, changes, _) = contract_changes(&contract_plugin(MAIN_GO, "v2-breaking"), &v1);
    assert!(changes.contains(&(
        "tag_loosened".into(),
        "compatible".into(),
        "main.Config.Name".into()
    )));
}

#[test]
fn fingerprints_ignore_toolchain_patch_and_build_flags() {
    // Same source, another patch release: no contract change, every fingerprint equal.
    let (_, changes, doc) = contract_changes(
        &contract_plugin(MAIN_GO, "v1"),
        &contract_plugin("1.26.5", "v1"),
    );
    assert!(changes.is_empty(), "{doc:#}");
    assert_eq!(doc["unchanged_symbols"], 10);
    // The greeter built with -trimpath, -race, -ldflags=-s -w, GOAMD64=v3, -N -l, and
    // for arm64 (read with the artifact's own pointer size and byte order).
    let f = fixtures();
    let base = f.path(&f.rel("go/plugin/1.26.6/default"));
    for variant in [
        "trimpath",
        "race",
        "ldflags-sw",
        "goamd64-v3",
        "noopt",
        "arm64",
    ] {
        let other = f.path(&f.rel(&format!("go/plugin/1.26.6/{variant}")));
        let (_, changes, doc) = contract_changes(&base, &other);
        assert!(changes.is_empty(), "{variant}: {doc:#}");
        assert_eq!(doc["unchanged_symbols"], 6, "{variant}: {doc:#}");
    }
}

fn schema(plugin: &Path, name: &str) -> Value {
    let mut c = plugctl();
    c.args(["contract", "--schema", name]).arg(plugin);
    let done = run(c);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    serde_json::from_str(&done.stdout).expect("schema JSON")
}

#[test]
fn schemas_pass_the_meta_schema() {
    let plugin = contract_plugin(MAIN_GO, "v1");
    let contract = contract_json(&plugin);
    let structs: Vec<&str> = contract["structs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(structs.contains(&"main.Config") && structs.contains(&"main.Node"));
    for name in &structs {
        let s = schema(&plugin, name);
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        if let Err(e) = jsonschema::meta::validate(&s) {
            panic!("{name}: schema fails the meta-schema: {e}\n{s:#}");
        }
    }
    // The check can fail: a broken schema is rejected.
    let mut broken = schema(&plugin, "Config");
    broken["properties"]["name"]["minLength"] = Value::from(-1);
    assert!(jsonschema::meta::validate(&broken).is_err());
    // Lookup by type name and by exported variable give the same schema.
    assert_eq!(schema(&plugin, "Default"), schema(&plugin, "main.Config"));
}

#[test]
fn configs_get_the_right_verdicts_and_paths() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/src/contract/configs");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let mut checked = 0;
    for go in ["1.21.13", "1.22.10", "1.26.5", MAIN_GO, "1.27.3"] {
        let plugin = contract_plugin(go, "v1");
        for (file, want) in expected.as_object().unwrap() {
            if file.starts_with('_') {
                continue;
            }
            let mut c = plugctl();
            c.args([
                "contract", "--schema", "Config", "--format", "json", "--config",
            ])
            .arg(dir.join(file))
            .arg(&plugin);
            let done = run(c);
            let verdict: Value = serde_json::from_str(&done.stdout)
                .unwrap_or_else(|_| panic!("{file}: {}", done.stderr));
            let mut paths: Vec<&str> = verdict["violations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["path"].as_str().unwrap())
                .collect();
            paths.sort();
            let want: Vec<&str> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(paths, want, "{go} {file}: {verdict:#}");
            assert_eq!(
                done.code(),
                Some(if want.is_empty() { 0 } else { 1 }),
                "{go} {file}"
            );
            checked += 1;
        }
    }
    eprintln!("config verdicts: {checked}/{checked} right");
}

#[test]
fn bad_inputs_exit_2_with_one_line_naming_the_file() {
    let f = fixtures();
    let tmp = tempfile::tempdir().unwrap();
    let not_json = tmp.path().join("config.json");
    std::fs::write(&not_json, "{ nope").unwrap();
    let plugin = contract_plugin(MAIN_GO, "v1");
    let host = f.path(&f.rel("go/host/1.26.6/default"));
    let missing = tmp.path().join("missing.so");
    let cases: Vec<(Vec<&std::ffi::OsStr>, &Path)> = vec![
        (vec!["contract".as_ref(), host.as_os_str()], &host),
        (vec!["contract".as_ref(), missing.as_os_str()], &missing),
        (
            vec![
                "contract".as_ref(),
                plugin.as_os_str(),
                "--schema".as_ref(),
                "Config".as_ref(),
                "--config".as_ref(),
                not_json.as_os_str(),
            ],
            &not_json,
        ),
        (
            vec![
                "contract".as_ref(),
                plugin.as_os_str(),
                "--symbol".as_ref(),
                "Nope".as_ref(),
            ],
            &plugin,
        ),
    ];
    for (args, named) in cases {
        let mut c = plugctl();
        c.args(&args);
        let done = run(c);
        assert_eq!(done.code(), Some(2), "{args:?}: {}", done.stderr);
        assert_eq!(done.stderr.lines().count(), 1, "{args:?}: {}", done.stderr);
        assert!(
            done.stderr.contains(&*named.to_string_lossy()),
            "{args:?}: {}",
            done.stderr
        );
    }
}

/// `load --lifecycle-check` on one plugin: (exit code, transition -> reaction, phases).
fn lifecycle_check(plugin: &Path, extra: &[&str]) -> (i32, Vec<(String, String)>, Value) {
    let mut c = plugctl();
    c.args(["load", "--lifecycle-check", "--format", "json"])
        .args(extra)
        .arg(plugin);
    let done = run_with_timeout(c, Duration::from_secs(120));
    assert!(!done.timed_out);
    let doc: Value = serde_json::from_str(&done.stdout)
        .unwrap_or_else(|_| panic!("{}: {}", plugin.display(), done.stderr));
    let layer = doc["artifacts"][0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["layer"] == "lifecycle-check")
        .unwrap_or_else(|| panic!("no lifecycle-check layer: {doc:#}"))
        .clone();
    let reactions = layer["details"]["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["transition"].as_str().unwrap().to_string(),
                t["reaction"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (done.code().unwrap_or(-1), reactions, layer)
}

const TRANSITIONS: [&str; 4] = [
    "run_before_init",
    "init_twice",
    "run_after_close",
    "close_twice",
];

#[test]
fn lifecycle_check_gives_the_right_class_per_plugin() {
    let f = fixtures();
    let plugins: Vec<(PathBuf, String)> = f
        .artifacts_of_kind("go-lifecycle-plugin")
        .map(|a| {
            (
                f.path(a["path"].as_str().unwrap()),
                a["lifecycle_reaction"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(plugins.len(), 4, "refuse, panic, hang, accept");
    let mut right = 0;
    for (plugin, reaction) in &plugins {
        let (code, got, layer) = lifecycle_check(plugin, &["--phase-timeout", "1s"]);
        let want: Vec<(String, String)> = TRANSITIONS
            .iter()
            .map(|t| (t.to_string(), reaction.clone()))
            .collect();
        assert_eq!(got, want, "{}: {layer:#}", plugin.display());
        right += got.len();
        // Default expectation: every illegal call refused.
        assert_eq!(
            code,
            if reaction == "refused" { 0 } else { 1 },
            "{}",
            plugin.display()
        );
        // A contract file stating the actual behaviour makes the check pass; one
        // stating another makes it fail.
        let tmp = tempfile::tempdir().unwrap();
        let state = |r: &str| {
            TRANSITIONS
                .iter()
                .map(|t| format!("{t} = \"{r}\"\n"))
                .collect::<String>()
        };
        let good = tmp.path().join("good.toml");
        std::fs::write(&good, format!("[lifecycle_check]\n{}", state(reaction))).unwrap();
        let other = if reaction == "accepted" {
            "refused"
        } else {
            "accepted"
        };
        let bad = tmp.path().join("bad.toml");
        std::fs::write(&bad, format!("[lifecycle_check]\n{}", state(other))).unwrap();
        let contract = |p: &Path| {
            vec![
                "--phase-timeout".to_string(),
                "1s".to_string(),
                "--contract".to_string(),
                p.display().to_string(),
            ]
        };
        let args = contract(&good);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(lifecycle_check(plugin, &args).0, 0, "{}", plugin.display());
        let args = contract(&bad);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(lifecycle_check(plugin, &args).0, 1, "{}", plugin.display());
    }
    eprintln!("lifecycle check: {right}/{right} transitions classified right over 4 plugins");
    // The greeter refuses Run before Init and after Close, and accepts the rest.
    let greeter = f.path(&f.rel("go/plugin/1.26.6/default"));
    let (code, got, _) = lifecycle_check(&greeter, &[]);
    assert_eq!(
        got,
        vec![
            ("run_before_init".to_string(), "refused".to_string()),
            ("init_twice".to_string(), "accepted".to_string()),
            ("run_after_close".to_string(), "refused".to_string()),
            ("close_twice".to_string(), "accepted".to_string()),
        ]
    );
    assert_eq!(code, 1);
}

#[test]
fn lifecycle_check_timeouts_follow_the_contract_file() {
    let f = fixtures();
    let hang = f
        .artifacts_of_kind("go-lifecycle-plugin")
        .find(|a| a["lifecycle_reaction"] == "hung")
        .map(|a| f.path(a["path"].as_str().unwrap()))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plugctl.toml");
    std::fs::write(
        &file,
        "[lifecycle_check]\ninit_timeout = \"1500ms\"\nrun_timeout = \"300ms\"\nclose_timeout = \"300ms\"\n",
    )
    .unwrap();
    let (_, got, layer) = lifecycle_check(&hang, &["--contract", file.to_str().unwrap()]);
    assert!(got.iter().all(|g| g.1 == "hung"), "{layer:#}");
    let ms_of = |transition: &str| -> f64 {
        let t = layer["details"]["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["transition"] == transition)
            .unwrap();
        t["phases"].as_array().unwrap().last().unwrap()["ms"]
            .as_f64()
            .unwrap()
    };
    // Init gets its own budget; Run and Close theirs.
    let init = ms_of("init_twice");
    assert!((1500.0..3000.0).contains(&init), "init hung for {init} ms");
    let close = ms_of("close_twice");
    assert!(
        (300.0..1400.0).contains(&close),
        "close hung for {close} ms"
    );
}
