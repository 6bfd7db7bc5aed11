//! `plugctl diff` on fixture pairs: each time it names the setting, toolchain or module
//! that differs and how many package hashes that explains.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{fixtures, plugctl, run_with_timeout};
use serde_json::Value;

fn artifact(id: &str) -> PathBuf {
    let f = fixtures();
    f.path(&f.rel(id))
}

/// `plugctl diff A B` in both formats: (exit code, table text, JSON).
fn diff(a: &Path, b: &Path) -> (i32, String, Value) {
    let run = |json: bool| {
        let mut command = plugctl();
        command.arg("diff").arg(a).arg(b);
        if json {
            command.args(["--format", "json"]);
        }
        run_with_timeout(command, Duration::from_secs(60))
    };
    let table = run(false);
    let json = run(true);
    assert_eq!(table.code(), json.code(), "both formats exit alike");
    let value = serde_json::from_str(&json.stdout).unwrap_or(Value::Null);
    (table.code().unwrap_or(-1), table.stdout, value)
}

#[test]
fn host_and_naive_plugin_name_the_differing_setting() {
    // The fixture's default plugin is what a naive `go build -buildmode=plugin` gives.
    let naive = artifact("go/plugin/1.26.6/default");
    let cases = [
        (
            "go/host/1.26.6/trimpath",
            "-trimpath differs: host true, plugin unset",
            "internal/goarch",
        ),
        (
            "go/host/1.26.6/race",
            "-race differs: host true, plugin unset",
            "internal/runtime/sys",
        ),
        (
            "go/host/1.26.5/default",
            "toolchain differs: host go1.26.5, plugin go1.26.6",
            "internal/godebugs",
        ),
        (
            "go/host/1.26.6/shared-v2",
            "module example.com/shared differs",
            "example.com/shared",
        ),
        (
            "go/host/1.26.6/noopt",
            "-gcflags differs: host all=-N -l, plugin unset",
            "internal/abi",
        ),
    ];
    for (host, cause, first) in cases {
        let (code, table, json) = diff(&artifact(host), &naive);
        assert_eq!(code, 1, "{host}:\n{table}");
        let verdict = json["verdict"].as_str().unwrap();
        assert!(
            verdict.contains(cause),
            "{host}: verdict should name `{cause}`: {verdict}"
        );
        assert!(verdict.contains("explains"), "{host}: {verdict}");
        assert!(table.contains(cause), "{host}:\n{table}");
        assert_eq!(
            json["first_mismatch"],
            format!("plugin was built with a different version of package {first}"),
            "{host}: the first package in the plugin's check order"
        );
        assert_eq!(json["packages"]["differing"][0]["path"], first);
        assert_eq!(json["a"]["label"], "host");
        assert_eq!(json["b"]["label"], "plugin");
        assert!(
            json["packages"]["order"]
                .as_str()
                .unwrap()
                .contains("plugin's plugin table")
        );
    }
}

#[test]
fn plugin_pairs_name_the_differing_setting() {
    let default = artifact("go/plugin/1.26.6/default");
    let cases = [
        (
            "go/plugin/1.26.6/trimpath",
            "-trimpath differs: A unset, B true",
        ),
        ("go/plugin/1.26.6/race", "-race differs: A unset, B true"),
        (
            "go/plugin/1.26.5/default",
            "toolchain differs: A go1.26.6, B go1.26.5",
        ),
        (
            "go/plugin/1.26.6/shared-v2",
            "module example.com/shared differs",
        ),
        ("go/plugin/1.27.3/default", "different minor releases"),
    ];
    for (other, cause) in cases {
        let (code, table, json) = diff(&default, &artifact(other));
        assert_eq!(code, 1, "{other}:\n{table}");
        let verdict = json["verdict"].as_str().unwrap();
        assert!(
            verdict.contains(cause),
            "{other}: verdict should name `{cause}`: {verdict}"
        );
        let n = json["packages"]["differing"].as_array().unwrap().len();
        assert!(n > 0, "{other}");
        assert!(
            verdict.contains(&format!("explains {n} differing package hash")),
            "{other}: {verdict}"
        );
    }
    // Flags that do not change package hashes are named but explain no hash.
    let (code, _, json) = diff(&default, &artifact("go/plugin/1.26.6/goamd64-v3"));
    assert_eq!(code, 1);
    assert_eq!(
        json["packages"]["differing"].as_array().unwrap().len(),
        0,
        "GOAMD64 does not change package hashes"
    );
    assert!(
        json["verdict"]
            .as_str()
            .unwrap()
            .contains("GOAMD64 differs"),
        "{}",
        json["verdict"]
    );
}

