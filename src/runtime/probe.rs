//! The isolation probe: run by the sandbox stage inside the sandbox, after the seccomp
//! filter and before the target's `execve`, with the target's credentials. Every
//! isolation claim of the report comes from here (what the child could really do), never
//! from how the sandbox was configured.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the probe compares against, from plugctl's side of the sandbox.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProbeSpec {
    /// plugctl's pid (in its own PID namespace).
    pub parent_pid: u32,
    /// plugctl's namespaces: name -> `net:[4026531840]`.
    pub parent_ns: BTreeMap<String, String>,
    /// A listener plugctl holds on its own loopback.
    pub loopback_port: u16,
    /// Names of plugctl's own environment variables (never their values: plugctl
    /// compares the fingerprints of what the probe found with its own values).
    pub parent_env_names: Vec<String>,
    /// Names the child is given (`--env`).
    pub child_env_names: Vec<String>,
    /// Read-only inputs (plugins, host): the probe tries to create a file next to them.
    pub inputs: Vec<String>,
    pub workdir: String,
}

/// Namespaces plugctl's side reads for [`ProbeSpec::parent_ns`].
pub const NAMESPACES: &[&str] = &["pid", "net", "mnt", "ipc", "uts", "cgroup", "user"];

pub fn own_namespaces() -> BTreeMap<String, String> {
    NAMESPACES
        .iter()
        .filter_map(|n| {
            let link = std::fs::read_link(format!("/proc/self/ns/{n}")).ok()?;
            Some((n.to_string(), link.display().to_string()))
        })
        .collect()
}

fn errno_text(e: &std::io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::EACCES) => "EACCES",
        Some(libc::EROFS) => "EROFS",
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::ENOSYS) => "ENOSYS",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::ESRCH) => "ESRCH",
        Some(libc::ECONNREFUSED) => "ECONNREFUSED",
        Some(libc::ENETUNREACH) => "ENETUNREACH",
        Some(libc::EAFNOSUPPORT) => "EAFNOSUPPORT",
        Some(libc::EBADF) => "EBADF",
        Some(libc::EMFILE) => "EMFILE",
        Some(libc::ETIMEDOUT) => "ETIMEDOUT",
        Some(libc::EUSERS) => "EUSERS",
        Some(libc::ENOSPC) => "ENOSPC",
        _ => return e.to_string(),
    };
    name.to_string()
}

/// `Ok(())` → "allowed"; an error → its errno name.
fn outcome(r: std::io::Result<()>) -> (bool, String) {
    match r {
        Ok(()) => (true, "ALLOWED".into()),
        Err(e) => (false, errno_text(&e)),
    }
}

fn last() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn cstr(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("no NUL left")
}

fn try_create(path: &str) -> std::io::Result<()> {
    let c = cstr(path);
    // SAFETY: open/close/unlink with a valid C string.
    unsafe {
        let fd = libc::open(
            c.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
            0o600,
        );
        if fd < 0 {
            return Err(last());
        }
        libc::close(fd);
        libc::unlink(c.as_ptr());
    }
    Ok(())
}

fn try_mount(
    source: &str,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
) -> std::io::Result<()> {
    let (s, t) = (cstr(source), cstr(target));
    let f = fstype.map(cstr);
    // SAFETY: mount(2) with valid C strings; a success is undone right away.
    unsafe {
        if libc::mount(
            s.as_ptr(),
            t.as_ptr(),
            f.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
            flags,
            std::ptr::null(),
        ) != 0
        {
            return Err(last());
        }
        if flags & libc::MS_REMOUNT == 0 {
            libc::umount2(t.as_ptr(), libc::MNT_DETACH);
        }
    }
    Ok(())
}

fn try_setns(path: &str) -> std::io::Result<()> {
    let c = cstr(path);
    // SAFETY: open/setns/close on a namespace file.
    unsafe {
        let fd = libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(last());
        }
        let r = libc::setns(fd, 0);
        let e = last();
        libc::close(fd);
        if r != 0 {
            return Err(e);
        }
    }
    Ok(())
}

fn try_unshare(flags: libc::c_int) -> std::io::Result<()> {
    // SAFETY: unshare has no memory effects (a success only affects this probe process,
    // which execs the target next; it is reported as a failure of the sandbox).
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(last());
    }
    Ok(())
}

