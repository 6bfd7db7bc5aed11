//! Hostile plugins against `plugctl load`'s sandbox: every attack of issue 15 (and a few
//! more), from a C constructor and from a Go plugin's `init`/`Init`, run by root and by
//! an unprivileged user, under `--sandbox native` (bubblewrap) and `--sandbox gvisor`.
//! Each must fail, leave nothing behind (files, processes, cgroups, connections, temp
//! dirs) and be reported truthfully. Every attack aims only at this test's own temp
//! directory, loopback listener and abstract socket; `kill(-1)` runs only in a PID
//! namespace other than the test's (the plugin checks).
//!
//! The plugins come from tests/fixtures/src/hostile: `attacks.c` built with `cc` and
//! `go/hostile` built with go1.26.6 (cgo links the same attacks), cached in
//! target/hostile by source hash.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::run_with_timeout;

const GO: &str = "1.26.6";
const USER: &str = "plugctl-hostile";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn src() -> PathBuf {
    root().join("tests/fixtures/src/hostile")
}

fn hash_of(files: &[PathBuf], salt: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x100_0000_01b3);
        }
    };
    feed(salt.as_bytes());
    for f in files {
        feed(f.display().to_string().as_bytes());
        feed(&std::fs::read(f).expect("hostile source"));
    }
    format!("{hash:016x}")
}

/// A world-readable output directory (the unprivileged user loads from it).
fn out_dir(key: &str) -> PathBuf {
    let dir = root().join("target/hostile").join(key);
    std::fs::create_dir_all(&dir).unwrap();
    let mut p = dir.clone();
    while p.starts_with(root().join("target")) && p != root().join("target") {
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755));
        p = p.parent().unwrap().to_path_buf();
    }
    dir
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The C plugin: `attacks.c` with its constructor.
fn c_plugin() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let _g = lock();
        let source = src().join("attacks.c");
        let out = out_dir(&hash_of(std::slice::from_ref(&source), "c")).join("attacks.so");
        if !out.is_file() {
            let status = Command::new("cc")
                .args(["-shared", "-fPIC", "-O1", "-Wall", "-o"])
                .arg(&out)
                .arg(&source)
                .status()
                .expect("cc");
            assert!(status.success(), "building attacks.so");
        }
        out
    })
    .clone()
}

/// The Go plugin: `go/hostile` (init and Init attack, through cgo and Go's syscall).
fn go_plugin() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let _g = lock();
        let dir = src().join("go");
        let files = [
            dir.join("go.mod"),
            dir.join("hostile/main.go"),
            dir.join("hostile/attacks.c"),
            src().join("attacks.c"),
        ];
        let out = out_dir(&hash_of(&files, GO)).join("hostile.so");
        if !out.is_file() {
            // Built from a copy holding the C attacks themselves: Go's build cache does
            // not see a file the package only #includes from outside its directory.
            let stage = out.parent().unwrap().join("src");
            std::fs::create_dir_all(stage.join("hostile")).unwrap();
            std::fs::copy(dir.join("go.mod"), stage.join("go.mod")).unwrap();
            std::fs::copy(dir.join("hostile/main.go"), stage.join("hostile/main.go")).unwrap();
            std::fs::copy(src().join("attacks.c"), stage.join("hostile/attacks.c")).unwrap();
            let dir = stage;
            let tc = plugctl::toolchain::ensure(GO, &|m| eprintln!("{m}")).expect("go toolchain");
            let output = plugctl::runtime::harness::go_build_command(
                &tc,
                &[("CGO_ENABLED".into(), "1".into())],
            )
            .current_dir(&dir)
            .args(["build", "-buildmode=plugin", "-o"])
            .arg(&out)
            .arg("./hostile")
            .output()
            .expect("go build");
            assert!(
                output.status.success(),
                "building the hostile Go plugin: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        out
    })
    .clone()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Root,
    User,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    Native,
    Gvisor,
}

impl Backend {
    fn arg(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::Gvisor => "gvisor",
        }
    }
}

