//! `plugctl load --wasm` and `plugctl inspect --wasm-ready` on real Go packages: plugctl
//! builds them with go1.26.6 (GOOS=wasip1, -buildmode=c-shared, the lifecycle wrapper
//! through -overlay; the shared Go build cache keeps warm runs fast) and runs them in the
//! wasmi interpreter inside the sandboxed child. Fixture sources: tests/fixtures/src/wasm
//! (see its README) and the greeter plugin of the shared corpus.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use common::sandbox::LoadRun as Run;
use common::{fixtures, plugctl, run_with_timeout};

const GO: &str = "1.26.6";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn pkg(name: &str) -> PathBuf {
    root().join("tests/fixtures/src/wasm").join(name)
}

/// `plugctl ARGS --format json`; checks that every child is gone.
fn plugctl_json(args: &[&str]) -> Run {
    let r = common::sandbox::plugctl_json(args);
    for run in r.json["runs"].as_array().into_iter().flatten() {
        let pid = run["pid"].as_u64().unwrap();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains("__sandbox"),
            "child {pid} still running"
        );
        assert_eq!(run["cleanup"]["workdir_removed"], true);
    }
    r
}

fn load_wasm(name: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["load", "--wasm", "--go", GO];
    args.extend_from_slice(extra);
    args.push(name.to_str().unwrap());
    plugctl_json(&args)
}

