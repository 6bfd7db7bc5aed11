//! Events of one child's cgroup → a [`Trace`]: the target (the loader shim or the Go
//! harness, from its `execve` on) and everything it started; phases from the report
//! lines it wrote to fd 3, on the kernel's clock.

use std::collections::{BTreeMap, HashSet};

use super::event::{Event, GoValue, What};
use super::names;
use super::{Backend, Bin, Connect, Exec, FileUse, Panic, PanicKind, Phase, Trace};
use crate::runtime::Sandbox;
use crate::runtime::seccomp::name_of;

const NR_WRITE: i64 = 1;
const NR_CONNECT: i64 = 42;
const NR_SENDTO: i64 = 44;
const NR_BIND: i64 = 49;
const NR_EXECVE: i64 = 59;
const NR_EXECVEAT: i64 = 322;
const PAGE: u64 = 4096;

/// A report line's fields, from its first bytes (`{"ev":"phase-begin","index":0,...`).
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    pub ev: String,
    pub index: i64,
    pub phase: Option<String>,
}

fn string_field(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let rest = &text[at..];
    Some(rest[..rest.find('"')?].to_string())
}

fn int_field(text: &str, key: &str) -> Option<i64> {
    let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A report line written by the shim or the harness; `None` for other bytes.
pub fn report_line(data: &[u8]) -> Option<Line> {
    let text = std::str::from_utf8(data)
        .ok()
        .or_else(|| std::str::from_utf8(&data[..data.len().saturating_sub(3)]).ok())?;
    if !text.starts_with("{\"ev\":\"") {
        return None;
    }
    Some(Line {
        ev: string_field(text, "ev")?,
        index: int_field(text, "index").unwrap_or(-1),
        phase: string_field(text, "phase"),
    })
}

/// The phase a begin line opens / an end line closes: (name, index).
fn phase_of(line: &Line) -> Option<(bool, String)> {
    let lifecycle = |p: &Option<String>| match p.as_deref() {
        Some("init") => Some("Init".to_string()),
        Some("run") => Some("Run".to_string()),
        Some("close") => Some("Close".to_string()),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    match line.ev.as_str() {
        "dlopen-begin" => Some((true, "dlopen".into())),
        "dlopen" => Some((false, "dlopen".into())),
        "open-begin" => Some((true, "plugin.Open".into())),
        "open" => Some((false, "plugin.Open".into())),
        "phase-begin" => Some((true, lifecycle(&line.phase)?)),
        "phase" => Some((false, lifecycle(&line.phase)?)),
        _ => None,
    }
}

fn us(ts: u64, base: u64) -> u64 {
    ts.saturating_sub(base) / 1000
}

fn bump(map: &mut BTreeMap<String, u64>, key: String) {
    *map.entry(key).or_insert(0) += 1;
}

/// Counts `events` (of one child, in any order); `base_ns` is when plugctl started it.
pub fn aggregate(events: &[Event], base_ns: u64, sandbox: Sandbox) -> Trace {
    let mut events: Vec<&Event> = events.iter().collect();
    events.sort_by_key(|e| e.ts);
    let mut t = Trace::empty(Backend::Ebpf, "");
    t.events = events.len() as u64;

    // The target: the process that wrote the first report line, from its last execve.
    let lines: Vec<(&Event, Line)> = events
        .iter()
        .filter_map(|e| match &e.what {
            What::Data { nr, ret, data } if *nr == NR_WRITE && *ret > 0 => {
                report_line(data).map(|l| (*e, l))
            }
            _ => None,
        })
        .collect();
    let target = lines
        .iter()
        .find(|(_, l)| l.ev == "start")
        .map(|(e, _)| e.tgid);
    let Some(target) = target else {
        t.scope = "every process of the child's sandbox (bwrap or runsc, the sandbox stage, the target): the target's report lines were not seen".into();
        if sandbox == Sandbox::Gvisor {
            t.notes.push(GVISOR.into());
        } else {
            t.notes.push(
                "the target never wrote its start line (it did not run, or failed before): nothing is left out and there are no phases".into(),
            );
        }
        count(&mut t, &events, base_ns, &|_| true);
        return t;
    };
    let start_ts = lines
        .iter()
        .find(|(e, l)| l.ev == "start" && e.tgid == target)
        .map_or(0, |(e, _)| e.ts);
    let exec_ts = events
        .iter()
        .filter(|e| e.ts <= start_ts && matches!(e.what, What::Exec { pid } if pid == target))
        .map(|e| e.ts)
        .next_back()
        .unwrap_or(0);
    // The target's tree: its threads and processes, through sched_process_fork.
    let mut tree: HashSet<u32> = HashSet::from([target]);
    let mut before = 0u64;
    for e in &events {
        if e.ts < exec_ts {
            before += 1;
            continue;
        }
        if let What::Fork { parent, child } = e.what
            && tree.contains(&parent)
        {
            tree.insert(child);
        }
    }
    t.scope = format!(
        "the target (pid {target}) from its execve on, with every thread and process it started; the sandbox's own set-up (bwrap, sandbox stage, isolation probe: {before} events) is left out"
    );
    // Phases from the report lines.
    let mut phases: Vec<Phase> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for (e, l) in lines.iter().filter(|(e, _)| tree.contains(&e.tid)) {
        let Some((begin, name)) = phase_of(l) else {
            continue;
        };
        if begin {
            open.push(phases.len());
            phases.push(Phase {
                name,
                index: l.index,
                start_us: us(e.ts, base_ns),
                end_us: us(e.ts, base_ns),
                syscall_total: 0,
                syscalls: BTreeMap::new(),
                page_allocs: 0,
                page_alloc_bytes: 0,
                file_calls: 0,
                connects: 0,
            });
        } else if let Some(pos) = open
            .iter()
            .rposition(|i| phases[*i].name == name && phases[*i].index == l.index)
        {
            let i = open.remove(pos);
            // The end line's own write is the phase's last call.
            phases[i].end_us = us(e.ts, base_ns).max(phases[i].start_us);
        }
    }
    // A phase without an end line (the child died in it) runs to the last event.
    let last = events.last().map_or(0, |e| us(e.ts, base_ns));
    for i in open {
        phases[i].end_us = last;
    }
    let bounds: Vec<(u64, u64)> = lines
        .iter()
        .filter(|(e, _)| tree.contains(&e.tid))
        .filter_map(|(e, l)| phase_of(l).map(|(b, n)| (b, n, l.index, e.ts)))
        .fold(Vec::new(), |mut acc: Vec<(u64, u64)>, (b, _, _, ts)| {
            if b {
                acc.push((ts, u64::MAX));
            } else if let Some(open) = acc.iter_mut().rev().find(|x| x.1 == u64::MAX) {
                open.1 = ts;
            }
            acc
        });
    let in_scope = |e: &Event| e.ts >= exec_ts && tree.contains(&e.tid);
    count(&mut t, &events, base_ns, &in_scope);
    // Per phase: (begin write, end write].
    for (p, (from, to)) in phases.iter_mut().zip(bounds) {
        let mut sub = Trace::empty(Backend::Ebpf, "");
        let within = |e: &Event| in_scope(e) && e.ts > from && e.ts <= to;
        count(&mut sub, &events, base_ns, &within);
        p.syscall_total = sub.syscalls.values().sum();
        p.syscalls = sub.syscalls;
        p.page_allocs = sub.page_allocs;
        p.page_alloc_bytes = sub.page_alloc_bytes;
        p.file_calls = sub.files.iter().map(|f| f.count).sum();
        p.connects = sub.connects.iter().map(|c| c.count).sum();
    }
    for panic in &mut t.panics {
        panic.phase = phases
            .iter()
            .rfind(|p| p.start_us <= panic.at_us && panic.at_us <= p.end_us)
            .map(|p| format!("{}[{}]", p.name, p.index));
    }
    t.phases = phases;
    t
}

const GVISOR: &str = "under gVisor the plugin's system calls are served by the Sentry (gVisor's kernel in user space) and never reach the host kernel: these counts are the host calls of runsc, the Sentry and the gofer for the whole sandbox; files are what they open on the host; no phases (the report lines are written inside gVisor) and no Go panics (the harness's code runs in the Sentry's address space, not from the file the uprobes are on)";

/// Adds the events `keep` selects to `t`.
fn count(t: &mut Trace, events: &[&Event], base_ns: u64, keep: &dyn Fn(&Event) -> bool) {
    let mut files: BTreeMap<String, FileUse> = BTreeMap::new();
    let mut connects: BTreeMap<(String, String, String), Connect> = BTreeMap::new();
    let mut bins: BTreeMap<u64, Bin> = BTreeMap::new();
    let mut panics: Vec<(u64, Panic)> = Vec::new();
    // execve: the path read at its entry, by thread, until its exit.
    let mut exec_paths: BTreeMap<u32, String> = BTreeMap::new();
    for e in events.iter().filter(|e| keep(e)) {
        let at_us = us(e.ts, base_ns);
        let bin = bins.entry(at_us / 1000).or_insert_with(|| Bin {
            at_us: at_us / 1000 * 1000,
            ..Bin::default()
        });
        let mut syscall = |t: &mut Trace, nr: i64, ret: i64| {
            let name = name_of(nr as u32);
            bin.syscalls += 1;
            if (-4095..0).contains(&ret) && nr != 60 && nr != 231 {
                bump(
                    t.errors.entry(name.clone()).or_default(),
                    names::errno(-ret),
                );
            }
            bump(&mut t.syscalls, name);
        };
        let mut path_call = |path: String, call: String, result: String| {
            let f = files.entry(path.clone()).or_insert_with(|| FileUse {
                path,
                count: 0,
                calls: BTreeMap::new(),
                results: BTreeMap::new(),
            });
            f.count += 1;
            bump(&mut f.calls, call);
            bump(&mut f.results, result);
        };
        match &e.what {
            What::Syscall { nr, ret } => {
                syscall(t, *nr, *ret);
                if (*nr == NR_EXECVE || *nr == NR_EXECVEAT)
                    && let Some(path) = exec_paths.remove(&e.tid)
                {
                    let result = names::result(*ret);
                    t.processes.execs.push(Exec {
                        path: path.clone(),
                        result: result.clone(),
                    });
                    path_call(path, name_of(*nr as u32), result);
                }
            }
            What::Data { nr, ret, data } => {
                syscall(t, *nr, *ret);
                let call = name_of(*nr as u32);
                let result = names::result(*ret);
                match *nr {
                    NR_WRITE => {}
                    NR_CONNECT | NR_BIND | NR_SENDTO => {
                        let (family, address) = names::sockaddr(data);
                        let c = connects
                            .entry((call.clone(), family.clone(), address.clone()))
                            .or_insert_with(|| Connect {
                                call,
                                family,
                                address,
                                count: 0,
                                results: BTreeMap::new(),
                            });
                        c.count += 1;
                        bump(&mut c.results, result);
                    }
                    _ => path_call(String::from_utf8_lossy(data).into_owned(), call, result),
                }
            }
            What::ExecCall { path, .. } => {
                exec_paths.insert(e.tid, String::from_utf8_lossy(path).into_owned());
            }
            What::Exec { .. } => {}
            What::PageAlloc { order } => {
                let bytes = PAGE << order.min(&20);
                t.page_allocs += 1;
                t.page_alloc_bytes += bytes;
                bin.page_alloc_bytes += bytes;
                *t.page_alloc_orders.entry(*order).or_insert(0) += 1;
            }
            What::Fork { .. } => t.processes.clones += 1,
            What::Exit { group_dead, .. } => {
                if *group_dead {
                    t.processes.exits += 1;
                } else {
                    t.processes.thread_exits += 1;
                }
            }
            What::Signal { sig, .. } => bump(
                &mut t.processes.signals,
                crate::runtime::child::signal_name(*sig),
            ),
            What::GoPanic { goid, value } => {
                let (value, value_type) = match value {
                    GoValue::String(s) => (Some(s.clone()), "string".to_string()),
                    GoValue::Error(s) => (Some(s.clone()), "error".into()),
                    GoValue::Int(i) => (Some(i.to_string()), "int".into()),
                    GoValue::Other(k) => (None, format!("kind {k}")),
                    GoValue::Unreadable => (None, "unreadable".into()),
                };
                panics.push((
                    *goid,
                    Panic {
                        kind: PanicKind::Panic,
                        value,
                        value_type,
                        goroutine: (*goid != 0).then_some(*goid),
                        phase: None,
                        recovered: Some(true),
                        at_us,
                    },
                ));
            }
            What::GoFatalPanic { goid } => {
                let last = panics
                    .iter()
                    .rev()
                    .find(|(g, p)| *g == *goid && p.kind == PanicKind::Panic)
                    .map(|(_, p)| (p.value.clone(), p.value_type.clone()));
                let (value, value_type) = last.unwrap_or((None, "unreadable".into()));
                for (g, p) in panics.iter_mut() {
                    if *g == *goid && p.kind == PanicKind::Panic {
                        p.recovered = Some(false);
                    }
                }
                panics.push((
                    *goid,
                    Panic {
                        kind: PanicKind::Fatal,
                        value: value.map(|v| format!("panic: {v}")),
                        value_type,
                        goroutine: (*goid != 0).then_some(*goid),
                        phase: None,
                        recovered: None,
                        at_us,
                    },
                ));
            }
            What::GoThrow { goid, text } => panics.push((
                *goid,
                Panic {
                    kind: PanicKind::Fatal,
                    value: Some(format!("fatal error: {text}")),
                    value_type: "string".into(),
                    goroutine: (*goid != 0).then_some(*goid),
                    phase: None,
                    recovered: None,
                    at_us,
                },
            )),
        }
    }
    let mut files: Vec<FileUse> = files.into_values().collect();
    files.sort_by(|a, b| b.count.cmp(&a.count).then(a.path.cmp(&b.path)));
    t.files = files;
    t.connects = connects.into_values().collect();
    t.panics = panics.into_iter().map(|(_, p)| p).collect();
    t.series = bins.into_values().collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: u64, tgid: u32, tid: u32, what: What) -> Event {
        Event {
            ts,
            tgid,
            tid,
            what,
        }
    }

    fn write(ts: u64, pid: u32, line: &str) -> Event {
        ev(
            ts,
            pid,
            pid,
            What::Data {
                nr: NR_WRITE,
                ret: line.len() as i64,
                data: line.as_bytes().to_vec(),
            },
        )
    }

    #[test]
    fn reads_truncated_report_lines() {
        assert_eq!(
            report_line(br#"{"ev":"phase-begin","index":2,"phase":"init","sym"#),
            Some(Line {
                ev: "phase-begin".into(),
                index: 2,
                phase: Some("init".into())
            })
        );
        assert_eq!(report_line(b"hello"), None);
    }

    #[test]
    fn scopes_to_the_target_and_counts_per_phase() {
        let openat = |ts, tid, path: &str, ret| {
            ev(
                ts,
                10,
                tid,
                What::Data {
                    nr: 257,
                    ret,
                    data: path.as_bytes().to_vec(),
                },
            )
        };
        let events = vec![
            // The sandbox stage before the target's execve: left out.
            ev(1_000, 9, 9, What::Syscall { nr: 0, ret: 1 }),
            ev(2_000, 10, 10, What::Exec { pid: 10 }),
            write(3_000, 10, r#"{"ev":"start"}"#),
            openat(4_000, 10, "/lib/x.so", 3),
            write(5_000, 10, r#"{"ev":"dlopen-begin","index":0}"#),
            ev(
                5_500,
                10,
                10,
                What::Fork {
                    parent: 10,
                    child: 11,
                },
            ),
            openat(6_000, 11, "/nope", -2),
            openat(6_500, 11, "/nope", -2),
            ev(7_000, 10, 10, What::PageAlloc { order: 1 }),
            write(8_000, 10, r#"{"ev":"dlopen","index":0,"ok":true}"#),
            openat(9_000, 10, "/after", 3),
            // Another process in the cgroup that is not in the target's tree.
            openat(9_500, 12, "/other", 3),
        ];
        let events: Vec<Event> = events
            .into_iter()
            .map(|mut e| {
                if e.tid == 12 {
                    e.tgid = 12;
                }
                e
            })
            .collect();
        let t = aggregate(&events, 0, Sandbox::Native);
        assert_eq!(t.syscalls["openat"], 4);
        assert_eq!(t.syscalls.get("read"), None);
        assert_eq!(t.errors["openat"]["ENOENT"], 2);
        let nope = t.files.iter().find(|f| f.path == "/nope").unwrap();
        assert_eq!((nope.count, nope.results["ENOENT"]), (2, 2));
        assert!(!t.files.iter().any(|f| f.path == "/other"));
        assert_eq!(t.phases.len(), 1);
        let p = &t.phases[0];
        assert_eq!(
            (p.name.as_str(), p.index, p.start_us, p.end_us),
            ("dlopen", 0, 5, 8)
        );
        assert_eq!(p.syscalls["openat"], 2);
        assert_eq!(p.syscalls["write"], 1);
        assert_eq!((p.page_allocs, p.page_alloc_bytes), (1, 8192));
        assert_eq!(t.processes.clones, 1);
    }
}
