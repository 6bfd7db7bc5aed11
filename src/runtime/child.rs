//! Parent side of one sandboxed child: spawn `plugctl __sandbox`, hand it its spec, watch
//! it with a wall-clock deadline, sample its threads and memory, reap it with its
//! resource usage, kill whatever it left behind, and remove its cgroups and working
//! directory.
//!
//! This file holds what goes in and what comes out; the rooms below do the work:
//! `run` (set-up and clean-up), `stage` (one run of the sandbox stage), `spawn` (the
//! process and its descriptors), `watch` (deadline, sampling, leftovers), `reported`
//! (the report lines and how the target ended).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::Sandbox;
use super::cgroup::{CgroupStats, Version};
use super::events::{Event, Isolation};
use super::probe::ProbeSpec;
use super::seccomp::{Plan, SeccompReport};

mod reported;
mod run;
mod spawn;
mod stage;
mod watch;

pub use super::procs::signal_name;
pub use run::run;

/// Quotas for one child.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub memory: Option<u64>,
    pub cpu_time: Option<Duration>,
    pub max_pids: Option<u64>,
    pub open_files: Option<u64>,
    pub cpus: Option<f64>,
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Launch {
    /// `loader` or `go`: names the run in the report.
    pub label: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The complete environment of the target.
    pub env: Vec<(String, String)>,
    /// Written to the target's stdin, which is then closed.
    pub stdin: Vec<u8>,
    pub timeout: Duration,
    /// New network namespace.
    pub isolate_network: bool,
    /// Read-only view of the file system (except the working directory).
    pub readonly: bool,
    pub limits: Limits,
    /// The default deny-list, plus `--seccomp` when given.
    pub seccomp: Arc<Plan>,
    pub sandbox: Sandbox,
    /// The inputs (plugins, host): bound read-only; the probe tries to write next to them.
    pub inputs: Vec<PathBuf>,
    /// Other files the child needs (libraries the inputs resolve to, reload copies).
    pub binds: Vec<PathBuf>,
    /// `--trace`: the tracer watching the child (see [`super::trace`]).
    pub trace: Option<Arc<super::trace::Tracer>>,
}

/// The spec the sandbox stage reads (fd 3, or `spec.json` under gVisor).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageSpec {
    pub program: String,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub workdir: String,
    pub rlimits: Vec<Rlimit>,
    /// Answered by plugctl's listener.
    pub seccomp_filter: Option<Vec<(u16, u8, u8, u32)>>,
    /// Decided in the kernel alone, when there is no listener.
    pub seccomp_fallback: Option<Vec<(u16, u8, u8, u32)>>,
    pub probe: ProbeSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rlimit {
    pub resource: String,
    pub soft: u64,
    pub hard: u64,
}

/// How the child ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Ended {
    Exited {
        code: i32,
    },
    Signaled {
        signal: i32,
        name: String,
        core_dumped: bool,
    },
    /// Killed by plugctl at the wall-clock deadline.
    TimedOut {
        after_ms: u64,
    },
}

impl Ended {
    pub fn describe(&self) -> String {
        match self {
            Ended::Exited { code } => format!("exit {code}"),
            Ended::Signaled {
                name, core_dumped, ..
            } => {
                format!(
                    "killed by {name}{}",
                    if *core_dumped { " (core dumped)" } else { "" }
                )
            }
            Ended::TimedOut { after_ms } => format!("timed out after {} (killed)", ms(*after_ms)),
        }
    }
}

pub fn ms(v: u64) -> String {
    if v >= 10_000 {
        format!("{:.1} s", v as f64 / 1000.0)
    } else {
        format!("{v} ms")
    }
}

/// Resources the child used.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Resources {
    pub peak_rss_kb: u64,
    pub cpu_user_ms: u64,
    pub cpu_system_ms: u64,
    pub max_threads: u64,
    #[serde(flatten)]
    pub cgroup: CgroupStats,
}

/// A quota the child ran into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitHit {
    /// `memory`, `pids`, `cpu-time`, `open-files`, `wall-clock`.
    pub limit: String,
    /// How it was enforced and noticed, e.g. `cgroup v1 memory controller: OOM kill`.
    pub by: String,
    pub detail: String,
}

/// What was cleaned up after the child.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cleanup {
    /// Processes still alive after the child ended (its descendants), killed by plugctl.
    pub leftover_processes_killed: usize,
    pub cgroups_removed: Vec<String>,
    pub cgroups_not_removed: Vec<String>,
    pub workdir_removed: bool,
    /// A descendant outside every group still held an output pipe.
    pub notes: Vec<String>,
}

/// One child's whole story.
#[derive(Debug, Clone, Serialize)]
pub struct ChildRun {
    pub label: String,
    pub pid: u32,
    pub command: Vec<String>,
    pub ended: Ended,
    pub elapsed_ms: u64,
    /// The report lines of the sandbox stage and the target, parsed.
    #[serde(skip)]
    pub events: Vec<Event>,
    pub stdout: String,
    pub stderr: String,
    pub resources: Resources,
    pub limits_hit: Vec<LimitHit>,
    /// What the sandbox stage did (network, file system, rlimits, cgroups, seccomp).
    pub isolation: Option<Isolation>,
    pub cgroup_version: Option<Version>,
    pub cgroup_notes: Vec<String>,
    /// Quotas asked for that this sandbox could not enforce, and why.
    pub not_enforced: Vec<String>,
    pub seccomp: Option<SeccompReport>,
    pub workdir: String,
    pub cleanup: Cleanup,
    /// `--trace`: what the child did, per phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<super::trace::Trace>,
}

impl ChildRun {
    /// Report lines of the target (not the sandbox stage).
    pub fn target_events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(|e| !e.from_stage())
    }

    /// Whether the target reported that it finished its work.
    pub fn finished(&self) -> bool {
        self.target_events().any(|e| matches!(e, Event::Done))
    }

    /// The sandbox stage's error when it could not start the target.
    pub fn exec_failed(&self) -> Option<&str> {
        self.events.iter().find_map(|e| match e {
            Event::ExecFailed { error } => Some(error.as_deref().unwrap_or("exec failed")),
            _ => None,
        })
    }

    /// The first line of stderr that says why a Go or C program died.
    pub fn fatal_line(&self) -> Option<String> {
        fatal_line(&self.stderr)
    }
}

/// `fatal error: ...`, `panic: ...`, `SIGSEGV: ...`, `unexpected signal ...`, or a
/// loader message.
pub fn fatal_line(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .map(str::trim_end)
        .find(|l| {
            l.starts_with("fatal error:")
                || l.starts_with("panic:")
                || l.starts_with("unexpected signal")
                || l.starts_with("runtime: ")
                || l.starts_with("runtime/cgo: ")
                || (l.starts_with("SIG") && l.contains(": "))
                || l.contains("error while loading shared libraries")
        })
        .map(str::to_string)
}

/// plugctl's own executable as the kernel knows it: `/proc/self/exe` still runs this very
/// binary when the file on disk has been replaced meanwhile (a rebuild during a long
/// `load`), where the path would run another version or fail.
pub fn own_exe() -> Result<PathBuf> {
    let proc_exe = PathBuf::from("/proc/self/exe");
    if proc_exe.exists() {
        return Ok(proc_exe);
    }
    std::env::current_exe().context("finding plugctl's own executable")
}
