//! Loads `bpf/trace.bpf.o` with `aya`, attaches its tracepoints once per `load` and its
//! Go uprobes once per Go executable, and reads the ring buffer while a child runs.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result, bail};
use aya::maps::{Array, MapData, RingBuf};
use aya::programs::{TracePoint, UProbe};
use aya::{Ebpf, EbpfLoader};

use super::cgroup2::TraceGroup;
use super::event::{self, Event};
use super::go;

/// The committed object; `bpf/build.sh` regenerates it from `bpf/trace.bpf.c`.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!("bpf/trace.bpf.o");

const TRACEPOINTS: &[(&str, &str, &str)] = &[
    ("sys_enter", "raw_syscalls", "sys_enter"),
    ("sys_exit", "raw_syscalls", "sys_exit"),
    ("page_alloc", "kmem", "mm_page_alloc"),
    ("process_fork", "sched", "sched_process_fork"),
    ("process_exec", "sched", "sched_process_exec"),
    ("process_exit", "sched", "sched_process_exit"),
    ("signal_generate", "signal", "signal_generate"),
];

const TRACEFS: &str = "/sys/kernel/tracing";

/// The loaded programs.
pub struct Loaded {
    bpf: Ebpf,
    ring: Option<RingBuf<MapData>>,
    /// Go executables the uprobes are on, and what they found there.
    go: HashMap<PathBuf, Option<go::GoTarget>>,
    /// The attachments, owned here so that `Drop` can detach them all at once.
    links: Vec<Box<dyn Send>>,
}

impl Drop for Loaded {
    /// Detaching a tracepoint waits for RCU grace periods, one detachment after the other
    /// under the kernel's event mutex: ~40 ms each here, 0.3 s for all. A helper process
    /// forked here holds the last references and pays that after plugctl has moved on;
    /// plugctl's own copies then close at once.
    fn drop(&mut self) {
        // SAFETY: the child only calls async-signal-safe close_range and _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: closing every descriptor of this short-lived child, then exiting
            // without running any of the parent's destructors.
            unsafe {
                libc::close_range(0, u32::MAX, 0);
                libc::_exit(0);
            }
        }
        // The helper is reaped when plugctl exits (init adopts it).
        let _ = pid;
        self.links.clear();
    }
}

/// Mounts tracefs where it is missing (tracepoint ids are read from it).
fn ensure_tracefs() -> Result<()> {
    if Path::new(TRACEFS).join("events").is_dir() {
        return Ok(());
    }
    let status = std::process::Command::new("mount")
        .args(["-t", "tracefs", "nodev", TRACEFS])
        .stderr(std::process::Stdio::piped())
        .output()
        .context("running mount -t tracefs")?;
    if !status.status.success() {
        bail!(
            "tracefs is not mounted at {TRACEFS} and mounting it failed: {}",
            String::from_utf8_lossy(&status.stderr).trim()
        );
    }
    Ok(())
}

