//! Parent side of one sandboxed child: spawn `plugctl __sandbox`, hand it its spec, watch
//! it with a wall-clock deadline, sample its threads and memory, reap it with its
//! resource usage, kill whatever it left behind, and remove its cgroups and working
//! directory.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::Sandbox;
use super::cgroup::{CgroupLimits, CgroupStats, Group, Version};
use super::env::Masker;
use super::events::{Event, Exit, Isolation};
use super::probe::{self, ProbeSpec};
use super::procs::{pipe, processes_in_pid_namespace, reader, sample_tree, socketpair};
use super::seccomp::{self, Plan, SeccompReport};
use super::view::View;
use super::{bwrap, quota, runsc};

pub use super::procs::signal_name;

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

const OUTPUT_CAP: usize = 1 << 20;

static WORKDIR_SEQ: AtomicU32 = AtomicU32::new(0);

/// Removes working and control directories of plugctl processes that no longer exist
/// (a plugctl killed before it could clean up).
fn sweep_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("plugctl-load-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A fresh private working directory under the temp dir.
fn make_workdir() -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "plugctl-load-{}-{}-{nanos:08x}",
        std::process::id(),
        WORKDIR_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
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

/// The sandbox's command line and how the stage talks to plugctl.
struct Backend {
    argv: Vec<String>,
    /// Descriptors 3–6 (native) or control files (gVisor).
    files: Option<PathBuf>,
    /// gVisor: runsc and the container id, to destroy what is left.
    runsc: Option<(PathBuf, String)>,
    name: String,
}

fn backend(launch: &Launch, view: &View, control: &Path, id: &str) -> Result<Backend> {
    match launch.sandbox {
        Sandbox::Native => {
            let bwrap = bwrap::find()?;
            let mut argv = vec![bwrap.display().to_string()];
            argv.extend(bwrap::args(view));
            argv.extend([bwrap::exe_inside(view), "__sandbox".into()]);
            Ok(Backend {
                argv,
                files: None,
                runsc: None,
                name: bwrap::version(&bwrap),
            })
        }
        Sandbox::Gvisor => {
            let runsc = runsc::find()?;
            let io = control.join("io");
            std::fs::create_dir_all(&io).with_context(|| format!("creating {}", io.display()))?;
            let argv = runsc::prepare(&runsc, view, control, &io, id)?;
            Ok(Backend {
                argv,
                files: Some(io),
                name: format!("gVisor {}", runsc::version(&runsc)),
                runsc: Some((runsc, id.to_string())),
            })
        }
    }
}

/// Runs one child to its end. Never runs the target in this process.
pub fn run(launch: &Launch, masker: &Masker) -> Result<ChildRun> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("finding plugctl's own executable")?;
    sweep_stale_dirs();
    let workdir = make_workdir()?;
    let control = PathBuf::from(format!("{}.control", workdir.display()));
    let gvisor = launch.sandbox == Sandbox::Gvisor;
    let (group, cgroup_notes) = Group::create(&CgroupLimits {
        memory: launch.limits.memory,
        // Under gVisor the sandbox's processes are the sentry's tasks: a host pids.max
        // would count gVisor's own threads, not the plugin's. RLIMIT_NPROC inside does.
        pids: launch.limits.max_pids.filter(|_| !gvisor),
        cpus: launch.limits.cpus,
    });
    let has = |c: super::cgroup::Controller| {
        group
            .as_ref()
            .is_some_and(|g| g.dirs.iter().any(|(x, _)| *x == c))
    };
    // A listener on plugctl's loopback the probe must not reach.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ok();
    if let Some(l) = &listener {
        let _ = l.set_nonblocking(true);
    }
    let mut extra: Vec<PathBuf> = launch.inputs.clone();
    extra.extend(launch.binds.iter().cloned());
    extra.push(launch.program.clone());
    let mut view = View::new(
        &extra
            .into_iter()
            .filter(|p| !p.starts_with("/proc"))
            .collect::<Vec<_>>(),
        exe,
        workdir.clone(),
    );
    view.host_network = !launch.isolate_network;
    view.writable_root = !launch.readonly;
    let mut argv = vec![launch.program.display().to_string()];
    argv.extend(launch.args.iter().cloned());
    let spec = StageSpec {
        program: launch.program.display().to_string(),
        argv,
        env: launch.env.clone(),
        workdir: workdir.display().to_string(),
        rlimits: quota::rlimits(
            &launch.limits,
            has(super::cgroup::Controller::Memory),
            has(super::cgroup::Controller::Pids) && !gvisor,
        ),
        seccomp_filter: Some(launch.seccomp.filter.clone()),
        seccomp_fallback: launch.seccomp.fallback.clone(),
        probe: ProbeSpec {
            parent_pid: std::process::id(),
            parent_ns: probe::own_namespaces(),
            loopback_port: listener
                .as_ref()
                .and_then(|l| l.local_addr().ok())
                .map_or(0, |a| a.port()),
            parent_env_names: std::env::vars_os()
                .map(|(k, _)| k.to_string_lossy().into_owned())
                .collect(),
            child_env_names: launch.env.iter().map(|(k, _)| k.clone()).collect(),
            inputs: launch
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            workdir: workdir.display().to_string(),
        },
    };
    let id = workdir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugctl".into());
    let session = launch.trace.as_ref().map(|t| {
        let v2 = group
            .as_ref()
            .filter(|g| g.version == Version::V2)
            .map(|g| g.dirs[0].1.as_path());
        t.begin(&launch.program, v2)
    });
    let trace_procs = session.as_ref().and_then(|s| s.procs_file());
    let result = backend(launch, &view, &control, &id).and_then(|b| {
        run_stage(
            launch,
            masker,
            &b,
            &spec,
            &workdir,
            group.as_ref(),
            trace_procs,
        )
        .map(|r| (r, b))
    });
    let result = result.map(|(mut r, b)| {
        r.trace = session.map(|s| s.finish(r.seccomp.as_ref()));
        (r, b)
    });
    // Clean up whatever happened.
    let mut cleanup = Cleanup::default();
    if let Ok((_, b)) = &result
        && let Some((runsc, id)) = &b.runsc
        && control
            .join("state")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    {
        runsc::destroy(runsc, &control, id);
    }
    if let Some(g) = &group {
        let failed = g.remove();
        cleanup.cgroups_removed = g
            .paths()
            .into_iter()
            .filter(|p| !failed.iter().any(|f| f.starts_with(p.as_str())))
            .collect();
        cleanup.cgroups_not_removed = failed;
    }
    let _ = std::fs::remove_dir_all(&control);
    cleanup.workdir_removed =
        (std::fs::remove_dir_all(&workdir).is_ok() || !workdir.exists()) && !control.exists();
    let (mut run, b) = result?;
    cleanup.leftover_processes_killed += run.cleanup.leftover_processes_killed;
    cleanup.notes.append(&mut run.cleanup.notes);
    run.cleanup = cleanup;
    run.cgroup_version = group.as_ref().map(|g| g.version);
    run.cgroup_notes = cgroup_notes;
    run.not_enforced = quota::not_enforced(launch, group.as_ref());
    // What the probe saw, with what plugctl saw on its side of the wall.
    let connections = listener
        .as_ref()
        .map_or(0, |l| std::iter::from_fn(|| l.accept().ok()).count());
    if let Some(iso) = run.isolation.as_mut() {
        iso.finish(connections, &b.name, launch, group.as_ref());
    }
    Ok(run)
}