/// The unprivileged user (created once) and a plugctl cache it owns: a copy of the Go
/// toolchain (root's cache is under /root, which the user cannot read).
fn user() -> (u32, u32, PathBuf) {
    static U: OnceLock<(u32, u32, PathBuf)> = OnceLock::new();
    U.get_or_init(|| {
        let _g = lock();
        let (uid, gid) = common::sandbox::unprivileged_user(USER);
        let cache = out_dir("user-cache");
        let tc = plugctl::toolchain::ensure(GO, &|m| eprintln!("{m}")).expect("go toolchain");
        // .../toolchains/go1.26.6/go/bin/go -> .../toolchains/go1.26.6
        let tc_root = tc.go.ancestors().nth(3).unwrap().to_path_buf();
        let copy = cache.join("toolchains").join(tc_root.file_name().unwrap());
        if !copy.exists() {
            std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
            let status = Command::new("cp")
                .arg("-a")
                .arg(&tc_root)
                .arg(&copy)
                .status()
                .unwrap();
            assert!(status.success(), "copying the toolchain for {USER}");
        }
        let status = Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(&cache)
            .status()
            .unwrap();
        assert!(status.success());
        (uid, gid, cache)
    })
    .clone()
}

/// Everything one attack produced, and what the test found outside the sandbox.
struct Outcome {
    json: Value,
    code: Option<i32>,
    stderr: String,
    /// The plugin's own account (stdout of the run that loaded it).
    said: String,
    /// Violations found outside the sandbox.
    broken: Vec<String>,
    elapsed: Duration,
}