fn try_ptrace(pid: libc::pid_t) -> std::io::Result<()> {
    // SAFETY: ptrace attach/detach; no memory is touched.
    unsafe {
        if libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0) != 0 {
            return Err(last());
        }
        libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0);
    }
    Ok(())
}

fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// FNV-1a of `NAME=VALUE`: lets plugctl recognise its own values without sending them in.
pub fn fingerprint(entry: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in entry {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// `NAME=VALUE` fingerprints readable from `/proc/<pid>/environ` for every visible pid.
fn readable_environs() -> BTreeMap<String, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    // SAFETY: getpid has no effects.
    let me = unsafe { libc::getpid() }.to_string();
    for pid in visible_pids() {
        if pid.to_string() == me {
            continue;
        }
        let mut bytes = Vec::new();
        let ok = std::fs::File::open(format!("/proc/{pid}/environ"))
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .is_ok();
        if ok {
            let names: Vec<(String, String)> = bytes
                .split(|b| *b == 0)
                .filter_map(|kv| {
                    let text = String::from_utf8_lossy(kv);
                    text.split_once('=')
                        .map(|(k, _)| (k.to_string(), fingerprint(kv)))
                })
                .collect();
            out.insert(pid.to_string(), names);
        }
    }
    out
}

fn visible_pids() -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

fn loopback(port: u16) -> (bool, String) {
    if port == 0 {
        return (false, "not tried".into());
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
        Ok(_) => (
            true,
            format!("CONNECTED to plugctl's listener 127.0.0.1:{port}"),
        ),
        Err(e) => (
            false,
            format!("127.0.0.1:{port} (plugctl's listener): {}", errno_text(&e)),
        ),
    }
}

fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|n| n.trim().to_string()))
        .collect()
}

/// What the probe found inside the sandbox (`runs[].isolation.probe` in the JSON output):
/// the outcome of each attempt (`EPERM`, `EROFS`, ... or `ALLOWED`) and the claims derived.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Probe {
    pub uid: u32,
    pub cap_eff: String,
    pub no_new_privs: bool,
    pub seccomp_mode: String,
    pub privileges_dropped: bool,
    pub namespaces_shared_with_plugctl: Vec<String>,
    pub pid_ns: Option<String>,
    pub readonly: bool,
    pub write_root: String,
    pub remount_root_rw: String,
    pub inputs_writable: Vec<String>,
    pub workdir_writable: bool,
    pub mount_tmpfs: String,
    pub pid_isolated: bool,
    pub visible_pids: Vec<u32>,
    pub parent_pid_visible: bool,
    pub ptrace_parent: String,
    pub environ_readable_pids: Vec<String>,
    /// Variable name -> fingerprint of `NAME=value` found in another process's environ.
    pub parent_env_candidates: BTreeMap<String, String>,
    pub network_connect: bool,
    pub loopback: String,
    pub interfaces: Vec<String>,
    pub setns: String,
    pub unshare_user: String,
    pub unshare_mount: String,
    pub sysctl_write: String,
    pub cgroup: Vec<String>,
    pub cgroupfs_visible: bool,
    pub cgroup_mkdir: String,
    pub cgroup_mount: String,
    pub cgroup_locked: bool,
    pub escapes_blocked: bool,
}

