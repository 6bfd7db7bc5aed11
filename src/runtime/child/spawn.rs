//! Starts the sandbox process with its descriptors in place, and feeds the target's stdin.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::StageSpec;
use super::run::Backend;
use crate::runtime::cgroup::Group;
use crate::runtime::events::Event;
use crate::runtime::procs::{pipe, socketpair};

/// The sandbox process, started with its descriptors in place, and plugctl's ends.
pub(super) struct Spawned {
    pub(super) child: std::process::Child,
    pub(super) started: Instant,
    pub(super) spec_w: OwnedFd,
    pub(super) report_r: OwnedFd,
    pub(super) status_r: OwnedFd,
    pub(super) parent_sock: OwnedFd,
}

/// Starts the sandbox (bwrap or runsc) in the load's cgroups, with the spec, report,
/// seccomp and stage descriptors as fds 3 to 6 (native) or files (gVisor).
pub(super) fn spawn(
    backend: &Backend,
    spec: &StageSpec,
    group: Option<&Group>,
    trace_procs: Option<PathBuf>,
) -> Result<Spawned> {
    let native = backend.files.is_none();
    let (spec_r, spec_w) = pipe()?;
    let (report_r, report_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let (parent_sock, child_sock) = socketpair()?;
    if let Some(io) = &backend.files {
        std::fs::write(io.join("spec.json"), serde_json::to_vec(spec)?)
            .context("writing the stage spec")?;
    }
    let fds: [RawFd; 4] = if native {
        [
            spec_r.as_raw_fd(),
            report_w.as_raw_fd(),
            child_sock.as_raw_fd(),
            status_w.as_raw_fd(),
        ]
    } else {
        [-1; 4]
    };
    let procs: Vec<std::ffi::CString> = group
        .map(|g| {
            g.procs_files()
                .iter()
                .filter_map(|p| std::ffi::CString::new(p.display().to_string()).ok())
                .collect()
        })
        .unwrap_or_default();
    // `--trace`: the tracer's own cgroup v2 group on a hybrid machine.
    let procs: Vec<std::ffi::CString> = procs
        .into_iter()
        .chain(trace_procs.and_then(|p| std::ffi::CString::new(p.display().to_string()).ok()))
        .collect();
    let mut command = Command::new(&backend.argv[0]);
    command
        .args(&backend.argv[1..])
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // calls (open/write/close/fcntl/dup2) on memory prepared before the fork.
    unsafe {
        command.pre_exec(move || {
            // bwrap/runsc die with plugctl (bwrap's --die-with-parent then takes its
            // PID namespace along).
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            // Into the load's cgroups before anything of the sandbox runs.
            for p in &procs {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                }
            }
            let mut temps = [-1; 4];
            for (i, fd) in fds.iter().enumerate() {
                if *fd >= 0 {
                    temps[i] = libc::fcntl(*fd, libc::F_DUPFD, 64);
                    if temps[i] < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
            }
            for (i, t) in temps.iter().enumerate() {
                if *t >= 0 {
                    if libc::dup2(*t, 3 + i as RawFd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::close(*t);
                }
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("starting the sandbox ({})", backend.argv[0]))?;
    drop(spec_r);
    drop(report_w);
    drop(status_w);
    drop(child_sock);
    Ok(Spawned {
        child,
        started,
        spec_w,
        report_r,
        status_r,
        parent_sock,
    })
}

/// Writes the target's stdin. Under gVisor the probe's line is read first, before the
/// target may run (one byte on stdin releases it), so the target cannot rewrite it
/// afterwards; that line is returned once read.
pub(super) fn feed_stdin(
    mut stdin: Option<std::process::ChildStdin>,
    stdin_bytes: Vec<u8>,
    probe_file: Option<PathBuf>,
    deadline: Instant,
) -> Arc<std::sync::Mutex<Option<String>>> {
    let probe_line: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let probe_out = Arc::clone(&probe_line);
    std::thread::spawn(move || {
        if let Some(file) = probe_file {
            let line = loop {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                // A complete line (the stage may still be writing it) that parses.
                if let Some(l) = text
                    .split_inclusive('\n')
                    .find(|l| l.ends_with('\n') && matches!(Event::parse(l), Event::Sandbox(_)))
                {
                    break Some(l.trim_end().to_string());
                }
                if Instant::now() >= deadline {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(2));
            };
            let Some(line) = line else { return };
            *probe_out.lock().unwrap_or_else(|e| e.into_inner()) = Some(line);
            if let Some(s) = stdin.as_mut() {
                let _ = s.write_all(b"\n");
            }
        }
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&stdin_bytes);
        }
        drop(stdin);
    });
    probe_line
}
