//! The layers about the sandbox itself, the same for every artifact: `limits` (quotas
//! hit, or the peaks), `seccomp` (calls denied, or learned) and `isolation` (what the probe
//! verified inside), and the `seccomp` summary of the whole load (writing a learned
//! profile).

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::{ChildRun, Layer, LayerStatus, LoadOptions, SeccompSummary, observe, seccomp};

/// Calls the Go runtime makes at random (signals for preemption, scheduling, memory
/// returns): a learned profile allows them even when one run did not happen to make them.
pub const GO_RUNTIME_BASELINE: &[&str] = &[
    "rt_sigreturn",
    "restart_syscall",
    "exit",
    "exit_group",
    "futex",
    "sched_yield",
    "nanosleep",
    "clock_nanosleep",
    "tgkill",
    "getpid",
    "gettid",
    "madvise",
    "mmap",
    "munmap",
    "mprotect",
    "sigaltstack",
    "rt_sigprocmask",
];

/// Quotas: a limit hit while artifact `i` (of `n`) was being worked on, or the peaks.
pub fn limits_layer(runs: &[&ChildRun], i: usize, n: usize) -> Layer {
    let hits: Vec<String> = runs
        .iter()
        .filter(|r| {
            !r.limits_hit.is_empty()
                && observe::busy_with(r)
                    .is_none_or(|b| b == i as i64 || (b as usize) >= n && i == 0)
        })
        .flat_map(|r| {
            r.limits_hit
                .iter()
                .map(move |h| format!("{} ({}): {} — {}", h.limit, r.label, h.by, h.detail))
        })
        .collect();
    let quota_status = if hits.is_empty() {
        LayerStatus::Pass
    } else {
        LayerStatus::Fail
    };
    let quota_reason = if hits.is_empty() {
        let peaks: Vec<String> = runs
            .iter()
            .map(|r| {
                format!(
                    "{}: peak RSS {:.1} MiB, CPU {} ms, {} threads",
                    r.label,
                    r.resources.peak_rss_kb as f64 / 1024.0,
                    r.resources.cpu_user_ms + r.resources.cpu_system_ms,
                    r.resources.max_threads
                )
            })
            .collect();
        format!("no limit hit ({})", peaks.join("; "))
    } else {
        hits.join("; ")
    };
    let mut gaps: Vec<&String> = runs.iter().flat_map(|r| &r.not_enforced).collect();
    gaps.dedup();
    let quota_reason = if gaps.is_empty() {
        quota_reason
    } else {
        format!(
            "{quota_reason}; NOT enforced here: {}",
            gaps.iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    Layer::new("limits", quota_status, quota_reason)
}

pub fn seccomp_layer(plan: &seccomp::Plan, runs: &[&ChildRun]) -> Layer {
    let reports: Vec<(&str, &seccomp::SeccompReport)> = runs
        .iter()
        .filter_map(|r| r.seccomp.as_ref().map(|s| (r.label.as_str(), s)))
        .collect();
    if let Some((label, e)) = reports
        .iter()
        .find_map(|(l, r)| r.error.as_ref().map(|e| (*l, e)))
    {
        return Layer::new("seccomp", LayerStatus::Error, format!("{label}: {e}"));
    }
    let installed: Vec<String> = reports
        .iter()
        .filter_map(|(l, r)| r.installed.as_ref().map(|i| format!("{l}: {i}")))
        .collect();
    if plan.learn {
        let per_run: Vec<String> = reports
            .iter()
            .map(|(l, r)| format!("{l}: {} distinct calls", r.syscalls.len()))
            .collect();
        return Layer::new(
            "seccomp",
            LayerStatus::Pass,
            format!(
                "learned ({}); one profile is written for all runs",
                per_run.join(", ")
            ),
        );
    }
    let denied: Vec<String> = reports
        .iter()
        .flat_map(|(label, r)| {
            r.denied.iter().map(move |d| {
                format!(
                    "{} ({}, {}x, {}, by the {}, first after {} ms)",
                    d.syscall,
                    label,
                    d.count,
                    d.action.describe(),
                    if d.by == "deny-list" {
                        "default deny-list"
                    } else {
                        "profile"
                    },
                    d.at_ms
                )
            })
        })
        .collect();
    let what = if plan.profile_path.is_some() {
        "profile + default deny-list enforced"
    } else {
        "default deny-list enforced"
    };
    let unnamed = reports.iter().any(|(_, r)| {
        r.installed
            .as_deref()
            .is_some_and(|i| i.contains("not named"))
    });
    if denied.is_empty() {
        Layer::new(
            "seccomp",
            LayerStatus::Pass,
            if unnamed {
                format!(
                    "{what} in the kernel: denied calls fail but cannot be named here ({})",
                    installed.join("; ")
                )
            } else {
                format!("{what}: no system call denied")
            },
        )
    } else {
        Layer::new(
            "seccomp",
            LayerStatus::Fail,
            format!("DENIED: {}", denied.join(", ")),
        )
    }
}

/// The isolation the probe verified inside each sandbox before the target ran; a claim
/// that did not hold fails the layer (a choice like `--network host` is not a failure).
pub fn isolation_layer(options: &LoadOptions, runs: &[&ChildRun]) -> Layer {
    let mut broken = Vec::new();
    let mut held = Vec::new();
    for r in runs {
        let Some(i) = &r.isolation else {
            broken.push(format!("{}: the sandbox stage did not report", r.label));
            continue;
        };
        let mut claims = vec![
            (i.pid_isolated, "own PID namespace"),
            (i.env_isolated, "no plugctl variable readable"),
            (i.cgroup_locked, "cgroups not writable"),
            (i.escapes_blocked, "no mount/setns/unshare/ptrace"),
        ];
        if options.isolate_network {
            claims.push((i.network_isolated, "no network"));
        }
        if options.readonly {
            claims.push((i.readonly, "read-only file system"));
        }
        for (held_here, text) in claims {
            if held_here {
                if !held.contains(&text) {
                    held.push(text);
                }
            } else {
                broken.push(format!("{}: NOT {text}", r.label));
            }
        }
        if !i.privileges_dropped {
            broken.push(format!(
                "{}: capabilities {:?} / no_new_privs {}",
                r.label, i.probe.cap_eff, i.probe.no_new_privs
            ));
        }
    }
    if broken.is_empty() {
        Layer::new(
            "isolation",
            LayerStatus::Pass,
            format!(
                "verified inside the sandbox before loading: {}",
                held.join(", ")
            ),
        )
    } else {
        Layer::new("isolation", LayerStatus::Fail, broken.join("; "))
    }
}

pub fn seccomp_summary(plan: &seccomp::Plan, runs: &[ChildRun]) -> Result<SeccompSummary> {
    let mut s = SeccompSummary {
        mode: if plan.learn {
            "learn".into()
        } else {
            "enforce".into()
        },
        method: String::new(),
        profile: plan.profile_path.as_ref().map(|p| p.display().to_string()),
        syscalls: BTreeMap::new(),
        baseline: Vec::new(),
        first_denied: None,
        denied: Vec::new(),
        warnings: plan.warnings.clone(),
        errors: Vec::new(),
    };
    for r in runs {
        let Some(rep) = &r.seccomp else { continue };
        s.method = rep.method.clone();
        if let Some(e) = &rep.error {
            s.errors.push(format!("{}: {e}", r.label));
        }
        for (k, v) in &rep.syscalls {
            *s.syscalls.entry(k.clone()).or_insert(0) += v;
        }
        for d in &rep.denied {
            s.denied.push(d.clone());
        }
    }
    s.first_denied = s.denied.first().cloned();
    if plan.learn {
        let mut all = s.syscalls.clone();
        for b in GO_RUNTIME_BASELINE {
            if !all.contains_key(*b) {
                s.baseline.push((*b).to_string());
                all.insert((*b).to_string(), 0);
            }
        }
        if s.errors.is_empty() {
            let profile = seccomp::learned_profile(&all);
            let path = plan.profile_path.clone().expect("learn has an output path");
            std::fs::write(&path, serde_json::to_string_pretty(&profile)? + "\n")
                .with_context(|| format!("writing the seccomp profile {}", path.display()))?;
        }
    }
    Ok(s)
}