/// Runs every check; the result goes into the `sandbox` event as `probe`.
pub fn run(spec: &ProbeSpec) -> Probe {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let ns = own_namespaces();
    let ns_shared: Vec<String> = NAMESPACES
        .iter()
        .filter(|n| {
            let (a, b) = (ns.get(**n), spec.parent_ns.get(**n));
            a.is_some() && a == b
        })
        .map(|n| n.to_string())
        .collect();
    // SAFETY: getppid/getuid have no effects.
    let (ppid, uid) = unsafe { (libc::getppid(), libc::getuid()) };

    // Files.
    let (root_write, root_write_how) = outcome(try_create("/.plugctl-probe"));
    let (remount, remount_how) = outcome(try_mount(
        "none",
        "/",
        None,
        libc::MS_REMOUNT | libc::MS_BIND,
    ));
    let inputs_writable: Vec<String> = spec
        .inputs
        .iter()
        .filter_map(|p| {
            let dir = std::path::Path::new(p).parent()?.display().to_string();
            try_create(&format!("{dir}/.plugctl-probe"))
                .ok()
                .map(|_| dir)
        })
        .collect();
    let (workdir_write, _) = outcome(try_create(&format!("{}/.plugctl-probe", spec.workdir)));
    let tmpfs_target = format!("{}/.plugctl-probe-mnt", spec.workdir);
    let _ = std::fs::create_dir(&tmpfs_target);
    let (tmpfs, tmpfs_how) = outcome(try_mount("none", &tmpfs_target, Some("tmpfs"), 0));
    let _ = std::fs::remove_dir(&tmpfs_target);

    // Processes.
    let pids = visible_pids();
    let parent_visible = ns
        .get("pid")
        .is_none_or(|n| spec.parent_ns.get("pid") == Some(n))
        && std::path::Path::new(&format!("/proc/{}", spec.parent_pid)).exists();
    let (ptrace, ptrace_how) = outcome(try_ptrace(ppid));
    let environs = readable_environs();
    let candidates: BTreeMap<String, String> = environs
        .values()
        .flatten()
        .filter(|(n, _)| !spec.child_env_names.contains(n) && spec.parent_env_names.contains(n))
        .cloned()
        .collect();

    // Network.
    let (connected, loopback_how) = loopback(spec.loopback_port);
    let ifaces = interfaces();

    // Namespaces and privileges.
    let (setns, setns_how) = outcome(try_setns("/proc/self/ns/net"));
    let (unshare, unshare_how) = outcome(try_unshare(libc::CLONE_NEWUSER));
    let (unshare_ns, unshare_ns_how) = outcome(try_unshare(libc::CLONE_NEWNS));

    // Global sysctls (core_pattern runs a program as root on the host): opened for
    // writing only, never written.
    let (sysctl, sysctl_how) = outcome({
        let c = cstr("/proc/sys/kernel/core_pattern");
        // SAFETY: open/close; nothing is written.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: closing the fd just opened.
            unsafe { libc::close(fd) };
            Ok(())
        } else {
            Err(last())
        }
    });

    // cgroups.
    let cgroup_self = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let cgroupfs_visible = std::path::Path::new("/sys/fs/cgroup").exists();
    let (cg_mkdir, cg_mkdir_how) = outcome(std::fs::create_dir("/sys/fs/cgroup/plugctl-probe"));
    if cg_mkdir {
        let _ = std::fs::remove_dir("/sys/fs/cgroup/plugctl-probe");
    }
    let cg_target = format!("{}/.plugctl-probe-cg", spec.workdir);
    let _ = std::fs::create_dir(&cg_target);
    let (cg_mount, cg_mount_how) = outcome(try_mount("cgroup", &cg_target, Some("cgroup2"), 0));
    let _ = std::fs::remove_dir(&cg_target);

    let cap_eff = status_field(&status, "CapEff:");
    // SAFETY: prctl(PR_GET_NO_NEW_PRIVS) reads a flag (gVisor's /proc lacks the field).
    let no_new_privs = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) } == 1;
    let privileges_dropped = cap_eff.chars().all(|c| c == '0') && !cap_eff.is_empty();
    let readonly = !root_write && !remount && inputs_writable.is_empty();
    let pid_isolated = !ns_shared.contains(&"pid".to_string()) && !parent_visible;
    let cgroup_locked = !cg_mkdir && !cg_mount;
    let escapes_blocked = !setns && !unshare && !unshare_ns && !ptrace && !tmpfs && !sysctl;
    Probe {
        uid,
        cap_eff,
        no_new_privs,
        seccomp_mode: status_field(&status, "Seccomp:"),
        privileges_dropped,
        namespaces_shared_with_plugctl: ns_shared,
        pid_ns: ns.get("pid").cloned(),
        readonly,
        write_root: root_write_how,
        remount_root_rw: remount_how,
        inputs_writable,
        workdir_writable: workdir_write,
        mount_tmpfs: tmpfs_how,
        pid_isolated,
        visible_pids: pids,
        parent_pid_visible: parent_visible,
        ptrace_parent: ptrace_how,
        environ_readable_pids: environs.keys().cloned().collect(),
        parent_env_candidates: candidates,
        network_connect: connected,
        loopback: loopback_how,
        interfaces: ifaces,
        setns: setns_how,
        unshare_user: unshare_how,
        unshare_mount: unshare_ns_how,
        sysctl_write: sysctl_how,
        cgroup: cgroup_self.lines().map(str::to_string).collect(),
        cgroupfs_visible,
        cgroup_mkdir: cg_mkdir_how,
        cgroup_mount: cg_mount_how,
        cgroup_locked,
        escapes_blocked,
    }
}
