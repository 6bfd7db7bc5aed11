//! Sets one child up and tears it down: its working directory, cgroups, file-system view,
//! stage spec and sandbox command line; after the stage ran, whatever it left behind.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result};

use super::stage::run_stage;
use super::{ChildRun, Cleanup, Launch, StageSpec};
use crate::runtime::Sandbox;
use crate::runtime::cgroup::{CgroupLimits, Controller, Group, Version};
use crate::runtime::env::Masker;
use crate::runtime::probe::{self, ProbeSpec};
use crate::runtime::view::View;
use crate::runtime::{bwrap, quota, runsc};

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

/// The sandbox's command line and how the stage talks to plugctl.
pub(super) struct Backend {
    pub(super) argv: Vec<String>,
    /// Descriptors 3–6 (native) or control files (gVisor).
    pub(super) files: Option<PathBuf>,
    /// gVisor: runsc and the container id, to destroy what is left.
    pub(super) runsc: Option<(PathBuf, String)>,
    pub(super) name: String,
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
    let has = |c: Controller| {
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
            has(Controller::Memory),
            has(Controller::Pids) && !gvisor,
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
