//! `plugctl load --trace` against fixtures whose behaviour is known exactly, compared
//! with an independent count (`strace -f` of the same child program), plus the Perfetto
//! file, the unprivileged fallback and what gVisor lets the tracer see.
//!
//! The eBPF tests need root (CI runs as root); as another user they fail with the reason.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

const GO: &str = "1.26.6";
const OPENS: u64 = 7;
const MIB: u64 = 32;
const PROBE_PATH: &str = "/nonexistent/plugctl-trace-probe";
const USER: &str = "plugctl-hostile";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn out_dir() -> PathBuf {
    let dir = root().join("target/trace-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loads are run one at a time (the eBPF programs are machine-wide, and the timing and
/// page counts are cleaner alone).
fn lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the eBPF tests of load --trace need root (CI runs as root)"
    );
}

/// tests/fixtures/trace/ctor.c, built with gcc.
fn ctor_so() -> &'static Path {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| {
        let out = out_dir().join("ctor.so");
        let status = Command::new("gcc")
            .args(["-shared", "-fPIC", "-O1"])
            .arg(format!("-DTRACE_OPENS={OPENS}"))
            .arg(format!("-DTRACE_MIB={MIB}"))
            .arg(format!("-DTRACE_PATH=\"{PROBE_PATH}\""))
            .arg("-o")
            .arg(&out)
            .arg(root().join("tests/fixtures/trace/ctor.c"))
            .status()
            .expect("gcc runs");
        assert!(status.success(), "building ctor.so");
        // Readable by the unprivileged user of the fallback test.
        Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(out_dir())
            .status()
            .unwrap();
        out
    })
}

/// tests/fixtures/trace/<name>, built with Go's pinned toolchain as a plugin.
fn go_plugin(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let tc = plugctl::toolchain::ensure(GO, &|m| eprintln!("{m}")).expect("go toolchain");
    let out = out_dir().join(format!("{name}.so"));
    let status = Command::new(&tc.go)
        .args(["build", "-buildmode=plugin", "-o"])
        .arg(&out)
        .arg(format!("./{name}"))
        .current_dir(root().join("tests/fixtures/trace"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .status()
        .expect("go build runs");
    assert!(status.success(), "building {name}.so");
    built.insert(name.to_string(), out.clone());
    out
}

fn load(args: &[&str], plugin: &Path) -> Value {
    let mut c = common::plugctl();
    c.args(["load", "--format", "json", "--timeout", "60s"])
        .args(args)
        .arg(plugin);
    let f = common::run_with_timeout(c, Duration::from_secs(180));
    assert!(
        !f.timed_out && f.code().is_some_and(|c| c <= 1),
        "plugctl load {args:?} {}: {:?}\n{}",
        plugin.display(),
        f.code(),
        f.stderr
    );
    serde_json::from_str(&f.stdout).expect("load --format json is JSON")
}

fn run<'a>(report: &'a Value, label: &str) -> &'a Value {
    report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == label)
        .unwrap_or_else(|| panic!("no {label} run"))
}

fn phase<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name} phase in {}", trace["phases"]))
}

fn file<'a>(trace: &'a Value, path: &str) -> &'a Value {
    trace["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in the trace's files"))
}

/// System calls by name between the shim's `dlopen-begin` line and its `dlopen` line
/// (that write included), from `strace -f` of `plugctl __shim` run directly.
fn strace_dlopen_phase(so: &Path) -> BTreeMap<String, u64> {
    let out = out_dir().join("shim.strace");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&out)
        .arg(env!("CARGO_BIN_EXE_plugctl"))
        .args(["__shim", "--report-fd", "1", "--"])
        .arg(so)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("strace runs (apt-get install strace)");
    assert!(status.success(), "strace of the shim");
    let text = std::fs::read_to_string(&out).unwrap();
    let mut counts = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let Some(name) = line
            .split_once(char::is_whitespace)
            .map(|(_, rest)| rest.trim_start())
            .and_then(|rest| rest.split_once('('))
            .map(|(name, _)| name)
            .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        else {
            continue;
        };
        if name == "write" && line.contains(r#"{\"ev\":\"dlopen-begin\""#) {
            inside = true;
            continue;
        }
        if inside {
            *counts.entry(name.to_string()).or_insert(0u64) += 1;
        }
        if name == "write" && line.contains(r#"{\"ev\":\"dlopen\","#) {
            inside = false;
        }
    }
    counts
}

