//! One run of the sandbox stage: spawn it, hand it its spec and stdin, serve its seccomp
//! listener, wait for it, and collect its output, events and resource usage.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use anyhow::Result;

use super::reported::{Reported, ended_of, read_events};
use super::run::Backend;
use super::spawn::{Spawned, feed_stdin, spawn};
use super::watch::{Waited, kill_leftovers, wait};
use super::{ChildRun, Cleanup, Launch, Resources, StageSpec};
use crate::runtime::cgroup::Group;
use crate::runtime::env::Masker;
use crate::runtime::events::Exit;
use crate::runtime::procs::reader;
use crate::runtime::quota;
use crate::runtime::seccomp::{self, SeccompReport};

const OUTPUT_CAP: usize = 1 << 20;

/// Runs the sandbox stage once, from spawn to the last report line, and types what came out.
pub(super) fn run_stage(
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
