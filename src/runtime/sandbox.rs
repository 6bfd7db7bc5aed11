//! Child side: `plugctl __sandbox`, the stage between fork and the target. It reads its
//! [`StageSpec`] from fd 3, reports on fd 4 (which becomes the target's fd 3), and
//! then, in this order: dies with plugctl (`PR_SET_PDEATHSIG`), starts its own session
//! (so plugctl can kill the process group), joins its cgroups, sets rlimits, enters a new
//! network namespace (falling back to a user namespace when not privileged), builds a
//! read-only view of the file system with only its working directory writable, clears
//! the environment down to the user's variables, installs the seccomp filter, and
//! `execve`s the target. Failures to isolate are reported, never hidden.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, IntoRawFd};

use serde_json::json;

use super::cgroup::unescape;
use super::child::StageSpec;
use super::seccomp;

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        _ => return None,
    })
}

fn cstr(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("no NUL left")
}

/// Maps the current uid/gid to themselves in a new user namespace.
fn enter_user_namespace() -> std::io::Result<()> {
    // SAFETY: getuid/getgid/unshare have no memory effects.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: as above.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(errno());
    }
    let _ = std::fs::write("/proc/self/setgroups", "deny");
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1\n"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1\n"))?;
    Ok(())
}

/// Network: a new, empty network namespace (no interface is up, not even `lo`).
fn isolate_network(in_userns: &mut bool) -> (bool, String) {
    // SAFETY: unshare has no memory effects.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
        return (
            true,
            "new network namespace, no interface up: no network at all".into(),
        );
    }
    let first = errno();
    match enter_user_namespace() {
        Ok(()) => {
            *in_userns = true;
            // SAFETY: as above.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
                return (
                    true,
                    format!(
                        "new user + network namespace (plain unshare(CLONE_NEWNET) failed: {first}): no network"
                    ),
                );
            }
            (
                false,
                format!(
                    "NOT isolated: unshare(CLONE_NEWNET) failed ({first}) and inside a user namespace too ({})",
                    errno()
                ),
            )
        }
        Err(e) => (
            false,
            format!(
                "NOT isolated: unshare(CLONE_NEWNET) failed ({first}); a user namespace was refused too ({e}); the child has the host's network"
            ),
        ),
    }
}

fn mount_flags(options: &str) -> libc::c_ulong {
    let mut flags = 0;
    for o in options.split(',') {
        flags |= match o {
            "nosuid" => libc::MS_NOSUID,
            "nodev" => libc::MS_NODEV,
            "noexec" => libc::MS_NOEXEC,
            "noatime" => libc::MS_NOATIME,
            "nodiratime" => libc::MS_NODIRATIME,
            "relatime" => libc::MS_RELATIME,
            _ => 0,
        };
    }
    flags
}

/// File system: every mount read-only except /proc, /sys, /dev and the working directory.
fn readonly_view(workdir: &str, in_userns: &mut bool) -> (bool, String) {
    // SAFETY: unshare has no memory effects.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        let first = errno();
        if *in_userns || enter_user_namespace().is_err() {
            return (
                false,
                format!(
                    "NOT read-only: unshare(CLONE_NEWNS) failed ({first}); the child sees the host's file system writable as plugctl does"
                ),
            );
        }
        *in_userns = true;
        // SAFETY: as above.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
            return (
                false,
                format!(
                    "NOT read-only: unshare(CLONE_NEWNS) failed ({first}, and in a user namespace: {})",
                    errno()
                ),
            );
        }
    }
    let root = cstr("/");
    let wd = cstr(workdir);
    // SAFETY: mount(2) with valid C strings (or NULL where the call allows it).
    unsafe {
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return (
                false,
                format!("NOT read-only: making / private failed ({})", errno()),
            );
        }
        if libc::mount(
            wd.as_ptr(),
            wd.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        ) != 0
        {
            return (
                false,
                format!(
                    "NOT read-only: binding the working directory failed ({})",
                    errno()
                ),
            );
        }
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let (mut done, mut failed) = (0, Vec::new());
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 6 {
            continue;
        }
        let point = unescape(fields[4]);
        let skip = ["/proc", "/sys", "/dev"]
            .iter()
            .any(|p| point == *p || point.starts_with(&format!("{p}/")))
            || point == workdir;
        if skip {
            continue;
        }
        let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | mount_flags(fields[5]);
        let mp = cstr(&point);
        // SAFETY: mount(2) remount of an existing mount point.
        if unsafe {
            libc::mount(
                std::ptr::null(),
                mp.as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            )
        } == 0
        {
            done += 1;
        } else {
            failed.push(format!("{point} ({})", errno()));
        }
    }
    if failed.is_empty() {
        (
            true,
            format!(
                "read-only: {done} mounts remounted read-only in a private mount namespace; writable: the working directory, /dev, /proc, /sys"
            ),
        )
    } else {
        (
            done > 0,
            format!(
                "partly read-only: {done} mounts read-only, {} could not be: {}",
                failed.len(),
                failed.join(", ")
            ),
        )
    }
}