#[test]
fn c_constructor_counts_match_strace() {
    require_root();
    let _g = lock();
    let so = ctor_so();
    let report = load(&["--trace"], so);
    let t = &run(&report, "loader")["trace"];
    assert_eq!(t["backend"], "ebpf", "{}", t["notes"]);
    // Exact file count and result.
    let probe = file(t, PROBE_PATH);
    assert_eq!(probe["count"], OPENS, "{probe}");
    assert_eq!(probe["results"]["ENOENT"], OPENS, "{probe}");
    // One connect to loopback, refused or unreachable (no network in the sandbox).
    let connects = t["connects"].as_array().unwrap();
    let c: Vec<&Value> = connects
        .iter()
        .filter(|c| c["call"] == "connect" && c["address"] == "127.0.0.1:9")
        .collect();
    assert_eq!(c.len(), 1, "{connects:?}");
    assert_eq!(c[0]["count"], 1);
    assert_eq!(c[0]["family"], "inet");
    // The dlopen phase: the same calls as strace counts between the same report lines.
    let dlopen = phase(t, "dlopen");
    let ours: BTreeMap<String, u64> = serde_json::from_value(dlopen["syscalls"].clone()).unwrap();
    let strace = strace_dlopen_phase(so);
    eprintln!("dlopen phase: trace {ours:?}\n              strace {strace:?}");
    assert_eq!(ours, strace, "per-call counts in the dlopen phase");
    assert_eq!(
        dlopen["file_calls"].as_u64().unwrap(),
        ours["openat"] + ours.get("newfstatat").unwrap_or(&0)
    );
    // At least M MiB of pages were allocated while the constructor ran.
    let bytes = dlopen["page_alloc_bytes"].as_u64().unwrap();
    assert!(
        bytes >= MIB << 20,
        "dlopen allocated {bytes} bytes, expected ≥ {MIB} MiB"
    );
    assert!(t["page_allocs"].as_u64().unwrap() >= (MIB << 20) / 4096);
    assert_eq!(t["dropped"], 0);
    eprintln!(
        "ctor.so: {} of {} opens, connect {}, dlopen phase {} calls, {} MiB allocated",
        probe["count"],
        OPENS,
        c[0]["results"],
        dlopen["syscall_total"],
        bytes >> 20
    );
}

#[test]
fn go_panics_are_read_with_value_goroutine_and_phase() {
    require_root();
    let so = go_plugin("panicinit");
    let _g = lock();
    let timeline = out_dir().join("panicinit.trace.json");
    let report = load(&["--trace-out", timeline.to_str().unwrap()], &so);
    let t = &run(&report, "go")["trace"];
    assert_eq!(t["backend"], "ebpf", "{}", t["notes"]);
    let panics = t["panics"].as_array().unwrap();
    let init: Vec<&Value> = panics.iter().filter(|p| p["phase"] == "Init[0]").collect();
    assert_eq!(init.len(), 1, "{panics:?}");
    assert_eq!(init[0]["kind"], "panic");
    assert_eq!(init[0]["value"], "plugctl-trace: Init panicked on purpose");
    assert_eq!(init[0]["value_type"], "string");
    assert_eq!(init[0]["recovered"], true);
    assert!(
        init[0]["goroutine"].as_u64().is_some_and(|g| g > 1),
        "{}",
        init[0]
    );
    let close: Vec<&Value> = panics.iter().filter(|p| p["phase"] == "Close[0]").collect();
    assert_eq!(close.len(), 1, "{panics:?}");
    assert_eq!(
        close[0]["value"],
        "plugctl-trace: Close panicked with an error"
    );
    assert_eq!(close[0]["value_type"], "error");
    // Independent: the harness recovered the same value (its own report).
    let layers = report["artifacts"][0]["layers"].to_string();
    assert!(
        layers.contains("plugctl-trace: Init panicked on purpose"),
        "the harness's lifecycle layer names the value: {layers}"
    );
    // The Perfetto / Chrome Trace Event file.
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&timeline).unwrap()).unwrap();
    let events = doc["traceEvents"].as_array().expect("traceEvents array");
    assert!(!events.is_empty());
    for e in events {
        let ph = e["ph"]
            .as_str()
            .unwrap_or_else(|| panic!("ph missing: {e}"));
        assert!(e["name"].is_string(), "name: {e}");
        assert!(e["pid"].is_u64() && e["tid"].is_u64(), "pid/tid: {e}");
        assert!(e["ts"].is_u64(), "ts: {e}");
        match ph {
            "X" => assert!(e["dur"].is_u64(), "X needs dur: {e}"),
            "C" => assert!(
                e["args"]
                    .as_object()
                    .is_some_and(|a| !a.is_empty() && a.values().all(Value::is_number)),
                "C needs numeric args: {e}"
            ),
            "i" => assert!(
                matches!(e["s"].as_str(), Some("g" | "p" | "t")),
                "i scope: {e}"
            ),
            "M" => assert!(e["args"]["name"].is_string(), "M name: {e}"),
            other => panic!("unexpected phase type {other}: {e}"),
        }
    }
    let names: Vec<&str> = events.iter().filter_map(|e| e["name"].as_str()).collect();
    assert!(
        names.contains(&"Init [0]") && names.contains(&"plugin.Open [0]"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("panic: plugctl-trace: Init panicked")),
        "{names:?}"
    );
}