impl Outcome {
    fn run(&self, label: &str) -> &Value {
        self.json["runs"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["label"] == label))
            .unwrap_or(&Value::Null)
    }

    fn layer(&self, name: &str) -> &Value {
        self.json["artifacts"][0]["layers"]
            .as_array()
            .and_then(|a| a.iter().find(|l| l["layer"] == name))
            .unwrap_or(&Value::Null)
    }

    fn denied(&self) -> Vec<String> {
        self.json["runs"]
            .as_array()
            .map(|runs| {
                runs.iter()
                    .flat_map(|r| {
                        r["seccomp"]["denied"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                    })
                    .filter_map(|d| d["syscall"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn own_pid_ns() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .unwrap()
        .display()
        .to_string()
}

/// Processes named like the attack's daemon, anywhere on the machine.
fn hostile_processes() -> Vec<u32> {
    processes_named("hostile-daemon")
}

fn processes_named(comm: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

fn hostile_cgroups() -> Vec<String> {
    [
        "/sys/fs/cgroup/plugctl-hostile",
        "/sys/fs/cgroup/memory/plugctl-hostile",
        "/sys/fs/cgroup/pids/plugctl-hostile",
        "/sys/fs/cgroup/unified/plugctl-hostile",
    ]
    .iter()
    .filter(|p| Path::new(p).exists())
    .map(|p| p.to_string())
    .collect()
}

/// Runs one attack with `plugin` and checks the outside world afterwards.
fn attack(who: Who, backend: Backend, plugin: &Path, name: &str, extra: &[&str]) -> Outcome {
    // One attack at a time: the checks afterwards look at the whole machine (processes
    // named hostile-daemon, cgroups, the loopback), where a concurrent test's attack in
    // progress would look like an escape.
    static ATTACKS: Mutex<()> = Mutex::new(());
    let _one_at_a_time = ATTACKS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let canary = dir.path().join("canary");
    std::fs::write(&canary, "canary\n").unwrap();
    std::fs::set_permissions(&canary, std::fs::Permissions::from_mode(0o666)).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o777)).unwrap();
    // The test's own listeners: a TCP one on loopback and an abstract unix socket.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tcp_hits = Arc::new(AtomicUsize::new(0));
    listener.set_nonblocking(true).unwrap();
    let abstract_name = format!("plugctl-contain-{}-{port}", std::process::id());
    let unix =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(&abstract_name).unwrap()).unwrap();
    unix.set_nonblocking(true).unwrap();
    let secret = format!(
        "sk-hostile-{:x}",
        std::process::id() as u64 * 7919 + u64::from(port)
    );
    let env: Vec<String> = vec![
        format!("HOSTILE_ATTACK={name}"),
        format!("HOSTILE_DIR={}", dir.path().display()),
        format!("HOSTILE_PORT={port}"),
        format!("HOSTILE_ABSTRACT={abstract_name}"),
        format!("HOSTILE_HOST_PIDNS={}", own_pid_ns()),
        "HOSTILE_SLEEP=2".into(),
    ];
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_plugctl"));
    let mut cmd = match who {
        Who::Root => Command::new(&exe),
        Who::User => {
            let (uid, gid, _) = user();
            common::sandbox::as_user(uid, gid, &exe)
        }
    };
    cmd.args([
        "load",
        "--sandbox",
        backend.arg(),
        "--format",
        "json",
        "--timeout",
        "30s",
    ])
    .env("TMPDIR", &tmp)
    // A secret in plugctl's own environment, never passed to the plugin.
    .env("HOSTILE_SECRET", &secret);
    if who == Who::User {
        let (_, _, cache) = user();
        cmd.env("PLUGCTL_CACHE_DIR", &cache)
            .env("HOME", cache.join("home"));
    }
    for e in &env {
        cmd.args(["--env", e]);
    }
    cmd.args(extra).arg(plugin);
    let started = Instant::now();
    let done = run_with_timeout(cmd, Duration::from_secs(180));
    let elapsed = started.elapsed();
    // The daemon would act 2 s after it started.
    if name == "daemon" {
        std::thread::sleep(Duration::from_secs(3));
    }
    let mut broken = Vec::new();
    if done.timed_out {
        broken.push("plugctl hung".into());
    }
    let json: Value = serde_json::from_str(&done.stdout).unwrap_or_else(|e| {
        broken.push(format!(
            "plugctl did not report ({e}); exit {:?}: {}",
            done.code(),
            done.stderr.lines().last().unwrap_or("")
        ));
        Value::Null
    });
    if std::fs::read_to_string(&canary).ok().as_deref() != Some("canary\n") {
        broken.push("the canary was changed or deleted".into());
    }
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let n = entry.file_name().to_string_lossy().into_owned();
        if n != "canary" && n != "tmp" {
            broken.push(format!("file left in the test dir: {n}"));
        }
    }
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !left.is_empty() {
        broken.push(format!("temp files left: {left:?}"));
    }
    while let Ok((mut c, _)) = listener.accept() {
        let mut text = String::new();
        let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
        let _ = c.read_to_string(&mut text);
        tcp_hits.fetch_add(1, Ordering::Relaxed);
        broken.push(format!(
            "the test's loopback listener got a connection: {text:?}"
        ));
    }
    if unix.accept().is_ok() {
        broken.push("the test's abstract socket got a connection".into());
    }
    let daemons = hostile_processes();
    if !daemons.is_empty() {
        for p in &daemons {
            // SAFETY: kill(2) of a process this test's plugin started.
            unsafe { libc::kill(*p as i32, libc::SIGKILL) };
        }
        broken.push(format!("hostile processes survived: {daemons:?}"));
    }
    let cgroups = hostile_cgroups();
    if !cgroups.is_empty() {
        for c in &cgroups {
            let _ = std::fs::remove_dir(c);
        }
        broken.push(format!("cgroups created: {cgroups:?}"));
    }
    if done.stdout.contains(&secret) || done.stderr.contains(&secret) {
        broken.push("plugctl's secret was printed".into());
    }
    for run in json["runs"].as_array().into_iter().flatten() {
        for cg in run["cleanup"]["cgroups_removed"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if Path::new(cg.as_str().unwrap_or("")).exists() {
                broken.push(format!("cgroup {cg} left behind"));
            }
        }
        if run["cleanup"]["workdir_removed"] != true {
            broken.push(format!("{}: working directory not removed", run["label"]));
        }
    }
    let label = if json["runs"].as_array().is_some_and(|r| r.len() > 1) {
        "go"
    } else {
        "loader"
    };
    let said = json["runs"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["label"] == label))
        .and_then(|r| r["stdout"].as_str())
        .unwrap_or("")
        .to_string();
    if said.contains(&secret) {
        broken.push("the secret reached the plugin".into());
    }
    Outcome {
        json,
        code: done.code(),
        stderr: done.stderr,
        said,
        broken,
        elapsed,
    }
}

/// One attack: what to pass, and what a truthful report must say.
struct Case {
    name: &'static str,
    extra: &'static [&'static str],
    check: fn(&Outcome, Who, Backend) -> Vec<String>,
}

