//! Child side: `plugctl __sandbox`, the stage that runs *inside* the sandbox (bubblewrap
//! or gVisor built it: namespaces, capabilities, mounts — see [`super::bwrap`] and
//! [`super::runsc`]; plugctl re-implements none of that). It reads its [`StageSpec`] and
//! forks the target's process. That process installs the seccomp filter (the default
//! deny-list plus `--seccomp`), runs the isolation [`probe`](super::probe) with the
//! target's credentials, sets the rlimits, reports, and `execve`s the target. The stage
//! itself waits for it and reports how it ended with its resource usage.
//!
//! Descriptors, native: 3 spec, 4 report (the target's fd 3), 5 the seccomp hand-over
//! socket, 6 the stage's own events (close-on-exec: the target never holds it, so it
//! cannot forge them). Under gVisor, which passes no descriptors, `--files DIR` names
//! files in a control directory instead and the filter is decided in the kernel alone.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, IntoRawFd};

use serde::Serialize;

use super::child::StageSpec;
use super::{probe, seccomp};

const SPEC_FD: i32 = 3;
const REPORT_FD: i32 = 4;
const STATUS_FD: i32 = 6;

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

fn close_other_fds(keep: &[i32]) {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: closing fds this stage does not use; the read_dir fd is already gone.
            unsafe { libc::close(fd) };
        }
    }
}

/// Opens the control files of `--files DIR` on the descriptors the stage expects.
fn open_control_files(dir: &str) -> std::io::Result<()> {
    let open = |name: &str, write: bool, fd: i32| -> std::io::Result<()> {
        let file = if write {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(format!("{dir}/{name}"))?
        } else {
            std::fs::File::open(format!("{dir}/{name}"))?
        };
        let raw = file.into_raw_fd();
        if raw != fd {
            // SAFETY: dup2/close on fds this stage owns.
            unsafe {
                if libc::dup2(raw, fd) < 0 {
                    return Err(errno());
                }
                libc::close(raw);
            }
        }
        Ok(())
    };
    open("spec.json", false, SPEC_FD)?;
    open("report.jsonl", true, REPORT_FD)?;
    open("stage.jsonl", true, STATUS_FD)
}

fn set_rlimits(spec: &StageSpec, errors: &mut Vec<String>) -> Vec<String> {
    let mut done = Vec::new();
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
            done.push(format!(
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
    done
}

/// How the filter went in: with plugctl's listener, or in the kernel alone. In the
/// kernel alone, the deny-list goes in now and the rest of the policy (a `--seccomp`
/// profile) is returned to be installed after the probe, which is not the target.
type Filter = Vec<(u16, u8, u8, u32)>;

fn install_seccomp(spec: &StageSpec, handoff: bool) -> Result<(String, Option<Filter>), String> {
    let notify_error = match (&spec.seccomp_filter, handoff) {
        (Some(filter), true) => match seccomp::install(filter) {
            Ok(()) => {
                return Ok((
                    format!(
                        "{} BPF instructions, SECCOMP_RET_USER_NOTIF listener in plugctl",
                        filter.len()
                    ),
                    None,
                ));
            }
            Err(e) => Some(e.to_string()),
        },
        _ => None,
    };
    let Some(filter) = &spec.seccomp_fallback else {
        return Err(format!(
            "this mode needs SECCOMP_RET_USER_NOTIF, which failed{}",
            notify_error.map(|e| format!(": {e}")).unwrap_or_default()
        ));
    };
    let deny = seccomp::Plan::deny_list_only()
        .fallback
        .expect("the deny-list has a kernel-only form");
    seccomp::install_plain(&deny).map_err(|e| format!("installing the seccomp filter: {e}"))?;
    Ok((
        format!(
            "{} BPF instructions decided in the kernel (no listener{}): denied calls are refused but not named",
            filter.len(),
            notify_error
                .map(|e| format!(": SECCOMP_RET_USER_NOTIF failed: {e}"))
                .unwrap_or_default()
        ),
        Some(filter.clone()),
    ))
}

/// The stage's own report lines, read back as [`super::events::Event`]s.
#[derive(Serialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
enum StageLine<'a> {
    Sandbox {
        pid: u32,
        workdir: &'a str,
        env: Vec<&'a str>,
        rlimits: Vec<String>,
        seccomp: String,
        probe: Box<probe::Probe>,
        errors: Vec<String>,
    },
    ExecFailed {
        error: String,
    },
    Exit {
        code: Option<i32>,
        signal: Option<i32>,
        core_dumped: bool,
        maxrss_kb: i64,
        user_ms: u64,
        system_ms: u64,
    },
}

fn write_line(fd: i32, line: &StageLine) {
    // SAFETY: `fd` is open for writing; ManuallyDrop keeps it open.
    let mut out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    if let Ok(text) = serde_json::to_string(line) {
        let _ = writeln!(out, "{text}");
    }
}

fn exec_failed(error: impl Into<String>) -> StageLine<'static> {
    StageLine::ExecFailed {
        error: error.into(),
    }
}

