//! Quotas: the rlimits and cgroup limits a child gets, the ones this machine cannot
//! enforce, and which of them ended or hurt the child.

use std::time::Duration;

use super::Sandbox;
use super::cgroup::{Group, Version};
use super::child::{Ended, Launch, LimitHit, Limits, Resources, Rlimit, ms};

pub(super) fn rlimits(limits: &Limits, cgroup_memory: bool, cgroup_pids: bool) -> Vec<Rlimit> {
    let mut out = Vec::new();
    if let Some(bytes) = limits.memory {
        // RLIMIT_DATA counts private writable mappings: the Go heap, thread stacks. With a
        // memory cgroup it is a backstop well above the cgroup limit; without one it is the
        // limit.
        let value = if cgroup_memory {
            bytes.saturating_mul(2).saturating_add(256 << 20)
        } else {
            bytes
        };
        out.push(Rlimit {
            resource: "RLIMIT_DATA".into(),
            soft: value,
            hard: value,
        });
    }
    if let Some(cpu) = limits.cpu_time {
        let soft = cpu.as_secs_f64().ceil().max(1.0) as u64;
        out.push(Rlimit {
            resource: "RLIMIT_CPU".into(),
            soft,
            hard: soft + 1,
        });
    }
    if let Some(n) = limits.max_pids {
        // Per user, and not enforced for root: the pids cgroup is the real limit.
        let value = if cgroup_pids {
            n.saturating_mul(4).max(n + 64)
        } else {
            n
        };
        out.push(Rlimit {
            resource: "RLIMIT_NPROC".into(),
            soft: value,
            hard: value,
        });
    }
    if let Some(n) = limits.open_files {
        out.push(Rlimit {
            resource: "RLIMIT_NOFILE".into(),
            soft: n,
            hard: n,
        });
    }
    out.push(Rlimit {
        resource: "RLIMIT_CORE".into(),
        soft: 0,
        hard: 0,
    });
    out
}

/// Quotas that have no enforcement here (an unprivileged user has no cgroups).
pub(super) fn not_enforced(launch: &Launch, group: Option<&Group>) -> Vec<String> {
    let has =
        |c: super::cgroup::Controller| group.is_some_and(|g| g.dirs.iter().any(|(x, _)| *x == c));
    let gvisor = launch.sandbox == Sandbox::Gvisor;
    let mut out = Vec::new();
    if launch.limits.memory.is_some() && !has(super::cgroup::Controller::Memory) {
        out.push(if gvisor {
            "memory: no memory cgroup for this user, and gVisor's kernel does not enforce RLIMIT_DATA".to_string()
        } else {
            "memory: no memory cgroup for this user; RLIMIT_DATA only (private writable mappings)".to_string()
        });
    }
    if launch.limits.max_pids.is_some() && !has(super::cgroup::Controller::Pids) && !gvisor {
        out.push(
            "pids: no pids cgroup; RLIMIT_NPROC only (counts every process of the same user)"
                .to_string(),
        );
    }
    if launch.limits.cpus.is_some() && !has(super::cgroup::Controller::Cpu) {
        out.push("cpus: no cpu cgroup for this user: CPU bandwidth not limited".to_string());
    }
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Which quota ended or hurt the child, from the exit, the cgroup counters and stderr.
pub(super) fn limits_hit(
    ended: &Ended,
    res: &Resources,
    stderr: &str,
    reported: &str,
    limits: &Limits,
    timeout: Duration,
    group: Option<&Group>,
) -> Vec<LimitHit> {
    let mut out = Vec::new();
    let version = group.map(|g| match g.version {
        Version::V1 => "cgroup v1",
        Version::V2 => "cgroup v2",
    });
    let text_has = |needle: &str| {
        stderr.to_ascii_lowercase().contains(needle)
            || reported.to_ascii_lowercase().contains(needle)
    };
    if let Ended::TimedOut { after_ms } = ended {
        out.push(LimitHit {
            limit: "wall-clock".into(),
            by: "plugctl's deadline: SIGKILL to the process group and cgroup".into(),
            detail: format!(
                "still running after {} (limit {})",
                ms(*after_ms),
                ms(timeout.as_millis() as u64)
            ),
        });
    }
    if let Some(limit) = limits.memory {
        if res.cgroup.oom_kills.unwrap_or(0) > 0 {
            out.push(LimitHit {
                limit: "memory".into(),
                by: format!(
                    "{} memory controller: OOM kill",
                    version.unwrap_or("cgroup")
                ),
                detail: format!(
                    "limit {}, peak {}; {} process(es) OOM-killed",
                    mib(limit),
                    mib(res
                        .cgroup
                        .memory_peak_bytes
                        .unwrap_or(res.peak_rss_kb * 1024)),
                    res.cgroup.oom_kills.unwrap_or(0)
                ),
            });
        } else if text_has("out of memory") || text_has("cannot allocate memory") {
            out.push(LimitHit {
                limit: "memory".into(),
                by: "RLIMIT_DATA: an allocation was refused".into(),
                detail: format!(
                    "limit {}, peak RSS {}",
                    mib(limit),
                    mib(res.peak_rss_kb * 1024)
                ),
            });
        }
    }
    if let Some(n) = limits.max_pids {
        let events = res.cgroup.pids_max_events.unwrap_or(0);
        if events > 0 {
            out.push(LimitHit {
                limit: "pids".into(),
                by: format!("{} pids controller: pids.max", version.unwrap_or("cgroup")),
                detail: format!("limit {n} tasks (threads count); {events} fork/clone refused"),
            });
        } else if text_has("failed to create new os thread")
            || text_has("resource temporarily unavailable")
        {
            out.push(LimitHit {
                limit: "pids".into(),
                by: "RLIMIT_NPROC: a thread could not be created".into(),
                detail: format!("limit {n}"),
            });
        }
    }
    if let Some(cpu) = limits.cpu_time {
        let used = res.cpu_user_ms + res.cpu_system_ms;
        let soft_ms = cpu.as_secs_f64().ceil().max(1.0) as u64 * 1000;
        let by_signal = matches!(ended, Ended::Signaled { signal, .. } if *signal == libc::SIGXCPU)
            || (matches!(ended, Ended::Signaled { signal, .. } if *signal == libc::SIGKILL)
                && used + 50 >= soft_ms);
        if by_signal {
            out.push(LimitHit {
                limit: "cpu-time".into(),
                by: "RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard limit".into(),
                detail: format!("used {} of CPU (limit {} s)", ms(used), soft_ms / 1000),
            });
        }
    }
    if limits.open_files.is_some()
        && (text_has("too many open files")
            || text_has("failed with 24")
            || text_has("errno=24")
            || text_has("emfile"))
    {
        out.push(LimitHit {
            limit: "open-files".into(),
            by: "RLIMIT_NOFILE: open/socket failed with EMFILE".into(),
            detail: format!("limit {}", limits.open_files.unwrap_or(0)),
        });
    }
    out
}