/// The sandbox process, started with its descriptors in place, and plugctl's ends.
struct Spawned {
    child: std::process::Child,
    started: Instant,
    spec_w: OwnedFd,
    report_r: OwnedFd,
    status_r: OwnedFd,
    parent_sock: OwnedFd,
}

/// Starts the sandbox (bwrap or runsc) in the load's cgroups, with the spec, report,
/// seccomp and stage descriptors as fds 3 to 6 (native) or files (gVisor).
fn spawn(
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
fn feed_stdin(
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

/// How the sandbox process ended, sampled while it ran.
struct Waited {
    status: i32,
    usage: libc::rusage,
    /// Killed at the deadline, after this many ms.
    timed_out: Option<u64>,
    max_threads: u64,
    hwm: u64,
}

/// Waits for the sandbox, sampling its threads and memory, and kills it (and its
/// cgroups) at the wall-clock deadline.
fn wait(pid: u32, launch: &Launch, group: Option<&Group>, started: Instant) -> Result<Waited> {
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

/// What a child's report lines say, typed.
struct Reported {
    /// The stage's events (the probe first), then the target's.
    events: Vec<Event>,
    isolation: Option<Isolation>,
    exit: Option<Exit>,
}

/// Parses the stage's and the target's report lines (secrets masked). Under gVisor
/// (`probe_line`), only the probe line read before the target ran counts.
fn read_events(
    stage: &str,
    report: &str,
    masker: &Masker,
    probe_line: Option<&Arc<std::sync::Mutex<Option<String>>>>,
    notes: &mut Vec<String>,
) -> Reported {
    let parse = |text: &str| -> Vec<(String, Event)> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let line = masker.mask(l);
                let event = Event::parse(&line);
                (line, event)
            })
            .collect()
    };
    let mut stage_events = parse(stage);
    if let Some(probe_line) = probe_line {
        // Only the probe line read before the target ran counts.
        let captured = probe_line.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let in_file: Vec<String> = stage_events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Sandbox(_)))
            .map(|(line, _)| line.clone())
            .collect();
        stage_events.retain(|(_, e)| !matches!(e, Event::Sandbox(_)));
        if let Some(line) = captured {
            let first = parse(&line).into_iter().next();
            if in_file.len() != 1 || Some(&in_file[0]) != first.as_ref().map(|(l, _)| l) {
                notes.push("the stage's report file was rewritten inside the sandbox after the probe; the probe as read before the target ran is used".into());
            }
            if let Some(first) = first {
                stage_events.insert(0, first);
            }
        }
    }
    let mut events: Vec<Event> = stage_events.into_iter().map(|(_, e)| e).collect();
    // The stage's events come only from the stage's own channel.
    let target_events = parse(report)
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| !matches!(e, Event::Sandbox(_) | Event::Exit(_)));
    let isolation: Option<Isolation> = events.iter().find_map(|e| match e {
        Event::Sandbox(i) => Some((**i).clone()),
        _ => None,
    });
    // The stage writes its exit line after the target is gone: the last one is its.
    let exit: Option<Exit> = events.iter().rev().find_map(|e| match e {
        Event::Exit(x) => Some(x.clone()),
        _ => None,
    });
    events.extend(target_events);
    Reported {
        events,
        isolation,
        exit,
    }
}