#[test]
fn run_prints_a_value_and_returns_an_error() {
    let r = load_wasm(&pkg("hello"), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json["mode"], "wasm");
    assert_eq!(r.status(0, "wasm"), "pass", "{}", r.reason(0, "wasm"));
    let wasm = &r.layer(0, "wasm")["details"];
    assert!(wasm["module_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(wasm["instantiate_ms"].as_f64().is_some());
    assert_eq!(
        r.status(0, "contract"),
        "pass",
        "{}",
        r.reason(0, "contract")
    );
    assert!(
        r.reason(0, "contract")
            .contains("Init func(context.Context) error")
    );
    assert!(r.reason(0, "contract").contains("Close func() error"));
    assert_eq!(r.status(0, "lifecycle"), "fail");
    let run = r.phase(0, "run");
    assert_eq!(run["status"], "error");
    assert_eq!(run["error"], "hello failed: code 7");
    assert!(run["fuel"].as_u64().unwrap() > 0);
    assert_eq!(r.phase(0, "init")["status"], "ok");
    assert_eq!(r.phase(0, "close")["status"], "ok");
    assert!(r.reason(0, "lifecycle").contains("hello failed: code 7"));
    assert!(r.reason(0, "lifecycle").contains("hello-wasm 42"));
    assert_eq!(
        r.layer(0, "lifecycle")["details"]["stdout"],
        "hello-wasm 42\n"
    );
    assert_eq!(r.status(0, "limits"), "pass", "{}", r.reason(0, "limits"));
    assert_eq!(
        r.status(0, "isolation"),
        "pass",
        "{}",
        r.reason(0, "isolation")
    );
}

#[test]
fn endless_run_is_stopped_by_fuel() {
    let r = load_wasm(&pkg("spin"), &["--fuel", "300000000"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let run = r.phase(0, "run");
    assert_eq!(run["status"], "out-of-fuel", "{run}");
    // All of it, less what the next instruction would have cost.
    let burned = run["fuel"].as_u64().unwrap();
    assert!((299_999_000..=300_000_000).contains(&burned), "{burned}");
    assert_eq!(r.status(0, "limits"), "fail");
    assert!(
        r.reason(0, "limits")
            .contains("fuel: run burned all 300000000 fuel")
    );
    // A trapped instance is not called again.
    assert!(
        r.layer(0, "lifecycle")["details"]["phases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["phase"] != "close")
    );
}

#[test]
fn endless_run_is_stopped_by_the_phase_timeout() {
    let r = load_wasm(&pkg("spin"), &["--phase-timeout", "2s"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let run = r.phase(0, "run");
    assert_eq!(run["status"], "timeout", "{run}");
    assert!(run["ms"].as_f64().unwrap() >= 2000.0);
    assert!(
        r.reason(0, "limits")
            .contains("wall-clock: run still running")
    );
    assert!(r.elapsed < Duration::from_secs(120), "{:?}", r.elapsed);
    // The child ended itself (exit 124) and was reaped: `plugctl_json` checked it is gone.
    assert_eq!(r.json["runs"][0]["ended"]["code"], 124);
}

#[test]
fn one_gib_under_a_64m_cap_traps_as_memory_limit() {
    let r = load_wasm(&pkg("hog"), &["--memory", "64M"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let init = r.phase(0, "init");
    assert_eq!(init["status"], "memory-limit", "{init}");
    assert!(init["error"].as_str().unwrap().starts_with("memory limit:"));
    assert!(r.reason(0, "limits").contains("memory limit"));
    assert!(init["memory_bytes"].as_u64().unwrap() <= 64 << 20);
    // A trapped instance is not called again: no Run, no Close.
    assert_eq!(r.status(0, "lifecycle"), "fail");
    assert_eq!(
        r.layer(0, "lifecycle")["details"]["phases"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn blockers(v: &Value) -> Vec<Value> {
    v.as_array().unwrap().to_vec()
}

#[test]
fn syscall_and_cgo_blockers_have_file_line_and_import_chain() {
    let killer = load_wasm(&pkg("killer"), &[]);
    assert_eq!(killer.code, 1, "{}", killer.stderr);
    assert_eq!(killer.status(0, "wasm"), "fail");
    assert_eq!(killer.status(0, "lifecycle"), "skip");
    let found = blockers(&killer.layer(0, "wasm")["details"]["blockers"]);
    let setpgid = found
        .iter()
        .find(|b| b["kind"] == "compile")
        .unwrap_or_else(|| panic!("{found:?}"));
    assert!(
        setpgid["file"]
            .as_str()
            .unwrap()
            .ends_with("killer/procs/procs.go")
    );
    assert_eq!(setpgid["line"], 11);
    assert!(
        setpgid["message"]
            .as_str()
            .unwrap()
            .contains("undefined: syscall.Setpgid")
    );
    assert_eq!(
        setpgid["import_chain"],
        serde_json::json!([
            "example.com/wasmfx/killer",
            "example.com/wasmfx/killer/procs"
        ])
    );
    let kill = found
        .iter()
        .find(|b| b["kind"] == "stub")
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(kill["line"], 14);
    assert!(
        kill["message"]
            .as_str()
            .unwrap()
            .starts_with("syscall.Kill:")
    );

    let ready = plugctl_json(&[
        "inspect",
        "--wasm-ready",
        "--go",
        GO,
        pkg("killer").to_str().unwrap(),
        pkg("cgouser").to_str().unwrap(),
        pkg("hello").to_str().unwrap(),
    ]);
    assert_eq!(ready.code, 1, "{}", ready.stderr);
    let items = ready.json["artifacts"].as_array().unwrap();
    assert_eq!(items[0]["ready"], false);
    assert_eq!(blockers(&items[0]["blockers"]), found);
    assert_eq!(items[1]["ready"], false);
    let cgo = blockers(&items[1]["blockers"]);
    assert_eq!(cgo.len(), 1, "{cgo:?}");
    assert_eq!(cgo[0]["kind"], "cgo");
    assert!(
        cgo[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("cgouser/native/native.go")
    );
    assert_eq!(cgo[0]["line"], 5);
    assert_eq!(
        cgo[0]["import_chain"],
        serde_json::json!([
            "example.com/wasmfx/cgouser",
            "example.com/wasmfx/cgouser/native"
        ])
    );
    assert_eq!(items[2]["ready"], true);
    assert!(blockers(&items[2]["blockers"]).is_empty());
}

#[test]
fn greeter_has_the_same_lifecycle_natively_and_as_wasm() {
    let so = fixtures().path(&fixtures().rel("go/plugin/1.26.6/default"));
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = plugctl();
    cmd.args(["load", "--format", "json"])
        .arg(&so)
        .env("TMPDIR", tmp.path());
    let native = run_with_timeout(cmd, Duration::from_secs(300));
    let native: Value = serde_json::from_str(&native.stdout).expect(&native.stderr);
    let native_phases = native["artifacts"][0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["layer"] == "lifecycle")
        .unwrap()["details"]["phases"]
        .clone();
    let wasm = load_wasm(&root().join("tests/fixtures/src/greeter"), &[]);
    assert_eq!(wasm.status(0, "wasm"), "pass", "{}", wasm.reason(0, "wasm"));
    assert_eq!(
        wasm.status(0, "lifecycle"),
        "pass",
        "{}",
        wasm.reason(0, "lifecycle")
    );
    for p in native_phases.as_array().unwrap() {
        let w = wasm.phase(0, p["phase"].as_str().unwrap());
        assert_eq!(w["status"], p["status"], "native {p} vs wasm {w}");
        assert_eq!(w["go_type"], p["type"], "native {p} vs wasm {w}");
    }
    assert_eq!(native_phases.as_array().unwrap().len(), 3);
}

#[test]
fn the_same_module_burns_the_same_fuel() {
    let fuel = |r: &Run| -> Vec<u64> {
        let mut v = vec![
            r.layer(0, "wasm")["details"]["instantiate_fuel"]
                .as_u64()
                .unwrap(),
        ];
        v.extend(
            r.layer(0, "lifecycle")["details"]["phases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["fuel"].as_u64().unwrap()),
        );
        v
    };
    let a = load_wasm(&pkg("cpu"), &[]);
    let b = load_wasm(&pkg("cpu"), &[]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(fuel(&a), fuel(&b));
    assert!(fuel(&a)[2] > 10_000_000, "{:?}", fuel(&a));
    assert_eq!(
        a.layer(0, "lifecycle")["details"]["stdout"],
        b.layer(0, "lifecycle")["details"]["stdout"]
    );
}

#[test]
fn a_missing_directory_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = plugctl()
        .args(["load", "--wasm", "--go", GO])
        .arg(tmp.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope: not a directory"), "{err}");
}

fn compare_layer(r: &Run, i: usize) -> &Value {
    let c = r.layer(i, "compare");
    assert_eq!(c["details"]["native_load"], "ok", "{c}");
    assert!(
        c["details"]["native_command"]
            .as_str()
            .unwrap()
            .contains("-buildmode=plugin"),
        "{c}"
    );
    c
}

fn compared_phase<'a>(c: &'a Value, phase: &str) -> &'a Value {
    let p = c["details"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == phase)
        .unwrap_or_else(|| panic!("no {phase} in {c}"));
    let (n, w) = (
        p["native_ms"].as_f64().unwrap(),
        p["wasm_ms"].as_f64().unwrap(),
    );
    assert!(n > 0.0 && w > 0.0, "{p}");
    let factor = p["slowdown"].as_f64().unwrap();
    assert!((factor - w / n).abs() < 1e-9, "{p}");
    p
}

/// `load --wasm --host`: each package is also built natively for the host (the build
/// engine, mirroring the host's toolchain and flags) and loaded by the Go harness; both
/// children really ran (`plugctl_json` checks every child listed is gone).
fn load_compared(pkgs: &[&Path]) -> Run {
    let host = fixtures().path("go/hosts/loadhost-1.26.6-default");
    let mut args = vec![
        "load",
        "--wasm",
        "--go",
        GO,
        "--host",
        host.to_str().unwrap(),
    ];
    args.extend(pkgs.iter().map(|p| p.to_str().unwrap()));
    let r = plugctl_json(&args);
    let labels: Vec<&str> = r.json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels.iter().filter(|l| **l == "wasm").count(),
        pkgs.len(),
        "{labels:?}"
    );
    assert_eq!(
        labels.iter().filter(|l| **l == "go").count(),
        pkgs.len(),
        "{labels:?}"
    );
    r
}

#[test]
fn greeter_and_hello_compared_with_their_native_builds() {
    let greeter = root().join("tests/fixtures/src/greeter");
    let r = load_compared(&[&greeter, &pkg("hello")]);
    // hello's Run returns an error on both sides: a lifecycle finding, exit 1.
    assert_eq!(r.code, 1, "{}", r.stderr);
    let g = compare_layer(&r, 0);
    assert_eq!(g["status"], "pass", "{g}");
    assert_eq!(g["details"]["same"], true);
    let mut native_total = 0.0;
    let mut wasm_total = 0.0;
    for phase in ["init", "run", "close"] {
        let p = compared_phase(g, phase);
        assert_eq!(p["native_status"], "ok", "{p}");
        assert_eq!(p["wasm_status"], "ok", "{p}");
        assert_eq!(p["same"], true, "{p}");
        native_total += p["native_ms"].as_f64().unwrap();
        wasm_total += p["wasm_ms"].as_f64().unwrap();
    }
    // The interpreter is slower over the whole lifecycle (Init alone: about ×8 here).
    assert!(wasm_total > native_total, "{g}");
    assert!(compared_phase(g, "init")["slowdown"].as_f64().unwrap() > 1.0);
    assert!(g["reason"].as_str().unwrap().contains("init same (ok)"));

    let h = compare_layer(&r, 1);
    assert_eq!(h["status"], "pass", "{h}");
    let run = compared_phase(h, "run");
    assert_eq!(run["native_status"], "error");
    assert_eq!(run["native_error"], "hello failed: code 7");
    assert_eq!(run["wasm_error"], "hello failed: code 7");
    assert_eq!(run["same"], true);
}

#[test]
fn cpu_bound_run_is_many_times_slower_in_the_interpreter() {
    let r = load_compared(&[&pkg("cpu")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = compare_layer(&r, 0);
    assert_eq!(c["status"], "pass", "{c}");
    let run = compared_phase(c, "run");
    assert_eq!(run["same"], true, "{run}");
    // 3M iterations: milliseconds natively, hundreds of them interpreted (×45 measured).
    assert!(run["native_ms"].as_f64().unwrap() > 1.0, "{run}");
    assert!(run["slowdown"].as_f64().unwrap() > 5.0, "{run}");
    assert!(c["reason"].as_str().unwrap().contains("run same (ok)"));
}

#[test]
fn a_missing_host_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = plugctl()
        .args(["load", "--wasm", "--go", GO, "--host"])
        .arg(tmp.path().join("nohost"))
        .arg(pkg("cpu"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--host") && err.contains("nohost"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
