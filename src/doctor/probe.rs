//! The machine probes behind `doctor`'s checks: `go env`, kernel features, disk space,
//! masked environment variables. Each returns data; nothing prints.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{Check, GoEnvValues, PROBE_LIMIT, Status};
use crate::process_run::run_with_timeout;
use crate::toolchain::Toolchain;

/// How a child process ended.
pub(super) struct Finished {
    pub success: bool,
    /// `exit status 3`, `killed by signal 9`, `timed out after 30s`.
    pub how: String,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` with stdin closed and a wall-clock limit (the child is killed after it).
pub(super) fn run_limited(
    mut command: Command,
    limit: Duration,
    on_detail: &dyn Fn(&str),
) -> Result<Finished> {
    let shown = format!("{command:?}");
    on_detail(&format!("running {shown}"));
    let done = run_with_timeout(&mut command, limit)
        .with_context(|| format!("cannot run {}", command.get_program().to_string_lossy()))?;
    let how = if done.timed_out {
        format!("timed out after {}s", limit.as_secs())
    } else {
        match (done.code(), done.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            _ => "ended".to_string(),
        }
    };
    on_detail(&format!("{how} in {:.1}s", done.elapsed.as_secs_f64()));
    for line in done.stderr.lines().take(20) {
        on_detail(&format!("  stderr: {line}"));
    }
    Ok(Finished {
        success: done.success(),
        how,
        stdout: done.stdout,
        stderr: done.stderr,
    })
}

/// The last non-empty lines of a command's error output, for an observation.
pub(super) fn tail(text: &str, lines: usize) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    kept[kept.len().saturating_sub(lines)..].join("\n")
}

/// The first line `PROGRAM ARGS` prints (e.g. `gcc --version`).
pub(super) fn first_line_of(
    program: &Path,
    args: &[&str],
    on_detail: &dyn Fn(&str),
) -> Option<String> {
    let mut command = Command::new(program);
    command.args(args);
    let done = run_limited(command, PROBE_LIMIT, on_detail).ok()?;
    let text = if done.stdout.trim().is_empty() {
        done.stderr
    } else {
        done.stdout
    };
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// `go env GOROOT` of a toolchain.
pub(super) fn goroot(tc: &Toolchain, on_detail: &dyn Fn(&str)) -> Option<String> {
    let mut command = tc.command();
    command
        .args(["env", "GOROOT"])
        .current_dir(std::env::temp_dir());
    let done = run_limited(command, PROBE_LIMIT, on_detail).ok()?;
    let root = done.stdout.trim();
    (done.success && !root.is_empty()).then(|| root.to_string())
}

/// The `go env` values that make host and plugin builds disagree, from `tc`.
pub(super) fn go_env(tc: &Toolchain, on_detail: &dyn Fn(&str)) -> Result<GoEnvValues> {
    const KEYS: &[&str] = &[
        "GOFLAGS",
        "GOAMD64",
        "GOEXPERIMENT",
        "CGO_ENABLED",
        "CC",
        "GOROOT",
        "GOVERSION",
        "GOENV",
    ];
    let mut command = tc.command();
    // Outside any module, so no go.mod line changes the answer.
    command
        .arg("env")
        .arg("-json")
        .args(KEYS)
        .current_dir(std::env::temp_dir());
    let done = run_limited(command, PROBE_LIMIT, on_detail)?;
    if !done.success {
        bail!("{}: {}", done.how, tail(&done.stderr, 3));
    }
    let values: BTreeMap<String, String> = serde_json::from_str(&done.stdout)
        .with_context(|| format!("`go env -json` printed {:?}", tail(&done.stdout, 3)))?;
    let user_gotoolchain = std::env::var("GOTOOLCHAIN")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| {
            values
                .get("GOENV")
                .and_then(|file| go_env_file_value(Path::new(file), "GOTOOLCHAIN"))
        })
        .unwrap_or_default();
    Ok(GoEnvValues {
        toolchain: tc.version.clone(),
        values,
        user_gotoolchain,
    })
}

/// A `KEY=value` line of the go env file (`go env -w` writes it).
fn go_env_file_value(file: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .filter_map(|line| line.trim().split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// musl's dynamic loaders present on this machine (`/lib/ld-musl-x86_64.so.1`).
pub(super) fn musl_loaders() -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir("/lib")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("ld-musl-"))
                .map(|name| format!("/lib/{name}"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Tries `unshare ARGS true`; `Ok(())` when the namespaces could be created.
fn try_unshare(unshare: &Path, args: &[&str], on_detail: &dyn Fn(&str)) -> Result<(), String> {
    let mut command = Command::new(unshare);
    command.args(args).arg("true");
    match run_limited(command, PROBE_LIMIT, on_detail) {
        Ok(done) if done.success => Ok(()),
        Ok(done) => Err(format!(
            "`unshare {} true`: {}: {}",
            args.join(" "),
            done.how,
            tail(&done.stderr, 1)
        )),
        Err(err) => Err(format!("{err:#}")),
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub(super) fn userns_check(on_detail: &dyn Fn(&str)) -> Check {
    let max = read_trimmed("/proc/sys/user/max_user_namespaces");
    let max_text = match &max {
        Some(n) => format!("user.max_user_namespaces={n}"),
        None => {
            "no /proc/sys/user/max_user_namespaces (kernel without user namespaces)".to_string()
        }
    };
    if max.as_deref() == Some("0") || max.is_none() {
        return Check::new("kernel.userns", "user namespaces", Status::Warn, max_text)
            .fix("enable them: sysctl -w user.max_user_namespaces=15000 (and kernel.unprivileged_userns_clone=1 on older Debian kernels)");
    }
    let Ok(unshare) = which::which("unshare") else {
        return Check::new(
            "kernel.userns",
            "user namespaces",
            Status::Warn,
            format!("{max_text}; no `unshare` on PATH"),
        )
        .fix("install util-linux (apt-get install util-linux), which provides unshare");
    };
    match try_unshare(&unshare, &["--user", "--map-root-user"], on_detail) {
        Ok(()) => Check::new("kernel.userns", "user namespaces", Status::Ok, format!("{max_text}; `unshare --user --map-root-user` works")),
        Err(why) => Check::new("kernel.userns", "user namespaces", Status::Warn, format!("{max_text}; {why}"))
            .fix("allow unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1; on Ubuntu kernel.apparmor_restrict_unprivileged_userns=0), or run as root"),
    }
}

pub(super) fn netns_check(on_detail: &dyn Fn(&str)) -> Check {
    let Ok(unshare) = which::which("unshare") else {
        return Check::new(
            "kernel.netns",
            "network namespaces",
            Status::Warn,
            "no `unshare` on PATH",
        )
        .fix("install util-linux (apt-get install util-linux), which provides unshare");
    };
    let attempt = try_unshare(&unshare, &["--user", "--map-root-user", "--net"], on_detail)
        .or_else(|first| {
            if is_root() {
                try_unshare(&unshare, &["--net"], on_detail)
                    .map_err(|second| format!("{first}; {second}"))
            } else {
                Err(first)
            }
        });
    match attempt {
        Ok(()) => Check::new("kernel.netns", "network namespaces", Status::Ok, "`unshare --net` works (a process can be cut off the network)"),
        Err(why) => Check::new("kernel.netns", "network namespaces", Status::Warn, why)
            .fix("enable CONFIG_NET_NS and user namespaces, or run as root; without them `plugctl load` runs hosts with the machine's network"),
    }
}

pub(super) fn seccomp_check() -> Check {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')))
            .map(|v| v.trim().to_string())
    };
    let mode = match field("Seccomp") {
        Some(mode) => mode,
        // No Seccomp line (kernel without CONFIG_SECCOMP, or /proc hidden): ask prctl.
        None => match rustix::thread::secure_computing_mode() {
            Ok(rustix::thread::SecureComputingMode::Disabled) => "0".into(),
            Ok(rustix::thread::SecureComputingMode::Strict) => "1".into(),
            Ok(rustix::thread::SecureComputingMode::Filter) => "2".into(),
            Err(err) => {
                return Check::new("kernel.seccomp", "seccomp", Status::Warn, format!("no Seccomp field in /proc/self/status and prctl(PR_GET_SECCOMP) failed: {err}"))
                    .fix("use a kernel built with CONFIG_SECCOMP_FILTER");
            }
        },
    };
    let this = match mode.as_str() {
        "0" => "plugctl itself runs without a filter".to_string(),
        "2" => format!(
            "plugctl itself already runs under {} seccomp filter(s) (a container?)",
            field("Seccomp_filters").unwrap_or_else(|| "some".into())
        ),
        other => format!("plugctl itself runs in seccomp mode {other}"),
    };
    match read_trimmed("/proc/sys/kernel/seccomp/actions_avail") {
        Some(actions) => Check::new(
            "kernel.seccomp",
            "seccomp",
            Status::Ok,
            format!("filters supported (actions: {actions}); {this}"),
        ),
        None => Check::new(
            "kernel.seccomp",
            "seccomp",
            Status::Warn,
            format!(
                "no /proc/sys/kernel/seccomp/actions_avail: seccomp filters unsupported; {this}"
            ),
        )
        .fix("use a kernel built with CONFIG_SECCOMP_FILTER (every distribution kernel is)"),
    }
}

/// A cgroup hierarchy mounted on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// 1 or 2.
    pub version: u8,
    pub mount_point: String,
    /// Controllers of a v1 hierarchy (`memory`, `pids`, `cpu,cpuacct` split); empty for v2.
    pub controllers: Vec<String>,
    pub read_only: bool,
}

/// The cgroup mounts listed in a `/proc/self/mountinfo` text.
pub fn parse_cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    for line in mountinfo.lines() {
        // `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS`
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split_whitespace().collect();
        let right: Vec<&str> = right.split_whitespace().collect();
        let (Some(mount_point), Some(options), Some(fstype)) =
            (left.get(4), left.get(5), right.first())
        else {
            continue;
        };
        let read_only = options.split(',').any(|o| o == "ro");
        let super_options = right.get(2).copied().unwrap_or("");
        match *fstype {
            "cgroup2" => mounts.push(CgroupMount {
                version: 2,
                mount_point: mount_point.to_string(),
                controllers: Vec::new(),
                read_only,
            }),
            "cgroup" => {
                const KNOWN: &[&str] = &[
                    "cpu",
                    "cpuacct",
                    "cpuset",
                    "memory",
                    "pids",
                    "devices",
                    "freezer",
                    "blkio",
                    "io",
                    "net_cls",
                    "net_prio",
                    "perf_event",
                    "hugetlb",
                    "rdma",
                    "misc",
                ];
                let controllers = super_options
                    .split(',')
                    .filter(|o| KNOWN.contains(o))
                    .map(str::to_string)
                    .collect();
                mounts.push(CgroupMount {
                    version: 1,
                    mount_point: mount_point.to_string(),
                    controllers,
                    read_only,
                });
            }
            _ => {}
        }
    }
    mounts
}

pub(super) fn cgroups_check() -> Check {
    const WANTED: &[&str] = &["memory", "pids", "cpu"];
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts = parse_cgroup_mounts(&mountinfo);
    if let Some(v2) = mounts
        .iter()
        .find(|m| m.version == 2 && m.mount_point == "/sys/fs/cgroup")
    {
        let controllers = read_trimmed("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
        let have: Vec<&str> = controllers.split_whitespace().collect();
        let missing: Vec<&str> = WANTED
            .iter()
            .copied()
            .filter(|c| !have.contains(c))
            .collect();
        let observed = format!(
            "cgroup v2 at /sys/fs/cgroup ({}), controllers: {}",
            if v2.read_only {
                "read-only"
            } else {
                "writable"
            },
            if controllers.is_empty() {
                "none"
            } else {
                &controllers
            }
        );
        return if missing.is_empty() && !v2.read_only {
            Check::new("kernel.cgroups", "cgroups", Status::Ok, observed)
        } else {
            Check::new("kernel.cgroups", "cgroups", Status::Warn, format!("{observed}; missing: {}", if missing.is_empty() { "write access".to_string() } else { missing.join(", ") }))
                .fix("enable the controllers (systemd: Delegate=yes; echo +memory +pids +cpu > cgroup.subtree_control), or run with a writable /sys/fs/cgroup; without them `plugctl load` cannot limit memory and processes")
        };
    }
    let v1: Vec<&CgroupMount> = mounts
        .iter()
        .filter(|m| m.version == 1 && !m.controllers.is_empty())
        .collect();
    if v1.is_empty() {
        return Check::new("kernel.cgroups", "cgroups", Status::Warn, "no cgroup file system mounted")
            .fix("mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup); without it `plugctl load` cannot limit memory and processes");
    }
    let mut listed: Vec<String> = Vec::new();
    let mut missing = Vec::new();
    for wanted in WANTED {
        match v1
            .iter()
            .find(|m| m.controllers.iter().any(|c| c == wanted))
        {
            Some(m) => listed.push(format!(
                "{wanted} ({}{})",
                m.mount_point,
                if m.read_only { ", read-only" } else { "" }
            )),
            None => missing.push(*wanted),
        }
    }
    let read_only = v1
        .iter()
        .any(|m| m.read_only && m.controllers.iter().any(|c| WANTED.contains(&c.as_str())));
    let observed = format!("cgroup v1: {}", listed.join(", "));
    if missing.is_empty() && !read_only {
        Check::new("kernel.cgroups", "cgroups", Status::Ok, observed)
    } else {
        let what = if missing.is_empty() {
            "write access".to_string()
        } else {
            missing.join(", ")
        };
        Check::new("kernel.cgroups", "cgroups", Status::Warn, format!("{observed}; missing: {what}"))
            .fix("mount the missing v1 controllers read-write (mount -t cgroup -o memory,pids,cpu ...), or switch to cgroup v2; without them `plugctl load` cannot set those limits")
    }
}

/// bubblewrap, the native sandbox of `plugctl load`: present and able to build a sandbox
/// (a user, PID and network namespace running `true` from a read-only /usr).
pub(super) fn bwrap_check(on_detail: &dyn Fn(&str)) -> Check {
    const ID: &str = "sandbox.bwrap";
    const NAME: &str = "bubblewrap (bwrap)";
    let Ok(path) = which::which("bwrap") else {
        return Check::new(
            ID,
            NAME,
            Status::Fail,
            "not installed: `plugctl load` needs it",
        )
        .fix("apt-get install bubblewrap (Debian/Ubuntu), dnf install bubblewrap (Fedora)");
    };
    let version =
        first_line_of(&path, &["--version"], on_detail).unwrap_or_else(|| "version unknown".into());
    let output = Command::new(&path)
        .args([
            "--unshare-user",
            "--unshare-pid",
            "--unshare-net",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--",
            "true",
        ])
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(o) if o.status.success() => Check::new(
            ID,
            NAME,
            Status::Ok,
            format!("{} ({version}): builds a sandbox", path.display()),
        ),
        Ok(o) => Check::new(
            ID,
            NAME,
            Status::Fail,
            format!(
                "{} ({version}) cannot build a sandbox: {}",
                path.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        )
        .fix("allow user namespaces (see kernel.userns), or run plugctl as root"),
        Err(e) => Check::new(ID, NAME, Status::Fail, format!("{}: {e}", path.display())),
    }
}

/// A shared object every glibc system has, for the gVisor smoke load.
fn smoke_object() -> Option<PathBuf> {
    [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
        "/usr/lib64/libm.so.6",
        "/lib64/libm.so.6",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// gVisor for real: a loader-layer `load` of a system library under `--sandbox gvisor`,
/// whose in-sandbox probe must verify the isolation.
pub(super) fn runsc_check(on_detail: &dyn Fn(&str)) -> Check {
    const ID: &str = "sandbox.runsc";
    const NAME: &str = "gVisor (runsc)";
    let Ok(path) = which::which("runsc") else {
        return Check::new(
            ID,
            NAME,
            Status::Ok,
            "not installed: `plugctl load` uses bubblewrap; `--sandbox gvisor` needs runsc",
        )
        .fix("apt-get install runsc (Debian) to make `--sandbox gvisor` available");
    };
    let version =
        first_line_of(&path, &["--version"], on_detail).unwrap_or_else(|| "version unknown".into());
    let Some(object) = smoke_object() else {
        return Check::new(
            ID,
            NAME,
            Status::Warn,
            format!(
                "{} ({version}); no libm.so.6 found for a smoke load",
                path.display()
            ),
        );
    };
    on_detail(&format!("gVisor smoke load of {}", object.display()));
    let options = crate::runtime::LoadOptions {
        timeout: Duration::from_secs(30),
        sandbox: crate::runtime::Sandbox::Gvisor,
        loader_only: true,
        ..crate::runtime::LoadOptions::new(vec![object.clone()])
    };
    let started = std::time::Instant::now();
    let failed = |why: String| {
        Check::new(ID, NAME, Status::Fail, format!("{} ({version}): {why}", path.display()))
            .fix("`plugctl load --sandbox gvisor -v` shows the child's output; runsc needs ptrace (its default platform) and, unprivileged, user namespaces")
    };
    match crate::runtime::load(&options, &|_| {}) {
        Err(e) => failed(format!("smoke load failed: {e:#}")),
        Ok(report) => {
            let a = &report.artifacts[0];
            let layer = |n: &str| a.layers.iter().find(|l| l.layer == n);
            match (layer("loader"), layer("isolation")) {
                (Some(l), Some(i))
                    if l.status == crate::runtime::LayerStatus::Pass
                        && i.status == crate::runtime::LayerStatus::Pass =>
                {
                    Check::new(
                        ID,
                        NAME,
                        Status::Ok,
                        format!(
                            "{} ({version}): smoke load of {} in {} ms, isolation verified inside",
                            path.display(),
                            object.display(),
                            started.elapsed().as_millis()
                        ),
                    )
                }
                (l, i) => failed(format!(
                    "smoke load of {}: loader {}, isolation {}",
                    object.display(),
                    l.map_or("missing".into(), |l| format!(
                        "{} ({})",
                        l.status.as_str(),
                        l.reason
                    )),
                    i.map_or("missing".into(), |i| format!(
                        "{} ({})",
                        i.status.as_str(),
                        i.reason
                    )),
                )),
            }
        }
    }
}

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// Below this the cache cannot take another toolchain (about 250 MiB unpacked) and a cold GOCACHE.
const DISK_FAIL: u64 = 512 * MIB;
const DISK_WARN: u64 = 2 * GIB;

fn human(bytes: u64) -> String {
    if bytes >= GIB {
        format!("{:.1} GiB", bytes as f64 / GIB as f64)
    } else {
        format!("{} MiB", bytes / MIB)
    }
}

/// The directory itself or its nearest existing ancestor (the cache may not exist yet).
fn existing_ancestor(dir: &Path) -> PathBuf {
    let mut current = dir.to_path_buf();
    while !current.exists() {
        match current.parent() {
            Some(parent) if parent != current => current = parent.to_path_buf(),
            _ => break,
        }
    }
    current
}

pub(super) fn disk_check(cache_dir: &Path) -> Check {
    let probe = existing_ancestor(cache_dir);
    let shown = if probe == cache_dir {
        cache_dir.display().to_string()
    } else {
        format!(
            "{} (not created yet; measured at {})",
            cache_dir.display(),
            probe.display()
        )
    };
    let stat = match rustix::fs::statvfs(&probe) {
        Ok(stat) => stat,
        Err(err) => {
            return Check::new(
                "cache.disk",
                "cache disk space",
                Status::Warn,
                format!("statvfs({}): {err}", probe.display()),
            )
            .fix("set PLUGCTL_CACHE_DIR to a writable directory on a local file system");
        }
    };
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let total = stat.f_blocks.saturating_mul(stat.f_frsize);
    let observed = format!("{} free of {} for {shown}", human(free), human(total));
    let flags = stat.f_flag;
    if flags.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
        return Check::new(
            "cache.disk",
            "cache disk space",
            Status::Fail,
            format!("{observed}; the file system is read-only"),
        )
        .fix("set PLUGCTL_CACHE_DIR to a writable directory");
    }
    if flags.contains(rustix::fs::StatVfsMountFlags::NOEXEC) {
        return Check::new(
            "cache.disk",
            "cache disk space",
            Status::Fail,
            format!("{observed}; the file system is mounted noexec: cached toolchains cannot run"),
        )
        .fix("set PLUGCTL_CACHE_DIR to a directory on a file system without noexec");
    }
    if free < DISK_FAIL {
        Check::new("cache.disk", "cache disk space", Status::Fail, observed)
            .fix(format!("free at least {} (a Go toolchain takes about 250 MiB, a cold GOCACHE more), or set PLUGCTL_CACHE_DIR elsewhere", human(DISK_WARN)))
    } else if free < DISK_WARN {
        Check::new("cache.disk", "cache disk space", Status::Warn, observed)
            .fix(format!("free at least {}, or set PLUGCTL_CACHE_DIR elsewhere; `go clean -cache` empties GOCACHE", human(DISK_WARN)))
    } else {
        Check::new("cache.disk", "cache disk space", Status::Ok, observed)
    }
}

/// Describes a secret without revealing it: whether it is set, its length, and the first
/// three characters only when it is long enough for that to give nothing away.
pub fn mask_secret(value: Option<&OsString>) -> String {
    let Some(value) = value else {
        return "not set".to_string();
    };
    let text = value.to_string_lossy();
    let chars = text.chars().count();
    match chars {
        0 => "set but empty".to_string(),
        1..=11 => format!("set ({chars} characters)"),
        _ => {
            let prefix: String = text.chars().take(3).collect();
            format!("set ({chars} characters, begins `{prefix}`)")
        }
    }
}

/// `DEEPSEEK_API_KEY` and `DEEPSEEK_BASE_URL`, which LLM plugins read during init (PC017).
pub(super) fn llm_variable_check(name: &str, value: Option<OsString>) -> Check {
    let id = format!("env.{name}");
    let masked = mask_secret(value.as_ref());
    match &value {
        Some(v) if v.is_empty() => Check::new(id, name, Status::Warn, format!("{name} is {masked}: plugins that read it at init see an empty value, not a missing one"))
            .fix(format!("set a real value before the host calls plugin.Open, or unset it (unset {name})")),
        Some(_) => Check::new(id, name, Status::Ok, format!("{name} is {masked}; plugins that read it at init get it when the host process has it before plugin.Open")),
        None => Check::new(id, name, Status::Ok, format!("{name} is not set (only plugins that call an LLM at init need it)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let key = OsString::from("sk-0123456789abcdef0123456789abcdef");
        let shown = mask_secret(Some(&key));
        assert_eq!(shown, "set (35 characters, begins `sk-`)");
        assert!(!shown.contains("0123"));
        assert_eq!(
            mask_secret(Some(&OsString::from("short"))),
            "set (5 characters)"
        );
        assert_eq!(mask_secret(Some(&OsString::new())), "set but empty");
        assert_eq!(mask_secret(None), "not set");
        let check = llm_variable_check("DEEPSEEK_API_KEY", Some(key));
        assert_eq!(check.status, Status::Ok);
        assert!(!check.observed.contains("0123456789"));
        assert_eq!(
            llm_variable_check("DEEPSEEK_API_KEY", Some(OsString::new())).status,
            Status::Warn
        );
    }

    #[test]
    fn cgroup_mounts_v1_and_v2() {
        let text = "\
34 25 0:29 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
35 34 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,memory
36 34 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
37 34 0:32 / /sys/fs/cgroup/pids ro,relatime - cgroup cgroup rw,pids
38 34 0:33 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
39 25 0:34 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate";
        let mounts = parse_cgroup_mounts(text);
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[0].controllers, ["memory"]);
        assert_eq!(mounts[1].controllers, ["cpu", "cpuacct"]);
        assert!(mounts[2].read_only);
        assert!(mounts[3].controllers.is_empty());
        assert_eq!(mounts[4].version, 2);
    }

    #[test]
    fn go_env_file_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("env");
        std::fs::write(&file, "GOFLAGS=-trimpath\nGOTOOLCHAIN=go1.22.1+auto\n").unwrap();
        assert_eq!(
            go_env_file_value(&file, "GOTOOLCHAIN").as_deref(),
            Some("go1.22.1+auto")
        );
        assert_eq!(go_env_file_value(&file, "GOAMD64"), None);
    }

    #[test]
    fn missing_cache_dir_is_measured_at_its_parent() {
        let dir = tempfile::tempdir().unwrap();
        let check = disk_check(&dir.path().join("not/yet"));
        assert!(
            check.observed.contains("not created yet"),
            "{}",
            check.observed
        );
    }
}