impl Loaded {
    pub fn load() -> Result<Loaded> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            bail!(
                "plugctl is not running as root (loading eBPF programs needs CAP_BPF and CAP_PERFMON)"
            );
        }
        ensure_tracefs()?;
        // No kernel BTF needed: the object has no CO-RE relocations.
        let mut links: Vec<Box<dyn Send>> = Vec::new();
        let mut bpf = EbpfLoader::new()
            .btf(None)
            .load(OBJECT)
            .context("loading the eBPF object")?;
        for (prog, category, name) in TRACEPOINTS {
            let tp: &mut TracePoint = bpf
                .program_mut(prog)
                .with_context(|| format!("eBPF program {prog} missing from the object"))?
                .try_into()
                .with_context(|| format!("eBPF program {prog}"))?;
            tp.load().with_context(|| format!("loading {prog}"))?;
            let id = tp
                .attach(category, name)
                .with_context(|| format!("attaching {prog} to {category}:{name}"))?;
            links.push(Box::new(tp.take_link(id)?));
        }
        for prog in ["go_panic", "go_fatalpanic", "go_throw"] {
            let up: &mut UProbe = bpf
                .program_mut(prog)
                .with_context(|| format!("eBPF program {prog} missing from the object"))?
                .try_into()
                .with_context(|| format!("eBPF program {prog}"))?;
            up.load().with_context(|| format!("loading {prog}"))?;
        }
        let ring = RingBuf::try_from(bpf.take_map("events").context("no events map")?)
            .context("the events ring buffer")?;
        Ok(Loaded {
            bpf,
            ring: Some(ring),
            go: HashMap::new(),
            links,
        })
    }

    fn set_config(&mut self, index: u32, value: u64) -> Result<()> {
        let mut config: Array<_, u64> =
            Array::try_from(self.bpf.map_mut("config").context("no config map")?)?;
        config
            .set(index, value, 0)
            .context("writing the trace config")?;
        Ok(())
    }

    fn dropped(&mut self) -> Result<u64> {
        let mut d: Array<_, u64> =
            Array::try_from(self.bpf.map_mut("dropped").context("no dropped map")?)?;
        let v = d.get(&0, 0)?;
        d.set(0, 0, 0)?;
        Ok(v)
    }

    /// Puts the Go uprobes on `program` (once per file); notes what could not be done.
    fn attach_go(&mut self, program: &Path) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.go.contains_key(program) {
            let target = match go::target(program) {
                Ok(t) => t,
                Err(e) => {
                    notes.push(format!("Go uprobes: {e:#}"));
                    None
                }
            };
            if let Some(t) = &target {
                for (prog, func, offset) in &t.probes {
                    let attached = self
                        .bpf
                        .program_mut(prog)
                        .context("missing program")
                        .and_then(|p| {
                            let up: &mut UProbe = p.try_into()?;
                            let id = up.attach(None, *offset, program, None)?;
                            Ok(up.take_link(id)?)
                        });
                    match attached {
                        Ok(link) => self.links.push(Box::new(link)),
                        Err(e) => notes.push(format!("uprobe on {func}: {e:#}")),
                    }
                }
            }
            self.go.insert(program.to_path_buf(), target);
        }
        if let Some(Some(t)) = self.go.get(program).cloned() {
            let _ = self.set_config(1, t.goid_offset.unwrap_or(0));
            if t.goid_offset.is_none() {
                notes.push(format!(
                    "goroutine ids not read: the offset of goid in runtime.g is not known for {}",
                    t.version.as_deref().unwrap_or("this Go version")
                ));
            }
        }
        notes
    }
}

/// One child being watched.
pub struct Watch {
    loaded: Arc<Mutex<Loaded>>,
    group: TraceGroup,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<(RingBuf<MapData>, Vec<Event>)>>,
    notes: Vec<String>,
}

fn lock(l: &Mutex<Loaded>) -> std::sync::MutexGuard<'_, Loaded> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// Drains the ring buffer into `out`.
fn drain(ring: &mut RingBuf<MapData>, out: &mut Vec<Event>) {
    while let Some(item) = ring.next() {
        if let Some(e) = event::decode(&item) {
            out.push(e);
        }
    }
}

impl Watch {
    pub fn start(
        loaded: Arc<Mutex<Loaded>>,
        go_objects: &[PathBuf],
        v2_group: Option<&Path>,
    ) -> Result<Watch> {
        let group = TraceGroup::new(v2_group)?;
        let (mut ring, notes) = {
            let mut l = lock(&loaded);
            let notes: Vec<String> = go_objects.iter().flat_map(|p| l.attach_go(p)).collect();
            l.dropped()?;
            let mut ring = l
                .ring
                .take()
                .context("the ring buffer is already being read")?;
            // Whatever an earlier child left unread.
            drain(&mut ring, &mut Vec::new());
            l.set_config(0, group.id)?;
            (ring, notes)
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let reader = std::thread::spawn(move || {
            let mut events = Vec::new();
            let fd = ring.as_raw_fd();
            while !flag.load(Ordering::Relaxed) {
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: poll on one live descriptor.
                unsafe { libc::poll(&mut p, 1, 20) };
                drain(&mut ring, &mut events);
            }
            drain(&mut ring, &mut events);
            (ring, events)
        });
        Ok(Watch {
            loaded,
            group,
            stop,
            reader: Some(reader),
            notes,
        })
    }

    pub fn procs_file(&self) -> Option<PathBuf> {
        self.group.procs_file()
    }

    /// Stops the reader: (events, dropped, notes).
    pub fn stop(mut self) -> (Vec<Event>, u64, Vec<String>) {
        let (events, dropped) = self.finish();
        let mut notes = std::mem::take(&mut self.notes);
        notes.extend(self.group.remove());
        (events, dropped, notes)
    }

    fn finish(&mut self) -> (Vec<Event>, u64) {
        let Some(reader) = self.reader.take() else {
            return (Vec::new(), 0);
        };
        self.stop.store(true, Ordering::Relaxed);
        let (ring, events) = match reader.join() {
            Ok(r) => r,
            Err(_) => return (Vec::new(), 0),
        };
        let mut l = lock(&self.loaded);
        let _ = l.set_config(0, 0);
        l.ring = Some(ring);
        (events, l.dropped().unwrap_or(0))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.reader.is_some() {
            self.finish();
            self.group.remove();
        }
    }
}