/// How the target ended: killed at the deadline, else as the stage reported, else as
/// the sandbox process itself ended.
fn ended_of(
    timed_out: Option<u64>,
    exit: Option<&Exit>,
    status: i32,
    backend: &Backend,
    notes: &mut Vec<String>,
) -> Ended {
    match (timed_out, exit) {
        (Some(after_ms), _) => Ended::TimedOut { after_ms },
        (
            None,
            Some(Exit {
                signal: Some(signal),
                core_dumped,
                ..
            }),
        ) => Ended::Signaled {
            signal: *signal,
            name: signal_name(*signal),
            core_dumped: *core_dumped,
        },
        (None, Some(e)) => Ended::Exited {
            code: e.code.unwrap_or(0),
        },
        (None, None) if libc::WIFEXITED(status) => {
            let code = libc::WEXITSTATUS(status);
            notes.push(format!(
                "the sandbox stage did not report how the target ended (it was killed from inside the sandbox, or could not start); {} exited {code}",
                backend.name
            ));
            // bwrap and runsc pass a signal on as 128 + its number.
            if code > 128 && code < 128 + 65 {
                Ended::Signaled {
                    signal: code - 128,
                    name: signal_name(code - 128),
                    core_dumped: false,
                }
            } else {
                Ended::Exited { code }
            }
        }
        (None, None) => {
            let signal = libc::WTERMSIG(status);
            Ended::Signaled {
                signal,
                name: signal_name(signal),
                core_dumped: libc::WCOREDUMP(status),
            }
        }
    }
}

