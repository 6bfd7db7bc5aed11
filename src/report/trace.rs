//! The table view of `load --trace`: per child, a short per-phase summary and the top
//! files, connects and panics (the JSON carries everything).

use crate::runtime::trace::{Backend, PanicKind, Trace};

const TOP: usize = 5;

fn kib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// Lines under a child's line (no indentation of their own).
pub fn lines(t: &Trace) -> Vec<String> {
    let mut out = Vec::new();
    let backend = match t.backend {
        Backend::Ebpf => "eBPF",
        Backend::SeccompNotify => "seccomp-notify",
        Backend::None => "none",
    };
    let total: u64 = t.syscalls.values().sum();
    let failed: u64 = t.errors.values().flat_map(|m| m.values()).sum();
    let mut head = format!(
        "trace ({backend}): {total} system calls ({} distinct, {failed} failed)",
        t.syscalls.len()
    );
    if t.backend == Backend::Ebpf {
        head.push_str(&format!(
            ", {} page allocations ({}), {} clones, {} execs, {} dropped",
            t.page_allocs,
            kib(t.page_alloc_bytes),
            t.processes.clones,
            t.processes.execs.len(),
            t.dropped
        ));
    }
    out.push(head);
    for p in &t.phases {
        let mut top: Vec<(&String, &u64)> = p.syscalls.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = top
            .iter()
            .take(3)
            .map(|(n, c)| format!("{n} {c}"))
            .collect();
        out.push(format!(
            "  {} [{}] {:.1}–{:.1} ms: {} calls ({}), {} path calls, {} connects, {} allocated",
            p.name,
            p.index,
            p.start_us as f64 / 1000.0,
            p.end_us as f64 / 1000.0,
            p.syscall_total,
            top.join(", "),
            p.file_calls,
            p.connects,
            kib(p.page_alloc_bytes)
        ));
    }
    for f in t.files.iter().take(TOP) {
        let results: Vec<String> = f.results.iter().map(|(r, c)| format!("{r} {c}")).collect();
        out.push(format!(
            "  file {} ×{} ({})",
            f.path,
            f.count,
            results.join(", ")
        ));
    }
    if t.files.len() > TOP {
        out.push(format!("  … {} more paths", t.files.len() - TOP));
    }
    for c in t.connects.iter().take(TOP) {
        let results: Vec<String> = c.results.iter().map(|(r, n)| format!("{r} {n}")).collect();
        out.push(format!(
            "  {} {} {} ×{} ({})",
            c.call,
            c.family,
            c.address,
            c.count,
            results.join(", ")
        ));
    }
    for p in t.panics.iter().take(TOP) {
        out.push(format!(
            "  {} {}{}{}{}",
            match p.kind {
                PanicKind::Panic => "panic",
                PanicKind::Fatal => "FATAL",
            },
            p.value.as_deref().unwrap_or("(value not read)"),
            p.goroutine
                .map(|g| format!(" in goroutine {g}"))
                .unwrap_or_default(),
            p.phase
                .as_deref()
                .map(|ph| format!(" during {ph}"))
                .unwrap_or_default(),
            match p.recovered {
                Some(true) => ", recovered",
                Some(false) => ", not recovered",
                None => "",
            }
        ));
    }
    for n in &t.notes {
        out.push(format!("  note: {n}"));
    }
    out
}