fn expect(cond: bool, what: &str) -> Vec<String> {
    if cond {
        Vec::new()
    } else {
        vec![what.to_string()]
    }
}

/// Native: the listener names the deny-list hits; gVisor refuses them in the kernel
/// without names (the report says so).
fn named(o: &Outcome, backend: Backend, calls: &[&str]) -> Vec<String> {
    let denied = o.denied();
    match backend {
        Backend::Native => calls
            .iter()
            .filter(|c| !denied.iter().any(|d| d == *c))
            .map(|c| format!("{c} not named in the seccomp report ({denied:?})"))
            .collect(),
        Backend::Gvisor => expect(
            o.layer("seccomp")["reason"]
                .as_str()
                .is_some_and(|r| r.contains("cannot be named")),
            "gVisor: the seccomp layer does not say denied calls go unnamed",
        ),
    }
}

fn survived(o: &Outcome) -> Vec<String> {
    let mut v = expect(
        matches!(o.code, Some(0) | Some(1)),
        &format!(
            "plugctl exit {:?}: {}",
            o.code,
            o.stderr.lines().last().unwrap_or("")
        ),
    );
    v.extend(expect(
        o.layer("isolation")["status"] == "pass",
        &format!("isolation not verified: {}", o.layer("isolation")),
    ));
    v
}