fn close_other_fds(keep_up_to: i32) {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds {
        if fd > keep_up_to {
            // SAFETY: closing fds this stage does not use; the read_dir fd is already gone.
            unsafe { libc::close(fd) };
        }
    }
}

/// The `__sandbox` entry point; returns only on failure (the exit code).
pub fn main() -> i32 {
    // SAFETY: fds 3 and 4 were set up by the parent for this stage.
    let mut spec_in = unsafe { std::fs::File::from_raw_fd(3) };
    let mut report = unsafe { std::fs::File::from_raw_fd(4) };
    let mut text = String::new();
    if spec_in.read_to_string(&mut text).is_err() {
        return 125;
    }
    drop(spec_in);
    let spec: StageSpec = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(
                report,
                "{}",
                json!({"ev": "exec-failed", "error": format!("bad stage spec: {e}")})
            );
            return 125;
        }
    };
    let mut errors: Vec<String> = Vec::new();
    // SAFETY: prctl/getppid/setsid have no memory effects.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() as u32 != spec.parent_pid {
            return 125; // plugctl is already gone.
        }
        libc::setsid();
    }
    let mut cgroups = Vec::new();
    for procs in &spec.cgroup_procs {
        match std::fs::write(procs, std::process::id().to_string()) {
            Ok(()) => cgroups.push(procs.trim_end_matches("/cgroup.procs").to_string()),
            Err(e) => errors.push(format!("joining {procs}: {e}")),
        }
    }
    let mut rlimits = Vec::new();
    for r in &spec.rlimits {
        let Some(res) = resource(&r.resource) else {
            continue;
        };
        let lim = libc::rlimit {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        // SAFETY: setrlimit with a valid struct.
        if unsafe { libc::setrlimit(res, &lim) } == 0 {
            rlimits.push(format!(
                "{}={}{}",
                r.resource,
                r.soft,
                if r.hard != r.soft {
                    format!("/{}", r.hard)
                } else {
                    String::new()
                }
            ));
        } else {
            errors.push(format!("setrlimit {}: {}", r.resource, errno()));
        }
    }
    let mut in_userns = false;
    let (net_ok, network) = if spec.isolate_network {
        isolate_network(&mut in_userns)
    } else {
        (false, "host network (--network host)".to_string())
    };
    let (ro_ok, filesystem) = if spec.readonly {
        readonly_view(&spec.workdir, &mut in_userns)
    } else {
        (false, "host file system (--writable)".to_string())
    };
    if let Err(e) = std::env::set_current_dir(&spec.workdir) {
        errors.push(format!("chdir {}: {e}", spec.workdir));
    }
    let env_names: Vec<&str> = spec.env.iter().map(|(k, _)| k.as_str()).collect();
    let _ = writeln!(
        report,
        "{}",
        json!({
            "ev": "sandbox",
            "pid": std::process::id(),
            "network_isolated": net_ok,
            "network": network,
            "readonly": ro_ok,
            "filesystem": filesystem,
            "user_namespace": in_userns,
            "workdir": spec.workdir,
            "env": env_names,
            "rlimits": rlimits,
            "cgroups": cgroups,
            "seccomp": spec.seccomp_filter.as_ref().map(|f| format!("{} BPF instructions, SECCOMP_RET_USER_NOTIF listener", f.len())),
            "errors": errors,
        })
    );
    // The report pipe becomes the target's fd 3 (keep fd 4 open until then).
    let _ = report.into_raw_fd();
    // SAFETY: dup2/close on fds owned by this stage.
    unsafe {
        libc::dup2(4, 3);
        libc::close(4);
    }
    close_other_fds(if spec.seccomp_filter.is_some() { 5 } else { 3 });
    let argv: Vec<CString> = spec.argv.iter().map(|a| cstr(a)).collect();
    let envp: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| cstr(&format!("{k}={v}")))
        .collect();
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|c| c.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|c| c.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    let program = cstr(&spec.program);
    if let Some(filter) = &spec.seccomp_filter
        && let Err(e) = seccomp::install(filter)
    {
        // SAFETY: fd 3 is the report pipe.
        let mut out = unsafe { std::fs::File::from_raw_fd(3) };
        let _ = writeln!(
            out,
            "{}",
            json!({"ev": "exec-failed", "error": format!("installing the seccomp filter: {e}")})
        );
        return 126;
    }
    // SAFETY: execve with NUL-terminated arrays of valid C strings.
    unsafe { libc::execve(program.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
    let e = errno();
    // SAFETY: fd 3 is the report pipe.
    let mut out = unsafe { std::fs::File::from_raw_fd(3) };
    let _ = writeln!(
        out,
        "{}",
        json!({"ev": "exec-failed", "error": format!("execve {}: {e}", spec.program)})
    );
    127
}