#[test]
fn host_and_matching_plugin_have_no_difference_that_matters() {
    let (code, table, json) = diff(
        &artifact("go/host/1.26.6/trimpath"),
        &artifact("go/plugin/1.26.6/trimpath"),
    );
    assert_eq!(code, 0, "{table}");
    assert_eq!(json["same_build_facts"], true);
    assert_eq!(json["packages"]["differing"].as_array().unwrap().len(), 0);
    assert!(
        json["verdict"]
            .as_str()
            .unwrap()
            .contains("no difference that matters for loading")
    );
}

#[test]
fn build_and_rebuild_at_another_path_without_trimpath() {
    // The same source built at two paths without -trimpath: the recorded directory differs.
    let shared = fixtures().dir.join("work/src/shared-v1");
    let work = tempfile::Builder::new()
        .prefix("plugctl-test-diff-")
        .tempdir()
        .unwrap();
    let go = {
        let base = std::env::var_os("PLUGCTL_CACHE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| {
                        PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache")
                    })
                    .join("plugctl")
            });
        (
            base.join("toolchains/go1.26.6/go/bin/go"),
            base.join("gocache"),
        )
    };
    let mut outputs = Vec::new();
    for (name, trimpath) in [("a", false), ("b", false), ("ta", true), ("tb", true)] {
        let dir = work.path().join(name).join("greeter");
        std::fs::create_dir_all(&dir).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/src/greeter");
        std::fs::copy(src.join("main.go"), dir.join("main.go")).unwrap();
        std::fs::write(
            dir.join("go.mod"),
            format!(
                "module example.com/greeter\n\ngo 1.21\n\nrequire example.com/shared v0.0.0\n\nreplace example.com/shared => {}\n",
                shared.display()
            ),
        )
        .unwrap();
        let out = work.path().join(format!("{name}.so"));
        let mut command = Command::new(&go.0);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GO") {
                command.env_remove(key);
            }
        }
        command
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOCACHE", &go.1)
            .env("CGO_ENABLED", "1")
            .args(["build", "-buildmode=plugin"])
            .args(if trimpath { vec!["-trimpath"] } else { vec![] })
            .arg("-o")
            .arg(&out)
            .arg(".")
            .current_dir(&dir);
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        outputs.push(out);
    }
    let (code, table, json) = diff(&outputs[0], &outputs[1]);
    assert_eq!(code, 1, "{table}");
    let verdict = json["verdict"].as_str().unwrap();
    let (a, b) = (
        work.path().join("a").display().to_string(),
        work.path().join("b").display().to_string(),
    );
    assert!(
        verdict.contains("source directories differ") && verdict.contains("-trimpath"),
        "{verdict}"
    );
    assert!(verdict.contains(&format!("{a} vs {b}")), "{verdict}");
    assert_eq!(
        json["packages"]["differing"][0]["path"], "example.com/greeter",
        "{table}"
    );
    assert!(json["settings"].as_array().unwrap().is_empty(), "{table}");

    // With -trimpath the two builds are the same file.
    let (code, table, json) = diff(&outputs[2], &outputs[3]);
    assert_eq!(code, 0, "{table}");
    assert_eq!(json["identical_bytes"], true);
    assert_eq!(json["verdict"], "identical files");
}

#[test]
fn unreadable_input_exits_2() {
    let mut command = plugctl();
    command
        .args(["diff", "/nonexistent/a.so"])
        .arg(artifact("go/plugin/1.26.6/default"));
    let done = run_with_timeout(command, Duration::from_secs(30));
    assert_eq!(done.code(), Some(2), "{}", done.stderr);
    assert!(done.stderr.contains("/nonexistent/a.so"), "{}", done.stderr);
}