#[test]
fn goroutines_started_in_init_are_traced_in_init() {
    require_root();
    let so = go_plugin("goroutines");
    let _g = lock();
    let report = load(&["--trace"], &so);
    let t = &run(&report, "go")["trace"];
    let f = file(t, "/nonexistent/plugctl-trace-goroutine");
    assert_eq!(f["count"], 8, "{f}");
    assert_eq!(f["results"]["ENOENT"], 8, "{f}");
    let init = phase(t, "Init");
    assert!(init["file_calls"].as_u64().unwrap() >= 8, "{init}");
    assert_eq!(t["panics"].as_array().unwrap().len(), 0, "{}", t["panics"]);
}

#[test]
fn unprivileged_falls_back_to_seccomp_notify_counts() {
    require_root();
    let so = ctor_so();
    let _g = lock();
    let (uid, gid) = common::sandbox::unprivileged_user(USER);
    let tmp = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let mut c = common::sandbox::as_user(uid, gid, Path::new(env!("CARGO_BIN_EXE_plugctl")));
    c.args(["load", "--trace", "--format", "json"])
        .arg(so)
        .env("TMPDIR", tmp.path());
    let f = common::run_with_timeout(c, Duration::from_secs(120));
    assert!(
        f.code().is_some_and(|c| c <= 1),
        "{:?}\n{}",
        f.code(),
        f.stderr
    );
    let report: Value = serde_json::from_str(&f.stdout).unwrap();
    let t = &run(&report, "loader")["trace"];
    assert_eq!(t["backend"], "seccomp-notify", "{t}");
    assert!(
        t["notes"][0].as_str().unwrap().contains("eBPF unavailable"),
        "{}",
        t["notes"]
    );
    // The listener saw the constructor's calls: at least the N opens and the connect.
    let openat = t["syscalls"]["openat"].as_u64().unwrap_or(0);
    assert!(openat >= OPENS, "openat {openat}: {}", t["syscalls"]);
    assert!(
        t["syscalls"]["connect"].as_u64() >= Some(1),
        "{}",
        t["syscalls"]
    );
    assert!(t["files"].as_array().unwrap().is_empty() && t["page_allocs"] == 0);
}

#[test]
fn gvisor_says_what_the_host_tracer_cannot_see() {
    require_root();
    if which_runsc().is_none() {
        panic!("runsc not installed: the gVisor part of load --trace cannot be checked");
    }
    let so = ctor_so();
    let _g = lock();
    let report = load(&["--trace", "--sandbox", "gvisor"], so);
    let t = &run(&report, "loader")["trace"];
    assert_eq!(t["backend"], "ebpf");
    assert!(
        t["phases"].as_array().unwrap().is_empty(),
        "{}",
        t["phases"]
    );
    assert!(
        t["notes"].to_string().contains("served by the Sentry"),
        "{}",
        t["notes"]
    );
    // The plugin's own connect happens in gVisor's network stack: not a host connect.
    assert!(
        !t["connects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["address"] == "127.0.0.1:9"),
        "{}",
        t["connects"]
    );
    eprintln!(
        "gVisor: {} host system calls of runsc/Sentry/gofer, {} paths, {} page allocations",
        t["syscalls"]
            .as_object()
            .map_or(0, |m| m.values().filter_map(Value::as_u64).sum::<u64>()),
        t["files"].as_array().unwrap().len(),
        t["page_allocs"]
    );
}

fn which_runsc() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("runsc"))
            .find(|p| p.exists())
    })
}
