//! Watches the running sandbox (threads, memory, the wall-clock deadline) and kills what
//! it left behind.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::Launch;
use crate::runtime::cgroup::Group;
use crate::runtime::events::Isolation;
use crate::runtime::procs::{processes_in_pid_namespace, sample_tree};

/// How the sandbox process ended, sampled while it ran.
pub(super) struct Waited {
    pub(super) status: i32,
    pub(super) usage: libc::rusage,
    /// Killed at the deadline, after this many ms.
    pub(super) timed_out: Option<u64>,
    pub(super) max_threads: u64,
    pub(super) hwm: u64,
}

/// Waits for the sandbox, sampling its threads and memory, and kills it (and its
/// cgroups) at the wall-clock deadline.
pub(super) fn wait(
    pid: u32,
    launch: &Launch,
    group: Option<&Group>,
    started: Instant,
) -> Result<Waited> {
    let mut timed_out = None;
    let mut max_threads = 0;
    let mut hwm = 0;
    let mut delay = Duration::from_millis(2);
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: rusage is plain data filled by wait4.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid as libc::pid_t {
            break (status, usage);
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e).context("waiting for the sandbox");
            }
        }
        let s = sample_tree(pid);
        max_threads = max_threads.max(s.threads);
        hwm = hwm.max(s.hwm_kb);
        if timed_out.is_none() && started.elapsed() >= launch.timeout {
            timed_out = Some(started.elapsed().as_millis() as u64);
            // SAFETY: kill(2) of our child: bwrap's PID 1 dies with it (--die-with-parent)
            // and the kernel kills the rest of its PID namespace.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            if let Some(g) = group {
                g.kill_all(Duration::from_millis(200));
            }
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    };
    Ok(Waited {
        status,
        usage,
        timed_out,
        max_threads,
        hwm,
    })
}

/// Kills what is left of the sandbox (its PID namespace, then its cgroups); how many.
pub(super) fn kill_leftovers(isolation: Option<&Isolation>, group: Option<&Group>) -> usize {
    let mut leftovers = 0;
    if let Some(ns) = isolation.and_then(|i| i.probe.pid_ns.as_deref())
        && isolation.is_some_and(|i| i.probe.pid_isolated)
    {
        for p in processes_in_pid_namespace(ns) {
            // SAFETY: kill(2) of a process left in the child's PID namespace.
            unsafe { libc::kill(p as libc::pid_t, libc::SIGKILL) };
            leftovers += 1;
        }
    }
    if let Some(g) = group {
        let in_group = g.pids().len();
        if in_group > 0 {
            leftovers = leftovers.max(in_group);
            g.kill_all(Duration::from_secs(2));
        }
    }
    leftovers
}
