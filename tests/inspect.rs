//! `plugctl inspect` on the real fixture corpus: facts checked against independent tools
//! (readelf, `go version -m`), hostile inputs, exit codes.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{fixtures, plugctl, run_with_timeout};
use serde_json::Value;

fn inspect_json(paths: &[&Path]) -> (Option<i32>, Value, String) {
    let mut command = plugctl();
    command
        .args(["inspect", "--format", "json", "--symbols"])
        .args(paths);
    let done = run_with_timeout(command, Duration::from_secs(30));
    assert!(!done.timed_out, "plugctl timed out on {paths:?}");
    let doc = serde_json::from_str(&done.stdout)
        .unwrap_or_else(|e| panic!("JSON for {paths:?}: {e}: {}", done.stderr));
    (done.code(), doc, done.stderr)
}

fn readelf(args: &[&str], path: &Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(path)
        .output()
        .expect("readelf runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `[libc.so.6]` → `libc.so.6` for a `readelf -d` tag.
fn dynamic_values(dump: &str, tag: &str) -> Vec<String> {
    dump.lines()
        .filter(|l| l.contains(&format!("({tag})")))
        .filter_map(|l| Some(l[l.find('[')? + 1..l.rfind(']')?].to_string()))
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Checks one artifact's ELF facts against readelf's view of the same file.
fn check_elf_against_readelf(path: &Path, elf: &Value) {
    let dynamic = readelf(&["-W", "-d"], path);
    assert_eq!(
        strings(&elf["dynamic"]["needed"]),
        dynamic_values(&dynamic, "NEEDED"),
        "NEEDED of {path:?}"
    );
    assert_eq!(
        elf["dynamic"]["soname"].as_str().map(str::to_string),
        dynamic_values(&dynamic, "SONAME").first().cloned(),
        "SONAME of {path:?}"
    );
    for (field, tag) in [("rpath", "RPATH"), ("runpath", "RUNPATH")] {
        let expected: Vec<String> = dynamic_values(&dynamic, tag)
            .iter()
            .flat_map(|v| v.split(':').map(str::to_string))
            .collect();
        assert_eq!(
            strings(&elf["dynamic"][field]),
            expected,
            "{tag} of {path:?}"
        );
    }

    let versions = readelf(&["-W", "-V"], path);
    let mut expected_needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut file = None;
    let mut in_needs = false;
    for line in versions.lines() {
        if line.starts_with("Version needs section") {
            in_needs = true;
        } else if line.starts_with("Version") {
            in_needs = false;
        }
        if !in_needs {
            continue;
        }
        if let Some(rest) = line.split("File: ").nth(1) {
            file = Some(rest.split_whitespace().next().unwrap().to_string());
        } else if let Some(rest) = line.split("Name: ").nth(1) {
            let name = rest.split_whitespace().next().unwrap().to_string();
            expected_needs
                .entry(file.clone().unwrap())
                .or_default()
                .push(name);
        }
    }
    let mut actual_needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for need in elf["versions"]["needed"].as_array().unwrap() {
        let names = need["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_string());
        actual_needs
            .entry(need["library"].as_str().unwrap().to_string())
            .or_default()
            .extend(names);
    }
    assert_eq!(actual_needs, expected_needs, "verneed of {path:?}");

    let syms = readelf(&["-W", "--dyn-syms"], path);
    let rows: Vec<Vec<&str>> = syms
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| {
            f.len() >= 7
                && f[0]
                    .trim_end_matches(':')
                    .parse::<u64>()
                    .is_ok_and(|n| n > 0)
        })
        .collect();
    let undefined = rows
        .iter()
        .filter(|f| f[6] == "UND" && f.len() >= 8)
        .count();
    let defined = rows.iter().filter(|f| f[6] != "UND").count();
    assert_eq!(
        elf["symbols"]["defined"], defined,
        "defined dynamic symbols of {path:?}"
    );
    assert_eq!(
        elf["symbols"]["undefined"], undefined,
        "undefined dynamic symbols of {path:?}"
    );

    let segments = readelf(&["-W", "-l"], path);
    let tls = segments
        .lines()
        .map(str::split_whitespace)
        .find_map(|mut f| {
            (f.next() == Some("TLS")).then(|| {
                u64::from_str_radix(f.nth(4).unwrap().trim_start_matches("0x"), 16).unwrap()
            })
        });
    assert_eq!(elf["tls"]["size"].as_u64(), tls, "PT_TLS size of {path:?}");
    let stack = segments
        .lines()
        .find(|l| l.trim_start().starts_with("GNU_STACK"));
    let exec_stack = stack.is_none_or(|l| l.contains("RWE"));
    assert_eq!(
        elf["segments"]["exec_stack"], exec_stack,
        "GNU_STACK of {path:?}"
    );
}

#[test]
fn elf_facts_match_readelf_on_every_fixture() {
    let fx = fixtures();
    let mut checked = 0;
    for kind in ["c-shared", "go-plugin", "go-host", "c-host"] {
        for art in fx.artifacts_of_kind(kind) {
            let Some(rel) = art["path"].as_str() else {
                continue;
            };
            let path = fx.path(rel);
            let (_, doc, stderr) = inspect_json(&[&path]);
            let artifact = &doc["artifacts"][0];
            assert_eq!(artifact["status"], "ok", "{rel}: {stderr}");
            check_elf_against_readelf(&path, &artifact["elf"]);
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} fixtures checked");
}

/// `go version -m` lines after the first, as (kind, fields).
fn go_version_m(path: &Path) -> Vec<(String, Vec<String>)> {
    let go = fixtures_go();
    let out = Command::new(go)
        .args(["version", "-m"])
        .arg(path)
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap();
    assert!(out.status.success(), "go version -m {path:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut fields: Vec<String> = l
                .trim_start_matches('\t')
                .split('\t')
                .map(str::to_string)
                .collect();
            while fields.last().is_some_and(|f| f.is_empty()) {
                fields.pop();
            }
            (fields[0].clone(), fields[1..].to_vec())
        })
        .collect()
}

fn fixtures_go() -> std::path::PathBuf {
    let base = std::env::var_os("PLUGCTL_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/plugctl")
        });
    base.join("toolchains/go1.26.6/go/bin/go")
}

/// `debug/buildinfo`'s quoting of build setting keys and values in `go version -m`.
fn go_quote(text: &str) -> String {
    if text.contains([' ', '\t', '\r', '\n', '"', '`']) {
        format!("{text:?}")
    } else {
        text.to_string()
    }
}

fn module_fields(module: &Value) -> Vec<String> {
    let mut fields = vec![
        module["path"].as_str().unwrap().to_string(),
        module["version"].as_str().unwrap().to_string(),
    ];
    let sum = module["sum"].as_str().unwrap_or("");
    if !sum.is_empty() {
        fields.push(sum.to_string());
    }
    fields
}

#[test]
fn go_facts_match_go_version_m_on_every_go_fixture() {
    let fx = fixtures();
    let mut checked = 0;
    for kind in ["go-plugin", "go-host"] {
        for art in fx.artifacts_of_kind(kind) {
            let Some(rel) = art["path"].as_str() else {
                continue;
            };
            if art["arch"] != "x86_64" {
                continue;
            }
            let path = fx.path(rel);
            let (_, doc, _) = inspect_json(&[&path]);
            let go = &doc["artifacts"][0]["go"];
            assert!(go.is_object(), "{rel}: no Go facts");
            let mut expected = Vec::new();
            let mut actual = Vec::new();
            for (kind, fields) in go_version_m(&path) {
                expected.push(format!("{kind} {}", fields.join(" ")));
            }
            if let Some(main) = go["main_path"].as_str() {
                actual.push(format!("path {main}"));
            }
            if go["main_module"].is_object() {
                actual.push(format!(
                    "mod {}",
                    module_fields(&go["main_module"]).join(" ")
                ));
            }
            for dep in go["deps"].as_array().unwrap() {
                actual.push(format!("dep {}", module_fields(dep).join(" ")));
                if dep["replace"].is_object() {
                    actual.push(format!("=> {}", module_fields(&dep["replace"]).join(" ")));
                }
            }
            for setting in go["settings"].as_array().unwrap() {
                let (key, value) = (
                    setting["key"].as_str().unwrap(),
                    setting["value"].as_str().unwrap(),
                );
                actual.push(format!("build {}={}", go_quote(key), go_quote(value)));
            }
            assert_eq!(actual, expected, "build info of {rel}");
            let version = Command::new(fixtures_go())
                .args(["version"])
                .arg(&path)
                .output()
                .unwrap();
            let version = String::from_utf8_lossy(&version.stdout);
            assert!(
                version
                    .trim_end()
                    .ends_with(go["version"].as_str().unwrap()),
                "{rel}: {version} vs {}",
                go["version"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} Go fixtures checked");
}

#[test]
fn every_malformed_fixture_gives_one_clear_line_or_a_finding() {
    let fx = fixtures();
    for art in fx.artifacts_of_kind("malformed") {
        let rel = art["path"].as_str().unwrap();
        let path = fx.path(rel);
        let mut command = plugctl();
        command.args(["inspect"]).arg(&path);
        let done = run_with_timeout(command, Duration::from_secs(5));
        assert!(
            done.elapsed < Duration::from_secs(1),
            "{rel} took {:?}",
            done.elapsed
        );
        assert!(
            !done.stderr.contains("panicked"),
            "{rel} panicked: {}",
            done.stderr
        );
        match done.code() {
            Some(2) => {
                let lines: Vec<&str> = done.stderr.lines().collect();
                assert_eq!(
                    lines.len(),
                    1,
                    "{rel}: expected one error line, got {:?}",
                    done.stderr
                );
                assert!(
                    lines[0].starts_with(&format!("plugctl: {}: ", path.display())),
                    "{rel}: {}",
                    lines[0]
                );
            }
            Some(0 | 1) => {
                let (_, doc, _) = inspect_json(&[&path]);
                let findings = doc["artifacts"][0]["findings"].as_array().unwrap();
                let flagged = findings.iter().any(|f| f["code"] == "PC001")
                    || doc["artifacts"][0]["load"]["outcome"] != "ok";
                assert!(flagged, "{rel} was read without any finding: {findings:?}");
            }
            other => panic!("{rel}: exit {other:?}: {}", done.stderr),
        }
    }
}

#[test]
fn special_files_exit_2_with_the_path_named() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.so");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let missing = dir.path().join("missing.so");
    let cases: [(&Path, &str); 3] = [
        (dir.path(), "is a directory"),
        (&fifo, "is a FIFO"),
        (&missing, "no such file or directory"),
    ];
    for (path, problem) in cases {
        let mut command = plugctl();
        command.arg("inspect").arg(path);
        let done = run_with_timeout(command, Duration::from_secs(5));
        assert_eq!(done.code(), Some(2), "{path:?}");
        assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
        assert!(
            done.stderr
                .starts_with(&format!("plugctl: {}: {problem}", path.display())),
            "{}",
            done.stderr
        );
    }
}

#[test]
fn inputs_are_never_modified() {
    let fx = fixtures();
    let path = fx.path(&fx.rel("go/plugin/1.26.6/default"));
    let before = std::fs::read(&path).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let (code, _, _) = inspect_json(&[&path]);
    assert!(matches!(code, Some(0 | 1)));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
}

#[test]
fn exit_code_follows_fail_on() {
    let fx = fixtures();
    let execstack = fx.path(&fx.rel("c/misc/libexecstack.so"));
    let run = |fail_on: &str| {
        plugctl()
            .args(["inspect", "--fail-on", fail_on])
            .arg(&execstack)
            .output()
            .unwrap()
            .status
            .code()
    };
    // An executable stack is a warning: it loads on glibc 2.36.
    assert_eq!(run("error"), Some(0));
    assert_eq!(run("warning"), Some(1));
    assert_eq!(run("never"), Some(0));
}