const CASES: &[Case] = &[
    Case {
        name: "remount",
        extra: &[],
        check: |o, _, b| {
            let mut v = expect(!o.said.contains("remount / rw: ok"), "remount succeeded");
            v.extend(named(o, b, &["mount"]));
            v
        },
    },
    Case {
        name: "proc-root",
        extra: &[],
        check: |o, _, _| {
            expect(
                o.said.contains(": 0 hits"),
                "wrote through /proc/<pid>/root",
            )
        },
    },
    Case {
        name: "setns-net",
        extra: &[],
        check: |o, _, b| {
            let mut v = expect(
                !o.said.contains("listener: ok"),
                "connected to the test's listener",
            );
            if o.said.contains("setns(") {
                v.extend(named(o, b, &["setns"]));
            }
            v.extend(expect(
                o.run("loader")["isolation"]["network_isolated"] == true,
                "network isolation not verified",
            ));
            v
        },
    },
    Case {
        name: "environ",
        extra: &[],
        check: |o, _, _| {
            expect(
                o.said.contains("found in 0 environ"),
                "the plugin found HOSTILE_SECRET",
            )
        },
    },
    Case {
        name: "daemon",
        extra: &[],
        check: |_, _, _| Vec::new(),
    },
    Case {
        name: "fork-bomb",
        extra: &["--max-pids", "50"],
        check: |o, who, b| {
            let forked: usize = o
                .said
                .lines()
                .find_map(|l| l.strip_prefix("hostile: forked "))
                .and_then(|l| l.split(' ').next()?.parse().ok())
                .unwrap_or(usize::MAX);
            let mut v = expect(forked < 60, &format!("forked {forked} under --max-pids 50"));
            // Without cgroups (an unprivileged user) RLIMIT_NPROC holds it; under gVisor
            // the sentry's own threads count against pids.max too.
            if who == Who::Root && b == Backend::Native {
                v.extend(expect(
                    o.layer("limits")["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("pids")),
                    &format!("pids limit not reported: {}", o.layer("limits")),
                ));
            }
            v
        },
    },
    Case {
        name: "memory",
        extra: &["--memory", "256M"],
        check: |o, who, b| {
            if who == Who::User && b == Backend::Gvisor {
                // No cgroup and no RLIMIT_DATA in gVisor: the report must say so.
                return expect(
                    o.layer("limits")["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("NOT enforced here: memory")),
                    &format!(
                        "the missing memory limit is not reported: {}",
                        o.layer("limits")
                    ),
                );
            }
            let touched: u64 = o
                .said
                .lines()
                .find_map(|l| l.strip_prefix("hostile: touched "))
                .and_then(|l| l.split(' ').next()?.parse().ok())
                .unwrap_or(0);
            let mut v = expect(
                touched < 300,
                &format!("touched {touched} MiB under --memory 256M"),
            );
            v.extend(expect(
                o.layer("limits")["status"] == "fail"
                    && o.layer("limits")["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("memory")),
                &format!("memory limit not reported: {}", o.layer("limits")),
            ));
            v
        },
    },
    Case {
        name: "mount",
        extra: &[],
        check: |o, _, b| {
            let mut v = expect(
                !o.said.contains("tmpfs: ok")
                    && !o.said.contains("after unshare: ok")
                    && !o.said.contains("cgroup2: ok")
                    && !o.said.contains("core_pattern for writing: ok")
                    && !o.said.contains("sysrq-trigger for writing: ok"),
                &format!("a mount or a /proc/sys write open succeeded: {}", o.said),
            );
            v.extend(named(o, b, &["mount", "unshare"]));
            v
        },
    },
    Case {
        name: "cgroups",
        extra: &[],
        check: |o, _, _| {
            expect(
                !o.said.contains("plugctl-hostile: ok") && !o.said.contains("procs: ok"),
                &format!("a cgroup was created or joined: {}", o.said),
            )
        },
    },
    Case {
        name: "ptrace",
        extra: &[],
        check: |o, _, b| {
            let mut v = expect(o.said.contains("attached to 0 of"), "ptrace attached");
            v.extend(expect(
                !o.said.contains("process_vm_readv: ok"),
                "process_vm_readv worked",
            ));
            v.extend(named(o, b, &["ptrace"]));
            v
        },
    },
    Case {
        name: "kill-all",
        extra: &[],
        check: |o, _, _| {
            expect(
                o.said.contains("kill(-1, SIGKILL) from pid:["),
                &format!("kill(-1) did not run in a namespace of its own: {}", o.said),
            )
        },
    },
    Case {
        name: "kill-parent",
        extra: &[],
        check: |o, _, _| {
            // The stage died; the report must not claim a clean exit of the target.
            let run = if o.run("go").is_null() {
                o.run("loader")
            } else {
                o.run("go")
            };
            expect(
                run["ended"] != serde_json::json!({"kind": "exited", "code": 0}),
                &format!(
                    "the killed sandbox was reported as a clean exit: {}",
                    run["ended"]
                ),
            )
        },
    },
    Case {
        name: "kernel",
        extra: &[],
        check: |o, _, b| {
            let mut v = expect(
                !o.said.lines().any(|l| l.ends_with(": ok")),
                &format!("a kernel call succeeded: {}", o.said),
            );
            v.extend(named(
                o,
                b,
                &[
                    "bpf",
                    "perf_event_open",
                    "keyctl",
                    "userfaultfd",
                    "init_module",
                ],
            ));
            v
        },
    },
    Case {
        name: "forge",
        extra: &[],
        check: |o, _, b| {
            let run = if o.run("go").is_null() {
                o.run("loader")
            } else {
                o.run("go")
            };
            let mut v = expect(
                run["ended"] != serde_json::json!({"kind": "exited", "code": 0}),
                &format!("a forged clean exit was believed: {}", run["ended"]),
            );
            v.extend(expect(
                run["isolation"]["forged"].is_null(),
                "a forged probe was believed",
            ));
            if b == Backend::Gvisor && o.said.contains("stage.jsonl: ok") {
                v.extend(expect(
                    run["cleanup"]["notes"].to_string().contains("rewritten"),
                    "the rewritten stage report is not reported",
                ));
            }
            v
        },
    },
    Case {
        name: "symlink",
        extra: &[],
        check: |_, _, _| Vec::new(),
    },
];

/// Every case with `plugin`; returns one line per case for the summary.
fn suite(who: Who, backend: Backend, plugin: &Path, kind: &str, extra: &[&str]) {
    let mut failures = Vec::new();
    let mut lines = Vec::new();
    for case in CASES {
        let mut args: Vec<&str> = case.extra.to_vec();
        args.extend(extra);
        let o = attack(who, backend, plugin, case.name, &args);
        let mut broken = o.broken.clone();
        if !o.json.is_null() {
            broken.extend(survived(&o));
            broken.extend((case.check)(&o, who, backend));
        }
        lines.push(format!(
            "{kind} {:?}/{}: {:<12} {} ({} ms)",
            who,
            backend.arg(),
            case.name,
            if broken.is_empty() {
                "contained".to_string()
            } else {
                format!("BROKEN: {}", broken.join("; "))
            },
            o.elapsed.as_millis()
        ));
        if !broken.is_empty() {
            failures.push(format!("{}: {}\n{}", case.name, broken.join("; "), o.said));
        }
    }
    eprintln!("{}", lines.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn gvisor_or_fail() {
    assert!(
        which::which("runsc").is_ok(),
        "runsc (gVisor) is not installed: these tests cannot run (apt-get install runsc; .ci/run installs it)"
    );
}

#[test]
fn c_constructor_attacks_root_native() {
    suite(Who::Root, Backend::Native, &c_plugin(), "C", &[]);
}

#[test]
fn c_constructor_attacks_root_gvisor() {
    gvisor_or_fail();
    suite(Who::Root, Backend::Gvisor, &c_plugin(), "C", &[]);
}

#[test]
fn c_constructor_attacks_user_native() {
    suite(Who::User, Backend::Native, &c_plugin(), "C", &[]);
}

#[test]
fn c_constructor_attacks_user_gvisor() {
    gvisor_or_fail();
    suite(Who::User, Backend::Gvisor, &c_plugin(), "C", &[]);
}

fn go_suite(who: Who, backend: Backend) {
    let plugin = go_plugin();
    suite(who, backend, &plugin, "Go init", &[]);
    suite(
        who,
        backend,
        &plugin,
        "Go Init",
        &["--env", "HOSTILE_WHEN=Init"],
    );
}

#[test]
fn go_init_attacks_root_native() {
    go_suite(Who::Root, Backend::Native);
}

#[test]
fn go_init_attacks_root_gvisor() {
    gvisor_or_fail();
    go_suite(Who::Root, Backend::Gvisor);
}

#[test]
fn go_init_attacks_user_native() {
    go_suite(Who::User, Backend::Native);
}

#[test]
fn go_init_attacks_user_gvisor() {
    gvisor_or_fail();
    go_suite(Who::User, Backend::Gvisor);
}

/// The checks above can fail: with the isolation switched off on purpose (`--network
/// host`, `--writable`) the same attacks get through, the test sees it, and the report
/// says the child had the host's network and file system.
#[test]
fn the_checks_see_an_attack_that_gets_through() {
    let plugin = c_plugin();
    let o = attack(
        Who::Root,
        Backend::Native,
        &plugin,
        "setns-net",
        &["--network", "host"],
    );
    assert!(
        o.broken
            .iter()
            .any(|b| b.contains("loopback listener got a connection")),
        "{:?}\n{}",
        o.broken,
        o.said
    );
    assert!(
        o.run("loader")["isolation"]["network"]
            .as_str()
            .unwrap()
            .starts_with("host network"),
        "{}",
        o.run("loader")["isolation"]
    );
    let o = attack(
        Who::Root,
        Backend::Native,
        &plugin,
        "remount",
        &["--writable"],
    );
    assert!(
        o.broken.iter().any(|b| b.contains("pwned-remount")),
        "{:?}\n{}",
        o.broken,
        o.said
    );
    assert_eq!(o.run("loader")["isolation"]["readonly"], false);
}

/// plugctl killed mid-load (SIGKILL, no clean-up): the sandbox dies with it, and the
/// next run removes the dead run's cgroups and directories.
#[test]
fn killing_plugctl_kills_the_sandbox_and_the_next_run_reaps() {
    for backend in [Backend::Native, Backend::Gvisor] {
        if backend == Backend::Gvisor {
            gvisor_or_fail();
        }
        let tmp = tempfile::tempdir().unwrap();
        let exe = PathBuf::from(env!("CARGO_BIN_EXE_plugctl"));
        let mut child = Command::new(&exe)
            .args([
                "load",
                "--sandbox",
                backend.arg(),
                "--timeout",
                "100s",
                "--memory",
                "256M",
            ])
            .args(["--env", "HOSTILE_ATTACK=hang"])
            .arg(c_plugin())
            .env("TMPDIR", tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // The plugin is a host process under bubblewrap, a task of gVisor's kernel under
        // runsc: there, the sandbox is runsc's processes (their command lines name the
        // run's control directory under TMPDIR), and the plugin has started once the
        // stage's probe report is written.
        let sandbox = |tmp: &Path| -> Vec<u32> {
            let mut v = processes_named("hostile-hang");
            v.extend(processes_mentioning(tmp));
            v
        };
        let plugin_started = |tmp: &Path| match backend {
            Backend::Native => !processes_named("hostile-hang").is_empty(),
            Backend::Gvisor => std::fs::read_dir(tmp)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    std::fs::read_to_string(e.path().join("io/stage.jsonl"))
                        .is_ok_and(|t| t.contains("\"sandbox\""))
                }),
        };
        let started = Instant::now();
        while !plugin_started(tmp.path()) && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            plugin_started(tmp.path()),
            "{backend:?}: the plugin never started"
        );
        std::thread::sleep(Duration::from_millis(200));
        assert!(!sandbox(tmp.path()).is_empty());
        let groups = |pid: u32| -> Vec<PathBuf> {
            ["memory", "pids", "cpu"]
                .iter()
                .flat_map(|c| {
                    walkdir_named(
                        &Path::new("/sys/fs/cgroup").join(c),
                        &format!("plugctl-{pid}-"),
                    )
                })
                .collect()
        };
        let stale_groups = groups(pid);
        child.kill().unwrap();
        child.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !sandbox(tmp.path()).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            sandbox(tmp.path()).is_empty(),
            "{backend:?}: the sandbox outlived plugctl: {:?}",
            sandbox(tmp.path())
        );
        let stale_dirs = std::fs::read_dir(tmp.path()).unwrap().count();
        assert!(
            stale_dirs > 0,
            "{backend:?}: expected the killed run's directories"
        );
        // The next run reaps them.
        let mut next = Command::new(&exe);
        next.args(["load", "--sandbox", backend.arg(), "--loader-only"])
            .arg(c_plugin())
            .env("TMPDIR", tmp.path());
        let done = run_with_timeout(next, Duration::from_secs(60));
        assert_eq!(done.code(), Some(0), "{}", done.stderr);
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{backend:?}: not reaped: {left:?}");
        for g in stale_groups {
            assert!(
                !g.exists(),
                "{backend:?}: stale cgroup {} not reaped",
                g.display()
            );
        }
        eprintln!(
            "{backend:?}: sandbox died with plugctl; the next run reaped {stale_dirs} dir(s)"
        );
    }
}

/// Processes whose command line mentions `path` (not this test).
fn processes_mentioning(path: &Path) -> Vec<u32> {
    let needle = path.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| *p != std::process::id())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

/// Directories under `root` (two levels at most) whose name starts with `prefix`.
fn walkdir_named(root: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = todo.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) {
                out.push(e.path());
            } else if depth < 3 {
                todo.push((e.path(), depth + 1));
            }
        }
    }
    out
}