/// The target's side of the fork: filter, probe, rlimits, report, `execve`.
fn target(spec: &StageSpec, handoff: bool) -> i32 {
    // SAFETY: dup2/close on fds owned by this process: the report pipe becomes fd 3.
    unsafe {
        libc::dup2(REPORT_FD, 3);
        libc::close(REPORT_FD);
        libc::fcntl(STATUS_FD, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    close_other_fds(&[3, seccomp::HANDOFF_FD, STATUS_FD]);
    let mut errors = Vec::new();
    let (seccomp_how, after_probe) = match install_seccomp(spec, handoff) {
        Ok(x) => x,
        Err(e) => {
            write_line(STATUS_FD, &exec_failed(e));
            return 126;
        }
    };
    let probe = probe::run(&spec.probe);
    let rlimits = set_rlimits(spec, &mut errors);
    if let Some(filter) = after_probe
        && let Err(e) = seccomp::install_plain(&filter)
    {
        write_line(
            STATUS_FD,
            &exec_failed(format!("installing the seccomp filter: {e}")),
        );
        return 126;
    }
    let env_names: Vec<&str> = spec.env.iter().map(|(k, _)| k.as_str()).collect();
    write_line(
        STATUS_FD,
        &StageLine::Sandbox {
            pid: std::process::id(),
            workdir: &spec.workdir,
            env: env_names,
            rlimits,
            seccomp: seccomp_how,
            probe: Box::new(probe),
            errors,
        },
    );
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
    if !handoff {
        // Under gVisor the report travels through a file the target could rewrite: wait
        // until plugctl has read the probe (it then sends one byte on stdin).
        let mut go = [0u8; 1];
        // SAFETY: read(2) of one byte from stdin into a live buffer.
        if unsafe { libc::read(0, go.as_mut_ptr().cast(), 1) } != 1 {
            return 125;
        }
    }
    seccomp::mark_probe_done();
    // SAFETY: execve with NUL-terminated arrays of valid C strings.
    unsafe { libc::execve(program.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
    let e = errno();
    write_line(
        STATUS_FD,
        &exec_failed(format!("execve {}: {e}", spec.program)),
    );
    127
}

/// The `__sandbox` entry point; returns the exit code.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let files = args
        .iter()
        .position(|a| a == "--files")
        .and_then(|i| args.get(i + 1));
    if let Some(dir) = files
        && open_control_files(dir).is_err()
    {
        return 125;
    }
    // SAFETY: fd 3 was set up for this stage (by plugctl or just above).
    let mut spec_in = unsafe { std::fs::File::from_raw_fd(SPEC_FD) };
    let mut text = String::new();
    if spec_in.read_to_string(&mut text).is_err() {
        return 125;
    }
    drop(spec_in);
    let spec: StageSpec = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            write_line(STATUS_FD, &exec_failed(format!("bad stage spec: {e}")));
            return 125;
        }
    };
    if let Err(e) = std::env::set_current_dir(&spec.workdir) {
        write_line(
            STATUS_FD,
            &exec_failed(format!("chdir {}: {e}", spec.workdir)),
        );
        return 125;
    }
    let handoff = files.is_none();
    // SAFETY: fork in a single-threaded process; the child only runs `target`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        write_line(STATUS_FD, &exec_failed(format!("fork: {}", errno())));
        return 125;
    }
    if pid == 0 {
        let code = target(&spec, handoff);
        // SAFETY: leave without running the parent's exit handlers twice.
        unsafe { libc::_exit(code) };
    }
    // The stage: hold nothing of the target's, wait, report.
    // SAFETY: closing this stage's copies.
    unsafe {
        libc::close(REPORT_FD);
        libc::close(seccomp::HANDOFF_FD);
    }
    let mut status = 0;
    // SAFETY: rusage is plain data filled by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 on our own child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        if r < 0 && errno().raw_os_error() != Some(libc::EINTR) {
            return 125;
        }
    }
    let tv_ms = |tv: libc::timeval| tv.tv_sec as u64 * 1000 + tv.tv_usec as u64 / 1000;
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (None, Some(libc::WTERMSIG(status)))
    };
    write_line(
        STATUS_FD,
        &StageLine::Exit {
            code,
            signal,
            core_dumped: signal.is_some() && libc::WCOREDUMP(status),
            maxrss_kb: usage.ru_maxrss,
            user_ms: tv_ms(usage.ru_utime),
            system_ms: tv_ms(usage.ru_stime),
        },
    );
    code.unwrap_or_else(|| 128 + signal.unwrap_or(0))
}