/// Kills what is left of the sandbox (its PID namespace, then its cgroups); how many.
fn kill_leftovers(isolation: Option<&Isolation>, group: Option<&Group>) -> usize {
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

fn run_stage(
    launch: &Launch,
    masker: &Masker,
    backend: &Backend,
    spec: &StageSpec,
    workdir: &Path,
    group: Option<&Group>,
    trace_procs: Option<PathBuf>,
) -> Result<ChildRun> {
    let native = backend.files.is_none();
    let Spawned {
        mut child,
        started,
        spec_w,
        report_r,
        status_r,
        parent_sock,
    } = spawn(backend, spec, group, trace_procs)?;
    let pid = child.id();
    let in_groups = group.is_some_and(|g| g.pids().contains(&pid));
    // The seccomp listener.
    let stop = Arc::new(AtomicBool::new(false));
    let listener = native.then(|| {
        let (plan, stop) = (Arc::clone(&launch.seccomp), Arc::clone(&stop));
        std::thread::spawn(move || seccomp::listen(parent_sock, plan, pid, stop, started))
    });
    // Spec, then the target's stdin.
    if native {
        let mut w = std::fs::File::from(spec_w);
        let _ = w.write_all(&serde_json::to_vec(spec)?);
    } else {
        drop(spec_w);
    }
    let probe_line = feed_stdin(
        child.stdin.take(),
        launch.stdin.clone(),
        backend.files.as_ref().map(|io| io.join("stage.jsonl")),
        started + launch.timeout,
    );
    let out_rx = reader(child.stdout.take().expect("piped stdout"), OUTPUT_CAP);
    let err_rx = reader(child.stderr.take().expect("piped stderr"), OUTPUT_CAP);
    let rep_rx = reader(std::fs::File::from(report_r), 16 * OUTPUT_CAP);
    let status_rx = reader(std::fs::File::from(status_r), OUTPUT_CAP);
    let waited = wait(pid, launch, group, started)?;
    let Waited {
        status,
        usage,
        timed_out,
        max_threads,
        hwm,
    } = waited;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let mut notes = Vec::new();
    let mut collect = |rx: mpsc::Receiver<(Vec<u8>, usize)>, what: &str| -> String {
        match rx.recv_timeout(Duration::from_secs(2)) {
            Ok((bytes, dropped)) => {
                let mut text = String::from_utf8_lossy(&bytes).into_owned();
                if dropped > 0 {
                    text.push_str(&format!(
                        "\n[plugctl: {dropped} more bytes of {what} not kept]\n"
                    ));
                }
                text
            }
            Err(_) => {
                notes.push(format!(
                    "{what} is still held open by a process outside the sandbox"
                ));
                String::new()
            }
        }
    };
    let stdout = masker.mask(&collect(out_rx, "stdout"));
    let stderr = masker.mask(&collect(err_rx, "stderr"));
    let (report, stage) = match &backend.files {
        None => (
            collect(rep_rx, "the report pipe"),
            collect(status_rx, "the stage pipe"),
        ),
        Some(io) => (
            std::fs::read_to_string(io.join("report.jsonl")).unwrap_or_default(),
            std::fs::read_to_string(io.join("stage.jsonl")).unwrap_or_default(),
        ),
    };
    let Reported {
        events,
        isolation,
        exit,
    } = read_events(
        &stage,
        &report,
        masker,
        (!native).then_some(&probe_line),
        &mut notes,
    );
    // Whatever is left of the sandbox: its PID namespace, then its cgroups.
    let leftovers = kill_leftovers(isolation.as_ref(), group);
    stop.store(true, Ordering::Relaxed);
    let mut seccomp_report = listener.and_then(|h| h.join().ok());
    if let (Some(r), Some(i)) = (seccomp_report.as_mut(), &isolation) {
        r.installed = i.seccomp.clone();
    }
    if seccomp_report.is_none() {
        seccomp_report = Some(SeccompReport {
            mode: launch.seccomp.mode_name().into(),
            method: "filter decided in the kernel (gVisor passes no descriptor for a listener)"
                .into(),
            installed: isolation.as_ref().and_then(|i| i.seccomp.clone()),
            error: (launch.seccomp.fallback.is_none()).then(|| {
                "this mode needs plugctl's SECCOMP_RET_USER_NOTIF listener, which gVisor cannot hand over".to_string()
            }),
            ..SeccompReport::default()
        });
    }
    if !in_groups && group.is_some() {
        notes.push("the sandbox was not found in the load's cgroups right after it started".into());
    }
    let ended = ended_of(timed_out, exit.as_ref(), status, backend, &mut notes);
    let tv_ms = |tv: libc::timeval| tv.tv_sec as u64 * 1000 + tv.tv_usec as u64 / 1000;
    let from_exit = |k: fn(&Exit) -> Option<u64>| exit.as_ref().and_then(k);
    let mut resources = Resources {
        peak_rss_kb: from_exit(|e| e.maxrss_kb)
            .unwrap_or(usage.ru_maxrss as u64)
            .max(hwm),
        cpu_user_ms: from_exit(|e| e.user_ms).unwrap_or_else(|| tv_ms(usage.ru_utime)),
        cpu_system_ms: from_exit(|e| e.system_ms).unwrap_or_else(|| tv_ms(usage.ru_stime)),
        max_threads,
        cgroup: group.map(|g| g.stats()).unwrap_or_default(),
    };
    if resources.max_threads == 0 {
        resources.max_threads = resources.cgroup.pids_peak.unwrap_or(0);
    }
    let limits_hit = quota::limits_hit(
        &ended,
        &resources,
        &stderr,
        &format!("{stage}\n{report}"),
        &launch.limits,
        launch.timeout,
        group,
    );
    Ok(ChildRun {
        label: launch.label.clone(),
        pid,
        command: spec.argv.iter().map(|a| masker.mask(a)).collect(),
        ended,
        elapsed_ms,
        events,
        stdout,
        stderr,
        resources,
        limits_hit,
        isolation,
        cgroup_version: None,
        cgroup_notes: Vec::new(),
        not_enforced: Vec::new(),
        seccomp: seccomp_report,
        workdir: workdir.display().to_string(),
        cleanup: Cleanup {
            leftover_processes_killed: leftovers,
            notes,
            ..Cleanup::default()
        },
        trace: None,
    })
}
