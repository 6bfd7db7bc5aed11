//! Fuzz targets for every parser plugctl runs on untrusted bytes, runnable on stable in a
//! bounded time: a mutation loop over seeds taken from the real fixture corpus.
//!
//! | target | parser |
//! |---|---|
//! | `elf` | [`Artifact::from_vec`] and the model's accessors |
//! | `golang` | [`golang::read`] (build info, moduledata layout, pkghashes, ptab, init scan) and [`golang::predict_open`] |
//! | `ldcache` | [`LdCache::parse`] and [`LdCache::lookup`] |
//! | `pipeline` | `predict::inspect` (loader emulation, findings) and the table and JSON reports on mutated files |
//! | `matrix` | [`matrix::Definition::parse`] and `expand` on mutated matrix TOML (line and value mutations) |
//!
//! Seeds are the fixture corpus (`target/fixtures`: C objects of four ABIs, the malformed
//! files, Go plugins and hosts of five toolchains, `/etc/ld.so.cache`, `matrix/*.toml`),
//! plus variants made here: each small object and Go binary moved to the top of the
//! address space (so that address arithmetic overflows one mutation away), a Go plugin
//! with pre-1.18 pointer-format build info, and synthetic `ld.so.cache` files of the three
//! layouts. Each input is a seed mutated by a few operations (bit flips, interesting
//! integers written over header and table fields, a slice's `len` and `cap` set together,
//! pointers redirected to known structures, table entries duplicated, truncation at header
//! and section boundaries, splices of two seeds), biased towards the bytes each parser
//! reads: headers, tables, `.go.buildinfo`, the moduledata, the pkghashes table and the
//! relocations that patch them. Every input runs under `catch_unwind`; a panic fails the
//! test, and the input is written to `target/fuzz-crashes/` with a `.txt` saying how to
//! replay it. An input holding more than [`MEMORY_LIMIT`] of heap or running longer than
//! [`HANG_LIMIT`] stops the process with a message naming it (neither can be unwound).
//!
//! Environment:
//! - `PLUGCTL_FUZZ_SECONDS`: time per target (default 20; `0` runs the seeds only).
//! - `PLUGCTL_FUZZ_SEED`: the master seed (default: from the clock; printed).
//! - `PLUGCTL_FUZZ_REPLAY=<target>@<seed file>@<input seed hex>`: rebuild one input, write it
//!   to `target/fuzz-crashes/replay-<target>.bin` and run it without catching the panic.
//!
//! Inputs that once crashed are kept in `tests/fixtures/regressions/` (`<target>-*.bin`)
//! and each has a test below.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use plugctl::elf::Artifact;
use plugctl::golang::{self, GoFacts};
use plugctl::loader::LdCache;
use plugctl::loader::ldcache::CacheAbi;

/// Heap one input may hold at once (allocated while it runs and not yet freed).
const MEMORY_LIMIT: usize = 256 << 20;
/// Wall-clock time one input may take (unoptimised test build, 18 MB seeds).
const HANG_LIMIT: Duration = Duration::from_secs(10);
const DEFAULT_SECONDS: f64 = 20.0;

// ---------------------------------------------------------------------------
// Memory guard: a global allocator that charges each thread's allocations while an
// input runs, and stops the process (after saying which input) when one input holds
// more than MEMORY_LIMIT. An allocator must not unwind, so this cannot be a panic.

struct Guarded;

#[global_allocator]
static ALLOCATOR: Guarded = Guarded;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    /// The running input, for the message when the process has to stop: target index,
    /// seed index, input seed.
    static RUNNING: Cell<(u64, u64, u64)> = const { Cell::new((0, 0, 0)) };
}

fn charge(bytes: isize) {
    let tracking = TRACKING.try_with(Cell::get).unwrap_or(false);
    if !tracking {
        return;
    }
    let live = LIVE.with(|l| {
        let v = l.get() + bytes;
        l.set(v);
        v
    });
    PEAK.with(|p| p.set(p.get().max(live)));
    if live > MEMORY_LIMIT as isize {
        over_limit(live);
    }
}

/// Writes which input exceeded the limit with no allocation, then aborts.
fn over_limit(live: isize) -> ! {
    fn put(s: &[u8]) {
        // SAFETY: writing a valid buffer to stderr.
        unsafe { libc::write(2, s.as_ptr().cast(), s.len()) };
    }
    fn put_num(mut n: u64, radix: u64) {
        let mut buf = [0u8; 24];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b"0123456789abcdef"[(n % radix) as usize];
            n /= radix;
            if n == 0 {
                break;
            }
        }
        put(&buf[i..]);
    }
    let (target, seed, input) = RUNNING.with(Cell::get);
    put(b"\nfuzz: one input holds ");
    put_num(live.max(0) as u64, 10);
    put(b" bytes of heap (limit 256 MiB): target ");
    put(TARGETS[target as usize % TARGETS.len()].as_bytes());
    put(b", seed #");
    put_num(seed, 10);
    put(b", input seed ");
    put_num(input, 16);
    put(b" (replay: PLUGCTL_FUZZ_REPLAY=<target>@<seed file>@<input seed>)\n");
    std::process::abort();
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters change.
unsafe impl GlobalAlloc for Guarded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        charge(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        charge(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

// ---------------------------------------------------------------------------
// Hang guard: one watchdog thread; each target publishes when its current input started.

const TARGETS: [&str; 5] = ["elf", "golang", "ldcache", "pipeline", "matrix"];

struct Running {
    /// Milliseconds since `EPOCH` when the current input started; 0 when idle.
    started: AtomicU64,
    seed: AtomicU64,
    input: AtomicU64,
}

static RUNNING_INPUTS: [Running; 5] = [const {
    Running {
        started: AtomicU64::new(0),
        seed: AtomicU64::new(0),
        input: AtomicU64::new(0),
    }
}; 5];
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

fn start_watchdog() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        now_ms();
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(50));
                for (i, r) in RUNNING_INPUTS.iter().enumerate() {
                    let started = r.started.load(Ordering::Relaxed);
                    if started != 0 && now_ms().saturating_sub(started) > HANG_LIMIT.as_millis() as u64
                    {
                        eprintln!(
                            "\nfuzz: target {} has run one input for more than {HANG_LIMIT:?}: seed #{}, input seed {:x}",
                            TARGETS[i],
                            r.seed.load(Ordering::Relaxed),
                            r.input.load(Ordering::Relaxed)
                        );
                        std::process::abort();
                    }
                }
            }
        });
    });
}

// ---------------------------------------------------------------------------
// Panic capture

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}
/// A panic on a thread that is not catching (a rayon worker of the pipeline target); it
/// reaches the fuzzing thread through rayon with no location.
static OTHER_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

fn take_panic() -> (String, String) {
    // A panic on a worker is the cause of the one that reached the fuzzing thread.
    let own = LAST_PANIC.with(|p| p.borrow_mut().take());
    OTHER_PANIC
        .lock()
        .ok()
        .and_then(|mut p| p.take())
        .or(own)
        .unwrap_or_else(|| ("unknown".into(), String::new()))
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let on_worker = std::thread::current()
                .name()
                .is_none_or(|n| n.starts_with("rayon"));
            if CATCHING.with(Cell::get) || on_worker {
                // What the hook allocates (a symbolised backtrace) is not the input's.
                TRACKING.with(|t| t.set(false));
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_else(|| "unknown".into());
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(non-string panic)".into());
                let backtrace = std::backtrace::Backtrace::force_capture().to_string();
                let record = (location, format!("{message}\n\n{backtrace}"));
                if CATCHING.with(Cell::get) {
                    LAST_PANIC.with(|p| *p.borrow_mut() = Some(record));
                } else if let Ok(mut other) = OTHER_PANIC.lock() {
                    *other = Some(record);
                }
            } else {
                default(info)
            }
        }));
    });
}

// ---------------------------------------------------------------------------
// Random numbers and mutation

/// SplitMix64: tiny, fast, and every input is rebuilt from one `u64`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A part of a seed worth mutating: a header, a table, a section, a window around a
/// structure the Go reader follows.
#[derive(Debug, Clone)]
struct Region {
    start: usize,
    len: usize,
    weight: u32,
    /// Size of one table entry (program headers, dynamic entries, symbols...), or 0.
    entsize: usize,
}

struct Seed {
    name: String,
    data: Vec<u8>,
    regions: Vec<Region>,
    /// Offsets where a truncation is interesting: header, table and section boundaries.
    boundaries: Vec<usize>,
    /// Virtual addresses of known structures, to write as plausible pointers.
    addresses: Vec<u64>,
    weight: u32,
    little_endian: bool,
}

impl Seed {
    fn plain(name: &str, data: Vec<u8>) -> Seed {
        let len = data.len();
        Seed {
            name: name.into(),
            regions: vec![Region {
                start: 0,
                len,
                weight: 1,
                entsize: 0,
            }],
            boundaries: vec![0, len],
            addresses: Vec::new(),
            weight: 4,
            little_endian: true,
            data,
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    FlipBits,
    RandomBytes,
    Interesting,
    /// The same value in two consecutive words: a slice's `len` and `cap`.
    Interesting2,
    Arith,
    CopyWord,
    Pointer,
    CopyChunk,
    Zero,
    Fill,
    DupEntry,
    TruncateBoundary,
    TruncateRandom,
    Splice,
    Insert,
    Delete,
}

/// Mutation operations and their weights, per target.
fn op_weights(target: &str) -> &'static [(Op, u32)] {
    use Op::*;
    match target {
        // Huge seeds: truncating loses everything the Go reader looks at; aim at fields.
        "golang" => &[
            (FlipBits, 10),
            (RandomBytes, 6),
            (Interesting, 20),
            (Interesting2, 12),
            (Arith, 10),
            (CopyWord, 10),
            (Pointer, 16),
            (CopyChunk, 4),
            (Zero, 6),
            (Fill, 2),
            (DupEntry, 6),
            (TruncateBoundary, 1),
        ],
        _ => &[
            (FlipBits, 10),
            (RandomBytes, 6),
            (Interesting, 18),
            (Interesting2, 3),
            (Arith, 8),
            (CopyWord, 6),
            (Pointer, 4),
            (CopyChunk, 4),
            (Zero, 4),
            (Fill, 2),
            (DupEntry, 8),
            (TruncateBoundary, 6),
            (TruncateRandom, 2),
            (Splice, 3),
            (Insert, 2),
            (Delete, 2),
        ],
    }
}

fn choose_op(rng: &mut Rng, weights: &[(Op, u32)]) -> Op {
    let total: u32 = weights.iter().map(|w| w.1).sum();
    let mut at = rng.below(total as usize) as u32;
    for (op, w) in weights {
        if at < *w {
            return *op;
        }
        at -= w;
    }
    weights[0].0
}

fn choose_region<'a>(rng: &mut Rng, seed: &'a Seed) -> &'a Region {
    let total: u64 = seed.regions.iter().map(|r| u64::from(r.weight)).sum();
    let mut at = rng.next() % total.max(1);
    for r in &seed.regions {
        if at < u64::from(r.weight) {
            return r;
        }
        at -= u64::from(r.weight);
    }
    &seed.regions[0]
}

fn interesting_value(rng: &mut Rng, seed: &Seed, len: usize) -> u64 {
    const FIXED: &[u64] = &[
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        15,
        16,
        24,
        32,
        56,
        63,
        64,
        127,
        128,
        255,
        256,
        0x3ff,
        0x1000,
        0x7fff,
        0x8000,
        0xffff,
        0x1_0000,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        0xffff_ffff,
        0x1_0000_0000,
        0x7fff_ffff_ffff_ffff,
        0x8000_0000_0000_0000,
        u64::MAX - 7,
        u64::MAX - 1,
        u64::MAX,
    ];
    let len = len as u64;
    match rng.below(10) {
        0..=4 => *rng.pick(FIXED),
        5 => len.wrapping_add(rng.below(17) as u64).wrapping_sub(8),
        6 => len / 2,
        7 => rng.next() % len.max(1),
        8 if !seed.addresses.is_empty() => rng
            .pick(&seed.addresses)
            .wrapping_add(rng.below(64) as u64)
            .wrapping_sub(32),
        _ => rng.next(),
    }
}

fn write_uint(data: &mut [u8], at: usize, width: usize, value: u64, little: bool) {
    let Some(slot) = data.get_mut(at..at.saturating_add(width)) else {
        return;
    };
    let bytes = if little {
        value.to_le_bytes()
    } else {
        value.to_be_bytes()
    };
    if little {
        slot.copy_from_slice(&bytes[..width]);
    } else {
        slot.copy_from_slice(&bytes[8 - width..]);
    }
}

fn read_uint(data: &[u8], at: usize, width: usize, little: bool) -> Option<u64> {
    let slot = data.get(at..at.checked_add(width)?)?;
    let mut v = 0u64;
    if little {
        slot.iter().rev().for_each(|b| v = (v << 8) | u64::from(*b));
    } else {
        slot.iter().for_each(|b| v = (v << 8) | u64::from(*b));
    }
    Some(v)
}

/// An aligned offset inside `region` (clamped to the current data).
fn offset_in(rng: &mut Rng, region: &Region, align: usize, len: usize) -> Option<usize> {
    let end = region.start.saturating_add(region.len).min(len);
    if end <= region.start {
        return None;
    }
    let at = region.start + rng.below(end - region.start);
    let aligned = at - (at % align.max(1));
    (aligned < len).then_some(aligned)
}

/// Rebuilds the input numbered `input_seed` from `seed` (and `all`, for splices).
fn mutate(seed: &Seed, all: &[Seed], input_seed: u64, target: &str) -> Vec<u8> {
    if target == "matrix" {
        return mutate_toml(seed, input_seed);
    }
    let mut rng = Rng(input_seed);
    let mut data = seed.data.clone();
    let many = rng.chance(15);
    let ops = 1 + rng.below(if many { 12 } else { 4 });
    let weights = op_weights(target);
    let little = seed.little_endian;
    for _ in 0..ops {
        if data.is_empty() {
            break;
        }
        let len = data.len();
        let region = choose_region(&mut rng, seed).clone();
        match choose_op(&mut rng, weights) {
            Op::FlipBits => {
                for _ in 0..1 + rng.below(4) {
                    if let Some(at) = offset_in(&mut rng, &region, 1, len) {
                        data[at] ^= 1 << rng.below(8);
                    }
                }
            }
            Op::RandomBytes => {
                for _ in 0..1 + rng.below(8) {
                    if let Some(at) = offset_in(&mut rng, &region, 1, len) {
                        data[at] = rng.next() as u8;
                    }
                }
            }
            Op::Interesting => {
                let width = *rng.pick(&[1, 2, 4, 8, 8]);
                if let Some(at) = offset_in(&mut rng, &region, width, len) {
                    let v = interesting_value(&mut rng, seed, len);
                    write_uint(&mut data, at, width, v, little);
                }
            }
            Op::Interesting2 => {
                if let Some(at) = offset_in(&mut rng, &region, 8, len) {
                    let v = interesting_value(&mut rng, seed, len);
                    write_uint(&mut data, at, 8, v, little);
                    write_uint(&mut data, at + 8, 8, v, little);
                }
            }
            Op::Arith => {
                let width = *rng.pick(&[2, 4, 8]);
                if let Some(at) = offset_in(&mut rng, &region, width, len)
                    && let Some(v) = read_uint(&data, at, width, little)
                {
                    let delta = *rng.pick(&[1u64, 2, 4, 8, 16, 24, 0x1000]);
                    let v = if rng.chance(50) {
                        v.wrapping_add(delta)
                    } else {
                        v.wrapping_sub(delta)
                    };
                    write_uint(&mut data, at, width, v, little);
                }
            }
            Op::CopyWord => {
                let from_region = choose_region(&mut rng, seed).clone();
                if let (Some(from), Some(to)) = (
                    offset_in(&mut rng, &from_region, 8, len),
                    offset_in(&mut rng, &region, 8, len),
                ) && let Some(v) = read_uint(&data, from, 8, little)
                {
                    write_uint(&mut data, to, 8, v, little);
                }
            }
            Op::Pointer => {
                if let Some(at) = offset_in(&mut rng, &region, 8, len)
                    && !seed.addresses.is_empty()
                {
                    let v = rng
                        .pick(&seed.addresses)
                        .wrapping_add(8 * rng.below(16) as u64);
                    write_uint(&mut data, at, 8, v, little);
                }
            }
            Op::CopyChunk => {
                let n = 1 + rng.below(256);
                let from = rng.below(len);
                if let Some(to) = offset_in(&mut rng, &region, 1, len) {
                    let n = n.min(len - from).min(len - to);
                    data.copy_within(from..from + n, to);
                }
            }
            op @ (Op::Zero | Op::Fill) => {
                let byte = if matches!(op, Op::Fill) { 0xff } else { 0 };
                if let Some(at) = offset_in(&mut rng, &region, 1, len) {
                    let n = (1 + rng.below(64)).min(len - at);
                    data[at..at + n].fill(byte);
                }
            }
            Op::DupEntry => {
                let e = region.entsize;
                if e > 0 && region.len >= 2 * e {
                    let count = region.len / e;
                    let (a, b) = (rng.below(count), rng.below(count));
                    let (from, to) = (region.start + a * e, region.start + b * e);
                    if from + e <= len && to + e <= len {
                        data.copy_within(from..from + e, to);
                    }
                }
            }
            Op::TruncateBoundary => {
                let at = *rng.pick(&seed.boundaries);
                let at = (at + rng.below(9)).saturating_sub(4).min(len);
                data.truncate(at);
            }
            Op::TruncateRandom => {
                let at = rng.below(len);
                data.truncate(at);
            }
            Op::Splice => {
                let other = rng.pick(all);
                if !other.data.is_empty() {
                    let cut = rng.below(len);
                    let from = rng.below(other.data.len());
                    let take = (other.data.len() - from).min(1 << 20);
                    data.truncate(cut);
                    data.extend_from_slice(&other.data[from..from + take]);
                }
            }
            Op::Insert => {
                if let Some(at) = offset_in(&mut rng, &region, 1, len) {
                    let n = 1 + rng.below(16);
                    let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                    data.splice(at..at, bytes);
                }
            }
            Op::Delete => {
                if let Some(at) = offset_in(&mut rng, &region, 1, len) {
                    let n = (1 + rng.below(16)).min(len - at);
                    data.drain(at..at + n);
                }
            }
        }
    }
    data
}

/// Values a matrix definition's strings, numbers and lists are replaced with.
const TOML_VALUES: &[&str] = &[
    "\"\"",
    "\"*\"",
    "\"{i}\"",
    "\"{i}{i}{i}\"",
    "\"lib:\"",
    "\"lib:nope\"",
    "\"claim:\"",
    "\"tag:\"",
    "\"../../../../..\"",
    "\"/\"",
    "\"\\u0000\"",
    "\"é\\u202e\"",
    "\"ok|\"",
    "\"!\"",
    "\"!ok|crash|\"",
    "\">0\"",
    "\"1.26.6\"",
    "\"go1.99999999999999999999\"",
    "\"1.\"",
    "\"-1\"",
    "0",
    "-1",
    "1",
    "64",
    "65",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "nan",
    "true",
    "[]",
    "[[]]",
    "{}",
    "[\"ok\", \"ok\", \"ok\", \"ok\", \"ok\", \"ok\", \"ok\", \"ok\", \"ok\"]",
    "{ use = \"host\" }",
    "{ use = \"nope\" }",
    "{ use = \"greeter\", repeat = 64 }",
    "{ outcome = \"ok\", env = \"seen\" }",
    "{ via = \"runtime\", timeout = 0, memory = 0 }",
];

/// Line and value mutations of a TOML seed: lines deleted, duplicated, moved, values
/// replaced with [`TOML_VALUES`], and a few byte flips.
fn mutate_toml(seed: &Seed, input_seed: u64) -> Vec<u8> {
    let mut rng = Rng(input_seed);
    let text = String::from_utf8_lossy(&seed.data).into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..1 + rng.below(4) {
        if lines.is_empty() {
            break;
        }
        let i = rng.below(lines.len());
        match rng.below(10) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let line = lines[i].clone();
                lines.insert(rng.below(lines.len() + 1), line);
            }
            2 => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
            3..=7 => {
                // `key = value`: a new value.
                if let Some((key, _)) = lines[i].split_once(" = ") {
                    lines[i] = format!("{key} = {}", rng.pick(TOML_VALUES));
                } else if let Some(at) = lines[i].find('"') {
                    // Inside a list or inline table: replace from a quote on.
                    let tail = if rng.chance(50) { "]" } else { "}" };
                    lines[i] = format!("{}{}{tail}", &lines[i][..at], rng.pick(TOML_VALUES));
                }
            }
            8 => {
                let mut bytes = lines[i].clone().into_bytes();
                if !bytes.is_empty() {
                    let at = rng.below(bytes.len());
                    bytes[at] = *rng.pick(b"\"'[]{}=,.#\\\n0 ");
                }
                lines[i] = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => {
                lines.truncate(i);
            }
        }
    }
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    out
}

// ---------------------------------------------------------------------------
// Seeds: real fixture files, with the regions their parsers read

/// Section and segment facts of a well-formed ELF seed, read independently of plugctl.
struct ElfMap {
    little: bool,
    is64: bool,
    phoff: usize,
    phentsize: usize,
    phnum: usize,
    shoff: usize,
    shentsize: usize,
    shnum: usize,
    /// (name, type, address, offset, size, entsize)
    sections: Vec<(String, u32, u64, usize, usize, usize)>,
    /// PT_LOAD: (vaddr, offset, filesz)
    loads: Vec<(u64, usize, usize)>,
}

impl ElfMap {
    fn read(data: &[u8]) -> Option<ElfMap> {
        if data.len() < 52 || &data[..4] != b"\x7fELF" {
            return None;
        }
        let is64 = data[4] == 2;
        let little = data[5] != 2;
        let rd = |at: usize, w: usize| read_uint(data, at, w, little).map(|v| v as usize);
        let (phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx) = if is64 {
            (
                rd(0x20, 8)?,
                rd(0x28, 8)?,
                rd(0x36, 2)?,
                rd(0x38, 2)?,
                rd(0x3a, 2)?,
                rd(0x3c, 2)?,
                rd(0x3e, 2)?,
            )
        } else {
            (
                rd(0x1c, 4)?,
                rd(0x20, 4)?,
                rd(0x2a, 2)?,
                rd(0x2c, 2)?,
                rd(0x2e, 2)?,
                rd(0x30, 2)?,
                rd(0x32, 2)?,
            )
        };
        let mut loads = Vec::new();
        for i in 0..phnum {
            let b = phoff + i * phentsize;
            if rd(b, 4)? != 1 {
                continue;
            }
            let (off, vaddr, filesz) = if is64 {
                (rd(b + 8, 8)?, rd(b + 16, 8)?, rd(b + 32, 8)?)
            } else {
                (rd(b + 4, 4)?, rd(b + 8, 4)?, rd(b + 16, 4)?)
            };
            // Hostile seeds claim sizes past the file: keep what the file holds.
            loads.push((
                vaddr as u64,
                off,
                filesz.min(data.len().saturating_sub(off)),
            ));
        }
        let mut raw = Vec::new();
        for i in 0..shnum {
            let b = shoff + i * shentsize;
            let row = if is64 {
                (
                    rd(b, 4)?,
                    rd(b + 4, 4)?,
                    rd(b + 16, 8)?,
                    rd(b + 24, 8)?,
                    rd(b + 32, 8)?,
                    rd(b + 56, 8)?,
                )
            } else {
                (
                    rd(b, 4)?,
                    rd(b + 4, 4)?,
                    rd(b + 12, 4)?,
                    rd(b + 16, 4)?,
                    rd(b + 20, 4)?,
                    rd(b + 36, 4)?,
                )
            };
            raw.push(row);
        }
        let shstr = raw.get(shstrndx).map(|r| r.3).unwrap_or(0);
        let sections = raw
            .iter()
            .map(|&(name, kind, addr, off, size, ent)| {
                let name = data
                    .get(shstr + name..)
                    .and_then(|s| s.split(|&b| b == 0).next())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .unwrap_or_default();
                let size = size.min(data.len().saturating_sub(off));
                (name, kind as u32, addr as u64, off, size, ent)
            })
            .collect();
        Some(ElfMap {
            little,
            is64,
            phoff,
            phentsize,
            phnum,
            shoff,
            shentsize,
            shnum,
            sections,
            loads,
        })
    }

    fn offset_of(&self, vaddr: u64) -> Option<usize> {
        self.loads.iter().find_map(|&(va, off, size)| {
            let d = vaddr.checked_sub(va)?;
            (d < size as u64).then(|| off + d as usize)
        })
    }

    /// `.symtab` symbols whose name matches `want` (value, size).
    fn symtab(&self, data: &[u8], want: impl Fn(&str) -> bool) -> Vec<(String, u64, u64)> {
        let Some(symtab) = self.sections.iter().find(|s| s.1 == 2) else {
            return Vec::new();
        };
        let Some(strtab) = self.sections.iter().find(|s| s.0 == ".strtab") else {
            return Vec::new();
        };
        let ent = if self.is64 { 24 } else { 16 };
        let mut out = Vec::new();
        for i in 0..symtab.4 / ent {
            let at = symtab.3 + i * ent;
            let Some(name) = read_uint(data, at, 4, self.little) else {
                break;
            };
            let Some(name) = data
                .get(strtab.3 + name as usize..)
                .and_then(|s| s.split(|&b| b == 0).next())
                .and_then(|s| std::str::from_utf8(s).ok())
            else {
                continue;
            };
            if !want(name) {
                continue;
            }
            let (v, s) = if self.is64 {
                (
                    read_uint(data, at + 8, 8, true),
                    read_uint(data, at + 16, 8, true),
                )
            } else {
                (
                    read_uint(data, at + 4, 4, true),
                    read_uint(data, at + 8, 4, true),
                )
            };
            if let (Some(v), Some(s)) = (v, s) {
                out.push((name.to_string(), v, s));
            }
        }
        out
    }
}

/// Regions, boundaries and addresses of an ELF seed; Go structures get extra weight for
/// the `golang` target.
fn elf_seed(name: String, data: Vec<u8>, go: bool) -> Seed {
    let Some(map) = ElfMap::read(&data) else {
        return Seed::plain(&name, data);
    };
    let len = data.len();
    let mut regions = vec![
        Region {
            start: 0,
            len: if map.is64 { 64 } else { 52 },
            weight: 6,
            entsize: 0,
        },
        Region {
            start: map.phoff,
            len: map.phnum.saturating_mul(map.phentsize),
            weight: 6,
            entsize: map.phentsize,
        },
        Region {
            start: map.shoff,
            len: map.shnum.saturating_mul(map.shentsize),
            weight: 5,
            entsize: map.shentsize,
        },
    ];
    let mut boundaries = vec![
        0,
        4,
        16,
        52,
        64,
        map.phoff
            .saturating_add(map.phnum.saturating_mul(map.phentsize)),
        len,
    ];
    for i in 0..=map.phnum {
        boundaries.push(map.phoff.saturating_add(i.saturating_mul(map.phentsize)));
    }
    for i in 0..=map.shnum {
        boundaries.push(map.shoff.saturating_add(i.saturating_mul(map.shentsize)));
    }
    let mut addresses = Vec::new();
    for (sname, kind, addr, off, size, ent) in &map.sections {
        boundaries.extend([*off, off.saturating_add(*size)]);
        if *addr != 0 {
            addresses.extend([*addr, addr.wrapping_add(*size as u64)]);
        }
        if *kind == 8 || *size == 0 {
            continue; // NOBITS
        }
        let weight = match (sname.as_str(), *kind) {
            (".go.buildinfo" | ".go.module", _) => 8,
            (_, 6) => 6,                         // SHT_DYNAMIC
            (_, 11) | (".dynstr", _) => 4,       // SHT_DYNSYM
            (_, 4 | 9) => 3,                     // SHT_RELA, SHT_REL
            (_, 0x6fff_fffd..=0x6fff_ffff) => 4, // verdef, verneed, versym
            (".interp" | ".shstrtab", _) => 2,
            (_, 2) | (".strtab", _) => 1, // .symtab
            _ if *size <= 64 << 10 => 1,
            _ => 0,
        };
        if weight > 0 {
            // Large tables: a window of a few hundred entries, not the whole table.
            let window = if *size > 64 << 10 {
                (ent.max(&1) * 256).min(*size)
            } else {
                *size
            };
            regions.push(Region {
                start: *off,
                len: window,
                weight,
                entsize: *ent,
            });
            if window < *size {
                regions.push(Region {
                    start: off + size - window,
                    len: window,
                    weight,
                    entsize: *ent,
                });
            }
        }
    }
    for (va, off, size) in &map.loads {
        boundaries.extend([*off, off.saturating_add(*size)]);
        addresses.push(*va);
    }
    let mut seed = Seed {
        name,
        data,
        regions,
        boundaries,
        addresses,
        weight: if len > 1 << 20 { 1 } else { 4 },
        little_endian: map.little,
    };
    if go {
        add_go_windows(&mut seed, &map);
    }
    seed.boundaries.retain(|&b| b <= len);
    seed.boundaries.sort_unstable();
    seed.boundaries.dedup();
    seed.regions.retain(|r| r.len > 0 && r.start < len);
    seed
}

/// Windows around what the Go reader follows: the moduledata, the pkghashes table, the
/// build info, the type descriptor of `runtime.moduledata`, the init functions.
fn add_go_windows(seed: &mut Seed, map: &ElfMap) {
    let Ok(art) = Artifact::from_vec(PathBuf::from(&seed.name), seed.data.clone()) else {
        return;
    };
    let mut windows: Vec<(u64, usize, u32)> = Vec::new();
    // A seed the reader panics on still gets its ELF regions (the loop reports the panic).
    let facts = panic::catch_unwind(AssertUnwindSafe(|| golang::read(&art)))
        .ok()
        .flatten();
    if let Some(facts) = facts {
        windows.push((facts.build_info.address, 512, 6));
        if let Some(md) = &facts.module_data {
            windows.push((md.address, 96 * 8, 10));
        }
        if let Some(pp) = &facts.plugin_path {
            let init = format!("{pp}.init");
            for s in art.symbols.iter().filter(|s| s.name.starts_with(&init)) {
                windows.push((s.value, (s.size as usize).min(512), 2));
            }
        }
    }
    let pkghash: Vec<u64> = art
        .relocations
        .iter()
        .filter(|r| {
            art.relocation_symbol(r).is_some_and(|s| {
                s.name.starts_with("go:link.pkghash.") || s.name.starts_with("go.link.pkghash.")
            })
        })
        .map(|r| r.offset)
        .collect();
    if let (Some(lo), Some(hi)) = (pkghash.iter().min(), pkghash.iter().max()) {
        windows.push((lo.saturating_sub(64), (hi - lo) as usize + 128, 8));
    }
    let names = [
        "type:runtime.moduledata",
        "type.runtime.moduledata",
        "go:link.pkghashes",
        "go.link.pkghashes",
        "go:link.thispluginpath",
        "local.pluginmoduledata",
        "runtime.firstmoduledata",
    ];
    for (_, value, size) in map.symtab(&seed.data, |n| names.contains(&n)) {
        windows.push((value, (size as usize).clamp(64, 1024), 6));
    }
    for s in art
        .symbols
        .iter()
        .filter(|s| s.defined && s.name.starts_with("type:runtime.moduledata"))
    {
        windows.push((s.value, 256, 6));
    }
    // Relocated words take their value from the relocation's addend, not from the word:
    // the relocation entries that patch the windows are worth mutating too.
    let mut patched = Vec::new();
    for (_, kind, _, off, size, _) in map.sections.iter().filter(|s| s.1 == 4 && map.is64) {
        let _ = kind;
        for at in (*off..off + size).step_by(24) {
            let Some(r_offset) = read_uint(&seed.data, at, 8, map.little) else {
                break;
            };
            if windows
                .iter()
                .any(|&(a, len, _)| r_offset.wrapping_sub(a) < len as u64)
            {
                patched.push(Region {
                    start: at,
                    len: 24,
                    weight: 2,
                    entsize: 0,
                });
            }
        }
    }
    patched.truncate(4096);
    seed.regions.extend(patched);
    for (addr, len, weight) in windows {
        seed.addresses.push(addr);
        if let Some(off) = map.offset_of(addr) {
            seed.regions.push(Region {
                start: off,
                len,
                weight,
                entsize: 8,
            });
            seed.boundaries.push(off);
        }
    }
}

/// A copy of a Go binary whose build info is rewritten in the pre-1.18 pointer format
/// (no fixture is that old): two pointers to string headers, then the strings.
fn pointer_format_variant(seed: &Seed) -> Option<Seed> {
    let map = ElfMap::read(&seed.data)?;
    let (_, _, addr, off, size, _) = map
        .sections
        .iter()
        .find(|s| s.0 == ".go.buildinfo")?
        .clone();
    let mut data = seed.data.clone();
    let blob = data.get(off..off + size)?.to_vec();
    if blob.get(15)? & 2 == 0 {
        return None;
    }
    let varint = |b: &[u8]| -> Option<(usize, usize)> {
        let (mut v, mut s) = (0usize, 0);
        for (i, &x) in b.iter().enumerate().take(10) {
            v |= ((x & 0x7f) as usize) << s;
            if x < 0x80 {
                return Some((v, i + 1));
            }
            s += 7;
        }
        None
    };
    let (vlen, n) = varint(&blob[32..])?;
    let version = blob.get(32 + n..32 + n + vlen)?.to_vec();
    let (mlen, m) = varint(&blob[32 + n + vlen..])?;
    let modinfo = blob
        .get(32 + n + vlen + m..32 + n + vlen + m + mlen)?
        .to_vec();
    // Header, two 16-byte string headers, then the strings; modinfo loses what does not fit.
    let strings_at = 64;
    let room = size.checked_sub(strings_at + version.len())?;
    let modinfo = &modinfo[modinfo.len().saturating_sub(room)..];
    let mut out = blob[..32].to_vec();
    out[15] = 0; // pointer format, little-endian
    out[14] = 8;
    out[16..24].copy_from_slice(&(addr + 32).to_le_bytes());
    out[24..32].copy_from_slice(&(addr + 48).to_le_bytes());
    out.extend_from_slice(&(addr + strings_at as u64).to_le_bytes());
    out.extend_from_slice(&(version.len() as u64).to_le_bytes());
    out.extend_from_slice(&(addr + (strings_at + version.len()) as u64).to_le_bytes());
    out.extend_from_slice(&(modinfo.len() as u64).to_le_bytes());
    out.extend_from_slice(&version);
    out.extend_from_slice(modinfo);
    out.resize(size, 0);
    data[off..off + size].copy_from_slice(&out);
    Some(elf_seed(
        format!("{} (pointer-format build info)", seed.name),
        data,
        true,
    ))
}

/// The same ELF64 little-endian shared object or PIE moved to the top of the address
/// space: every address (segments, sections, symbols, dynamic pointers, relocation offsets
/// and relative addends) shifted so that the image ends 64 KiB below 2^64. Nothing about
/// the object changes but its load address, so every fact must stay the same, and any
/// address arithmetic a hostile length or offset makes overflow is one mutation away.
fn rebased(data: &[u8]) -> Option<Vec<u8>> {
    let map = ElfMap::read(data)?;
    if !map.is64 || !map.little || read_uint(data, 0x10, 2, true)? != 3 {
        return None;
    }
    let end = map
        .loads
        .iter()
        .map(|&(va, _, size)| va.checked_add(size as u64))
        .max()??;
    let k = 0u64.wrapping_sub(
        end.checked_next_multiple_of(0x1_0000)?
            .checked_add(0x1_0000)?,
    );
    let mut out = data.to_vec();
    let shift = |out: &mut Vec<u8>, at: usize| {
        if let Some(v) = read_uint(out, at, 8, true) {
            write_uint(out, at, 8, v.wrapping_add(k), true);
        }
    };
    if read_uint(data, 0x18, 8, true)? != 0 {
        shift(&mut out, 0x18);
    }
    for i in 0..map.phnum {
        let b = map.phoff + i * map.phentsize;
        if read_uint(data, b, 4, true)? != 0x6474_e551 {
            shift(&mut out, b + 16);
            shift(&mut out, b + 24);
        }
    }
    let machine = read_uint(data, 0x12, 2, true)?;
    let relative: &[u64] = match machine {
        62 => &[8, 37],
        183 => &[1027, 1032],
        _ => return None,
    };
    const POINTER_TAGS: &[u64] = &[
        3,
        4,
        5,
        6,
        7,
        12,
        13,
        17,
        23,
        25,
        26,
        0x6fff_fef5,
        0x6fff_fff0,
        0x6fff_fffc,
        0x6fff_fffe,
    ];
    for i in 0..map.shnum {
        let b = map.shoff + i * map.shentsize;
        if read_uint(data, b + 16, 8, true)? != 0 {
            shift(&mut out, b + 16);
        }
        let (_, kind, _, off, size, _) = &map.sections[i];
        match kind {
            2 | 11 => {
                for at in (*off..off + size).step_by(24) {
                    let shndx = read_uint(data, at + 6, 2, true)?;
                    let tls = data[at + 4] & 0xf == 6;
                    if !matches!(shndx, 0 | 0xfff1 | 0xfff2) && !tls {
                        shift(&mut out, at + 8);
                    }
                }
            }
            4 => {
                for at in (*off..off + size).step_by(24) {
                    shift(&mut out, at);
                    if relative.contains(&(read_uint(data, at + 8, 8, true)? & 0xffff_ffff)) {
                        shift(&mut out, at + 16);
                    }
                }
            }
            6 => {
                for at in (*off..off + size).step_by(16) {
                    if POINTER_TAGS.contains(&read_uint(data, at, 8, true)?) {
                        shift(&mut out, at + 8);
                    }
                }
            }
            _ => {}
        }
    }
    Some(out)
}

fn fixture_dir() -> &'static Path {
    &common::fixtures().dir
}

fn read_seed(relative: &str) -> Option<(String, Vec<u8>)> {
    let data = std::fs::read(fixture_dir().join(relative)).ok()?;
    Some((relative.to_string(), data))
}

/// Every regular file under `dir` (relative to the fixture dir), sorted.
fn files_under(dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![fixture_dir().join(dir)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(fixture_dir())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

const GO_SEEDS: &[&str] = &[
    "go/plugins/greeter-1.26.6-default.so",
    "go/plugins/greeter-1.21.13-default.so",
    "go/plugins/greeter-1.22.10-default.so",
    "go/plugins/greeter-1.27.3-default.so",
    "go/plugins/greeter-1.26.6-ldflags-sw.so",
    "go/plugins/greeter-1.26.6-arm64.so",
    "go/plugins/greeter-1.26.6-unnamed.so",
    "go/hosts/loadhost-1.26.6-default",
    "go/hosts/loadhost-1.26.6-nocgo",
    "go/hosts/loadhost-1.26.6-stripped",
];

fn elf_seeds() -> Vec<Seed> {
    let mut rels = files_under("c");
    rels.extend(files_under("malformed"));
    rels.extend(
        [
            "go/plugins/greeter-1.26.6-default.so",
            "go/plugins/greeter-1.21.13-default.so",
        ]
        .map(String::from),
    );
    let mut seeds: Vec<Seed> = rels
        .iter()
        .filter_map(|r| read_seed(r))
        .map(|(name, data)| elf_seed(name, data, false))
        .collect();
    let high: Vec<Seed> = seeds
        .iter()
        .filter(|s| s.data.len() < 1 << 20)
        .filter_map(|s| {
            Some(elf_seed(
                format!("{} (rebased near 2^64)", s.name),
                rebased(&s.data)?,
                false,
            ))
        })
        .collect();
    seeds.extend(high);
    seeds
}

fn go_seeds() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = GO_SEEDS
        .iter()
        .filter_map(|r| read_seed(r))
        .map(|(name, data)| elf_seed(name, data, true))
        .collect();
    if let Some(variant) = seeds.first().and_then(pointer_format_variant) {
        seeds.push(variant);
    }
    let high: Vec<Seed> = seeds
        .iter()
        .take(7)
        .filter_map(|s| {
            Some(elf_seed(
                format!("{} (rebased near 2^64)", s.name),
                rebased(&s.data)?,
                true,
            ))
        })
        .collect();
    seeds.extend(high);
    seeds
}

/// A new-format `ld.so.cache` from (key, path, flags, hwcap) rows and glibc-hwcaps names.
fn ldcache_new(rows: &[(&str, &str, u32, u64)], hwcaps: &[&str], base: usize) -> Vec<u8> {
    let table_end = 48 + rows.len() * 24;
    let mut strings = Vec::new();
    let mut add = |s: &str| -> u32 {
        let off = (table_end + strings.len()) as u32;
        strings.extend_from_slice(s.as_bytes());
        strings.push(0);
        off
    };
    let entries: Vec<(u32, u32, u32, u64)> = rows
        .iter()
        .map(|(k, p, f, h)| (*f, add(k), add(p), *h))
        .collect();
    let names: Vec<u32> = hwcaps.iter().map(|h| add(h)).collect();
    let mut out = b"glibc-ld.so.cache1.1".to_vec();
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    out.extend_from_slice(&[2, 0, 0, 0]);
    let ext_at = out.len();
    out.extend_from_slice(&[0; 16]);
    for (f, k, v, h) in entries {
        for w in [f, k, v, 0] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&h.to_le_bytes());
    }
    out.extend_from_slice(&strings);
    while !(base + out.len()).is_multiple_of(4) {
        out.push(0);
    }
    let data_at = out.len();
    for n in &names {
        out.extend_from_slice(&n.to_le_bytes());
    }
    let dir_at = out.len() as u32;
    out.extend_from_slice(&0xeaa4_2174u32.to_le_bytes());
    out.extend_from_slice(&2u32.to_le_bytes());
    // Generator section, then glibc-hwcaps.
    let generator_at = out.len() as u32 + 32;
    for w in [
        0u32,
        0,
        generator_at,
        14,
        1,
        0,
        data_at as u32,
        (names.len() * 4) as u32,
    ] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(b"ldconfig 2.36\0\0");
    out[ext_at..ext_at + 4].copy_from_slice(&dir_at.to_le_bytes());
    out
}

fn ldcache_old(rows: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut strings = Vec::new();
    let mut add = |s: &str| -> u32 {
        let off = strings.len() as u32;
        strings.extend_from_slice(s.as_bytes());
        strings.push(0);
        off
    };
    let entries: Vec<(u32, u32, u32)> = rows.iter().map(|(k, p, f)| (*f, add(k), add(p))).collect();
    let mut out = b"ld.so-1.7.0\0".to_vec();
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    for (f, k, v) in entries {
        for w in [f, k, v] {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    out.extend_from_slice(&strings);
    out
}

fn ldcache_seed(name: &str, data: Vec<u8>) -> Seed {
    let mut seed = Seed::plain(name, data);
    let d = &seed.data;
    let mut regions = Vec::new();
    let mut boundaries = vec![0, seed.data.len()];
    let new_at = if d.starts_with(b"glibc-ld.so.cache1.1") {
        Some(0)
    } else if d.starts_with(b"ld.so-1.7.0") {
        let n = read_uint(d, 12, 4, true).unwrap_or(0) as usize;
        regions.push(Region {
            start: 0,
            len: 16,
            weight: 6,
            entsize: 0,
        });
        regions.push(Region {
            start: 16,
            len: n * 12,
            weight: 6,
            entsize: 12,
        });
        boundaries.extend([16, 16 + n * 12]);
        let at = (16 + n * 12).next_multiple_of(8);
        d.get(at..)
            .is_some_and(|r| r.starts_with(b"glibc-ld.so.cache1.1"))
            .then_some(at)
    } else {
        None
    };
    if let Some(at) = new_at {
        let n = read_uint(d, at + 20, 4, true).unwrap_or(0) as usize;
        let ext = read_uint(d, at + 32, 4, true).unwrap_or(0) as usize;
        regions.push(Region {
            start: at,
            len: 48,
            weight: 8,
            entsize: 0,
        });
        regions.push(Region {
            start: at + 48,
            len: (n * 24).min(24 * 64),
            weight: 8,
            entsize: 24,
        });
        regions.push(Region {
            start: at + 48 + n * 24,
            len: 4096,
            weight: 2,
            entsize: 0,
        });
        if ext != 0 {
            regions.push(Region {
                start: at + ext,
                len: 64,
                weight: 6,
                entsize: 16,
            });
            boundaries.push(at + ext);
        }
        boundaries.extend([at, at + 48, at + 48 + n * 24]);
    }
    let len = seed.data.len();
    regions.retain(|r| r.start < len && r.len > 0);
    regions.push(Region {
        start: 0,
        len,
        weight: 1,
        entsize: 0,
    });
    boundaries.retain(|&b| b <= len);
    seed.regions = regions;
    seed.boundaries = boundaries;
    seed
}

fn ldcache_seeds() -> Vec<Seed> {
    const X86: u32 = 0x0303;
    let hw = |level: u64, index: u64| (1u64 << 62) | (level << 32) | index;
    let rows = [
        ("libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1", X86, 0),
        (
            "libx.so.1",
            "/usr/lib/glibc-hwcaps/x86-64-v3/libx.so.1",
            X86,
            hw(2, 0),
        ),
        (
            "libx.so.1",
            "/usr/lib/glibc-hwcaps/x86-64-v2/libx.so.1",
            X86,
            hw(1, 1),
        ),
        ("libx.so.1", "/usr/lib/libx.so.1", X86, 0),
        ("libm.so.6", "/libx32/libm.so.6", 0x0803, 0),
        ("libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", X86, 0),
        ("libc.so.6", "/lib32/libc.so.6", 0x0003, 0),
        ("lib10.so", "/lib/lib10.so", X86, 2),
        ("lib9.so", "/lib/lib9.so", X86, 0xf << 48),
    ];
    let old_rows: Vec<(&str, &str, u32)> = rows.iter().map(|r| (r.0, r.1, r.2)).collect();
    let mut seeds = vec![
        ldcache_seed(
            "synthetic new format",
            ldcache_new(&rows, &["x86-64-v3", "x86-64-v2"], 0),
        ),
        ldcache_seed("synthetic old format", ldcache_old(&old_rows)),
    ];
    let mut both = ldcache_old(&old_rows);
    while !both.len().is_multiple_of(8) {
        both.push(0);
    }
    let base = both.len();
    both.extend(ldcache_new(&rows, &["x86-64-v3"], base));
    seeds.push(ldcache_seed("synthetic old+new format", both));
    if let Ok(data) = std::fs::read("/etc/ld.so.cache") {
        seeds.push(ldcache_seed("/etc/ld.so.cache", data));
    }
    seeds
}

// ---------------------------------------------------------------------------
// The targets: run one input through a parser and everything that consumes its output.

fn exec_elf(data: Vec<u8>) -> bool {
    let Ok(art) = Artifact::from_vec(PathBuf::from("fuzz.so"), data) else {
        return false;
    };
    let _ = art.is_64();
    for name in [".dynstr", ".dynsym", ".text", ".go.buildinfo", ".shstrtab"] {
        let _ = art.section_data(name);
    }
    for s in art.symbols.iter().take(4096) {
        let _ = art.symbol_data(s);
    }
    for r in art.relocations.iter().take(4096) {
        let _ = art.relocation_symbol(r);
        let _ = art.read_vaddr(r.offset, 8);
    }
    let _ = art.read_vaddr(u64::MAX - 3, 8);
    let _ = serde_json::to_string(&(
        &art.identity,
        &art.dynamic,
        &art.versions,
        &art.tls,
        &art.segments,
    ));
    true
}

/// Facts of the real host and plugin the mutated plugin and host are opened with.
fn go_partners() -> &'static (Option<GoFacts>, Option<GoFacts>) {
    static PARTNERS: OnceLock<(Option<GoFacts>, Option<GoFacts>)> = OnceLock::new();
    PARTNERS.get_or_init(|| {
        let facts = |rel: &str| {
            let art = Artifact::read(&fixture_dir().join(rel)).ok()?;
            golang::read(&art)
        };
        (
            facts("go/hosts/loadhost-1.26.6-default"),
            facts("go/plugins/greeter-1.26.6-default.so"),
        )
    })
}

fn exec_golang(data: Vec<u8>) -> bool {
    let Ok(art) = Artifact::from_vec(PathBuf::from("fuzz.so"), data) else {
        return false;
    };
    let Some(facts) = golang::read(&art) else {
        return false;
    };
    let _ = facts.modinfo_text();
    let _ = facts.cgo_enabled();
    let _ = serde_json::to_string(&facts);
    let (host, plugin) = go_partners();
    if let Some(host) = host {
        let _ = golang::predict_open(host, &facts, &[]);
    }
    if let Some(plugin) = plugin {
        let _ = golang::predict_open(&facts, plugin, &[]);
        let _ = golang::predict_open_non_go(&facts, &[]);
    }
    true
}

fn exec_ldcache(data: Vec<u8>) -> bool {
    let Ok(cache) = LdCache::parse(&data) else {
        return false;
    };
    let abis = [
        CacheAbi::x86_64(vec!["x86-64-v3".into(), "x86-64-v2".into()], 1 | 2 | 4),
        CacheAbi::x86_64(Vec::new(), 1),
    ];
    let mut names: Vec<String> = [
        "libc.so.6",
        "libx.so.1",
        "lib10.so",
        "",
        "lib",
        "libz.so.1",
        "lib99999999999999999999999.so",
    ]
    .map(String::from)
    .to_vec();
    let n = cache.entries.len();
    for i in [0, n / 3, n / 2, n.saturating_sub(1)] {
        if let Some(e) = cache.entries.get(i) {
            names.push(e.key.clone());
        }
    }
    for abi in &abis {
        for name in &names {
            let _ = cache.lookup(name, abi);
        }
    }
    let _ = serde_json::to_string(&cache);
    true
}

/// The whole `inspect` pipeline on a batch of mutated files: loader emulation, findings,
/// reports. Files are written to a scratch directory (plugctl reads paths, not bytes).
fn exec_pipeline(batch: &[Vec<u8>], dir: &Path, host: Option<&Path>) -> u64 {
    let mut paths = Vec::new();
    for (i, data) in batch.iter().enumerate() {
        let p = dir.join(format!("m{i}.so"));
        std::fs::write(&p, data).expect("write scratch input");
        paths.push(p);
    }
    let options = plugctl::predict::Options {
        host: host.map(Path::to_path_buf),
        ld_library_path: Some(dir.display().to_string()),
        sysroot: None,
        lazy: false,
        mode: None,
        process: None,
    };
    if let Ok(report) = plugctl::predict::inspect(&paths, &options) {
        let detail = plugctl::report::json::Detail {
            symbols: true,
            tree: true,
        };
        let _ = plugctl::report::json::render(&report, detail);
        let _ = plugctl::report::sarif::render(&report);
        let _ =
            plugctl::report::table::render(&report, plugctl::report::Style { color: true }, detail);
        return report
            .artifacts
            .iter()
            .filter(|a| a.artifact.is_ok())
            .count() as u64;
    }
    0
}

fn exec_matrix(data: Vec<u8>) -> bool {
    let Ok(text) = String::from_utf8(data) else {
        return false;
    };
    let Ok(def) = plugctl::matrix::Definition::parse(&text, Path::new("/m"), "fuzz.toml") else {
        return false;
    };
    let _ = def.row_ids();
    let selections = [
        plugctl::matrix::Selection::default(),
        plugctl::matrix::Selection {
            go: vec!["1.26.6".into(), "1.21.13".into()],
            only: vec!["*".into()],
            skip: vec!["tag:c".into()],
            shard: Some((2, 3)),
        },
    ];
    for selection in &selections {
        let _ = def.expand(selection);
    }
    true
}

// ---------------------------------------------------------------------------
// The loop

#[derive(Default)]
struct Stats {
    inputs: u64,
    /// Inputs the parser accepted (the rest were rejected with an error).
    accepted: u64,
    elapsed: Duration,
    slowest: Duration,
    /// The input that took longest, as `<seed>@<input seed>`.
    slowest_input: String,
    peak_heap: isize,
    peak_input: String,
    crashes: BTreeMap<String, String>,
}

fn budget() -> Duration {
    let seconds = std::env::var("PLUGCTL_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(DEFAULT_SECONDS);
    Duration::from_secs_f64(seconds.max(0.0))
}

fn master_seed() -> u64 {
    std::env::var("PLUGCTL_FUZZ_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.as_nanos() as u64 ^ u64::from(std::process::id())
        })
}

fn crash_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes")
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Byte ranges where `input` differs from `seed` (the first few), for the crash report.
fn diff_summary(seed: &[u8], input: &[u8]) -> String {
    let mut ranges = Vec::new();
    let mut i = 0;
    let n = seed.len().min(input.len());
    while i < n && ranges.len() < 16 {
        if seed[i] != input[i] {
            let start = i;
            while i < n && seed[i] != input[i] {
                i += 1;
            }
            let hex: String = input[start..i.min(start + 32)]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            ranges.push(format!("  {start:#x}..{i:#x}: {hex}"));
        }
        i += 1;
    }
    format!(
        "length {} (seed {})\n{}",
        input.len(),
        seed.len(),
        ranges.join("\n")
    )
}

fn record_crash(
    target: &str,
    seed: &Seed,
    seed_index: usize,
    input_seed: u64,
    input: &[u8],
    panic: &(String, String),
) -> String {
    let dir = crash_dir();
    let _ = std::fs::create_dir_all(&dir);
    let site: String = panic
        .0
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let stem = format!("{target}-{site}-{:016x}", fnv(input));
    let bin = dir.join(format!("{stem}.bin"));
    let _ = std::fs::write(&bin, input);
    let text = format!(
        "target: {target}\nseed: #{seed_index} {}\ninput seed: {input_seed:x}\nreplay: PLUGCTL_FUZZ_REPLAY='{target}@{}@{input_seed:x}' cargo test --test fuzz {target}\npanic at {}: {}\n\nchanges from the seed: {}\n",
        seed.name,
        seed.name,
        panic.0,
        panic.1,
        diff_summary(&seed.data, input)
    );
    let _ = std::fs::write(dir.join(format!("{stem}.txt")), text);
    bin.display().to_string()
}

fn target_index(target: &str) -> usize {
    TARGETS
        .iter()
        .position(|t| *t == target)
        .expect("known target")
}

/// Runs `exec` on the seeds, then on mutants until the time budget is spent.
fn fuzz(target: &'static str, seeds: Vec<Seed>, exec: fn(Vec<u8>) -> bool) -> Stats {
    install_panic_hook();
    start_watchdog();
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let index = target_index(target);
    if let Some(stats) = replay(target, &seeds, exec) {
        return stats;
    }
    let master = master_seed();
    eprintln!(
        "fuzz {target}: {} seeds, master seed {master:x} (PLUGCTL_FUZZ_SEED)",
        seeds.len()
    );
    let mut rng = Rng(master);
    let budget = budget();
    let start = Instant::now();
    let mut stats = Stats::default();
    let weights: Vec<u32> = seeds.iter().map(|s| s.weight).collect();
    let total_weight: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    let mut n = 0u64;
    loop {
        // Each seed unmutated first, then mutants.
        let (seed_index, input_seed) = if (n as usize) < seeds.len() {
            (n as usize, None)
        } else {
            if start.elapsed() >= budget {
                break;
            }
            let mut at = rng.next() % total_weight;
            let mut chosen = 0;
            for (i, w) in weights.iter().enumerate() {
                if at < u64::from(*w) {
                    chosen = i;
                    break;
                }
                at -= u64::from(*w);
            }
            (chosen, Some(rng.next()))
        };
        n += 1;
        let seed = &seeds[seed_index];
        let input = match input_seed {
            None => seed.data.clone(),
            Some(s) => mutate(seed, &seeds, s, target),
        };
        let slot = &RUNNING_INPUTS[index];
        slot.seed.store(seed_index as u64, Ordering::Relaxed);
        slot.input.store(input_seed.unwrap_or(0), Ordering::Relaxed);
        RUNNING.with(|r| r.set((index as u64, seed_index as u64, input_seed.unwrap_or(0))));
        let t = Instant::now();
        slot.started.store(now_ms(), Ordering::Relaxed);
        LIVE.with(|l| l.set(0));
        PEAK.with(|p| p.set(0));
        CATCHING.with(|c| c.set(true));
        TRACKING.with(|t| t.set(true));
        let result = panic::catch_unwind(AssertUnwindSafe(|| exec(input)));
        stats.accepted += u64::from(matches!(result, Ok(true)));
        TRACKING.with(|t| t.set(false));
        CATCHING.with(|c| c.set(false));
        slot.started.store(0, Ordering::Relaxed);
        let took = t.elapsed();
        let peak = PEAK.with(Cell::get);
        let name = || format!("{}@{:x}", seed.name, input_seed.unwrap_or(0));
        if took > stats.slowest && result.is_ok() {
            stats.slowest = took;
            stats.slowest_input = name();
        }
        if peak > stats.peak_heap {
            stats.peak_heap = peak;
            stats.peak_input = name();
        }
        stats.inputs += 1;
        if result.is_err() {
            let panic = take_panic();
            if !stats.crashes.contains_key(&panic.0) {
                let input = match input_seed {
                    None => seed.data.clone(),
                    Some(s) => mutate(seed, &seeds, s, target),
                };
                let file = record_crash(
                    target,
                    seed,
                    seed_index,
                    input_seed.unwrap_or(0),
                    &input,
                    &panic,
                );
                let first_line = panic.1.lines().next().unwrap_or("").to_string();
                eprintln!(
                    "fuzz {target}: PANIC at {}: {first_line} (input {file})",
                    panic.0
                );
                stats
                    .crashes
                    .insert(panic.0.clone(), format!("{first_line} (input {file})"));
            }
            if stats.crashes.len() >= 20 {
                break;
            }
        }
    }
    stats.elapsed = start.elapsed();
    report(target, &stats);
    stats
}

fn report(target: &str, stats: &Stats) {
    let secs = stats.elapsed.as_secs_f64();
    eprintln!(
        "fuzz {target}: {} inputs ({} accepted) in {secs:.1} s ({:.0}/s), slowest {:?} ({}), peak heap per input {:.1} MiB ({}), {} distinct panics",
        stats.inputs,
        stats.accepted,
        stats.inputs as f64 / secs.max(1e-9),
        stats.slowest,
        stats.slowest_input,
        stats.peak_heap as f64 / (1 << 20) as f64,
        stats.peak_input,
        stats.crashes.len()
    );
}

/// `PLUGCTL_FUZZ_REPLAY=<target>@<seed name>@<input seed hex>`: rebuild and run one input.
fn replay(target: &str, seeds: &[Seed], exec: fn(Vec<u8>) -> bool) -> Option<Stats> {
    let spec = std::env::var("PLUGCTL_FUZZ_REPLAY").ok()?;
    let mut parts = spec.splitn(3, '@');
    let (t, name, input) = (parts.next()?, parts.next()?, parts.next()?);
    if t != target {
        return None;
    }
    let seed = seeds
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no seed named {name}"));
    let input_seed = u64::from_str_radix(input, 16).expect("input seed in hex");
    let data = mutate(seed, seeds, input_seed, target);
    let _ = std::fs::create_dir_all(crash_dir());
    let out = crash_dir().join(format!("replay-{target}.bin"));
    std::fs::write(&out, &data).unwrap();
    eprintln!("replaying {spec}: input written to {}", out.display());
    exec(data);
    Some(Stats {
        inputs: 1,
        ..Stats::default()
    })
}

fn assert_no_crashes(target: &str, stats: &Stats) {
    assert!(
        stats.crashes.is_empty(),
        "fuzz {target}: {} distinct panics:\n{}",
        stats.crashes.len(),
        stats
            .crashes
            .iter()
            .map(|(at, what)| format!("  {at}: {what}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn fuzz_elf() {
    let stats = fuzz("elf", elf_seeds(), exec_elf);
    assert_no_crashes("elf", &stats);
}

#[test]
fn fuzz_golang() {
    let seeds = go_seeds();
    assert!(seeds.len() >= 8, "Go seeds missing from the fixture corpus");
    let stats = fuzz("golang", seeds, exec_golang);
    assert_no_crashes("golang", &stats);
}

#[test]
fn fuzz_ldcache() {
    let stats = fuzz("ldcache", ldcache_seeds(), exec_ldcache);
    assert_no_crashes("ldcache", &stats);
}

#[test]
fn fuzz_matrix() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds: Vec<Seed> = std::fs::read_dir(root.join("matrix"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .filter_map(|e| {
            Some(Seed::plain(
                &e.path().display().to_string(),
                std::fs::read(e.path()).ok()?,
            ))
        })
        .collect();
    let stats = fuzz("matrix", seeds, exec_matrix);
    assert_no_crashes("matrix", &stats);
}

/// The pipeline target: batches of mutated small objects through `predict::inspect`, with
/// the mutants also on the library search path (so they are found as dependencies), and
/// every fifth batch against a real Go host.
#[test]
fn fuzz_pipeline() {
    install_panic_hook();
    start_watchdog();
    let seeds: Vec<Seed> = files_under("c")
        .iter()
        .chain(files_under("malformed").iter())
        .filter(|r| !r.ends_with("dlhost"))
        .filter_map(|r| read_seed(r))
        .map(|(name, data)| elf_seed(name, data, false))
        .collect();
    let scratch = tempfile::tempdir().unwrap();
    let host = fixture_dir().join("go/hosts/loadhost-1.26.6-default");
    let master = master_seed();
    eprintln!(
        "fuzz pipeline: {} seeds, master seed {master:x} (PLUGCTL_FUZZ_SEED)",
        seeds.len()
    );
    let mut rng = Rng(master);
    let budget = budget();
    let start = Instant::now();
    let mut stats = Stats::default();
    let index = target_index("pipeline");
    let mut batches = 0u64;
    while batches == 0 || start.elapsed() < budget {
        batches += 1;
        let picks: Vec<(usize, u64)> = (0..16)
            .map(|_| (rng.below(seeds.len()), rng.next()))
            .collect();
        let batch: Vec<Vec<u8>> = picks
            .iter()
            .map(|&(i, s)| mutate(&seeds[i], &seeds, s, "pipeline"))
            .collect();
        let with_host = batches.is_multiple_of(5);
        let slot = &RUNNING_INPUTS[index];
        slot.seed.store(picks[0].0 as u64, Ordering::Relaxed);
        slot.input.store(picks[0].1, Ordering::Relaxed);
        let t = Instant::now();
        slot.started.store(now_ms(), Ordering::Relaxed);
        CATCHING.with(|c| c.set(true));
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            exec_pipeline(&batch, scratch.path(), with_host.then_some(host.as_path()))
        }));
        stats.accepted += result.as_ref().copied().unwrap_or(0);
        CATCHING.with(|c| c.set(false));
        slot.started.store(0, Ordering::Relaxed);
        stats.slowest = stats.slowest.max(t.elapsed());
        stats.inputs += batch.len() as u64;
        if result.is_err() {
            let panic = take_panic();
            if !stats.crashes.contains_key(&panic.0) {
                let dir = crash_dir().join(format!("pipeline-{:016x}", fnv(&batch.concat())));
                let _ = std::fs::create_dir_all(&dir);
                for (i, data) in batch.iter().enumerate() {
                    let _ = std::fs::write(dir.join(format!("m{i}.so")), data);
                }
                let _ = std::fs::write(
                    dir.join("panic.txt"),
                    format!(
                        "panic at {}: {}\nhost: {}\n",
                        panic.0,
                        panic.1,
                        if with_host {
                            host.display().to_string()
                        } else {
                            "none".into()
                        }
                    ),
                );
                let first_line = panic.1.lines().next().unwrap_or("").to_string();
                eprintln!(
                    "fuzz pipeline: PANIC at {}: {first_line} (batch in {})",
                    panic.0,
                    dir.display()
                );
                stats.crashes.insert(
                    panic.0.clone(),
                    format!("{first_line} (batch in {})", dir.display()),
                );
            }
            if stats.crashes.len() >= 20 {
                break;
            }
        }
    }
    stats.elapsed = start.elapsed();
    report("pipeline", &stats);
    assert_no_crashes("pipeline", &stats);
}

// ---------------------------------------------------------------------------
// Regressions: inputs that once crashed a parser, one test each. The fuzzer's crashing
// inputs are multi-megabyte Go binaries; each bug is pinned instead by a minimal ELF
// built here (`recipe`) and committed as `tests/fixtures/regressions/<name>.bin`, so the
// bytes can be fed to any tool (`plugctl inspect`, a libFuzzer corpus). The test checks
// that the file still matches its recipe (`PLUGCTL_BLESS=1` rewrites it), runs the
// target's parser on it, then the whole `inspect` pipeline.

/// One section of a [`mini_elf`]: name, type, flags, file offset (= address - base),
/// contents, `sh_link`, `sh_entsize`.
struct Part {
    name: &'static str,
    kind: u32,
    flags: u64,
    offset: usize,
    data: Vec<u8>,
    link: u32,
    entsize: u64,
}

const SHF_WRITE_ALLOC: u64 = 3;

/// A small ELF64 little-endian x86-64 shared object: the ELF header, program headers
/// (one `PT_LOAD` from file offset 0 mapped at `base`, `PT_DYNAMIC` when there is a
/// `.dynamic` part, then `extra` rows of (type, offset, vaddr, filesz, memsz, flags)),
/// the parts at their offsets, `.shstrtab`, and the section headers.
fn mini_elf(base: u64, parts: &[Part], extra: &[[u64; 6]]) -> Vec<u8> {
    let alloc_end = parts
        .iter()
        .map(|p| p.offset + p.data.len())
        .max()
        .unwrap_or(0)
        .max(0x1000);
    let mut out = vec![0u8; alloc_end];
    for p in parts {
        out[p.offset..p.offset + p.data.len()].copy_from_slice(&p.data);
    }
    let dynamic = parts.iter().find(|p| p.name == ".dynamic");
    let mut phdrs = vec![[1, 0, base, alloc_end as u64, alloc_end as u64, 6]];
    if let Some(d) = dynamic {
        phdrs.push([
            2,
            d.offset as u64,
            base.wrapping_add(d.offset as u64),
            d.data.len() as u64,
            d.data.len() as u64,
            6,
        ]);
    }
    phdrs.extend_from_slice(extra);
    let mut shstrtab = vec![0u8];
    let mut names = Vec::new();
    for name in parts.iter().map(|p| p.name).chain([".shstrtab"]) {
        names.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(name.as_bytes());
        shstrtab.push(0);
    }
    let shstrtab_at = out.len();
    out.extend_from_slice(&shstrtab);
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let shoff = out.len();
    out.extend_from_slice(&[0u8; 64]);
    let mut shdr = |name: u32,
                    kind: u32,
                    flags: u64,
                    addr: u64,
                    offset: u64,
                    size: u64,
                    link: u32,
                    entsize: u64| {
        for (v, w) in [
            (name as u64, 4),
            (kind as u64, 4),
            (flags, 8),
            (addr, 8),
            (offset, 8),
            (size, 8),
            (link as u64, 4),
            (0, 4),
            (8, 8),
            (entsize, 8),
        ] {
            out.extend_from_slice(&v.to_le_bytes()[..w]);
        }
    };
    for (p, name) in parts.iter().zip(&names) {
        let addr = if p.flags & 2 != 0 {
            base.wrapping_add(p.offset as u64)
        } else {
            0
        };
        shdr(
            *name,
            p.kind,
            p.flags,
            addr,
            p.offset as u64,
            p.data.len() as u64,
            p.link,
            p.entsize,
        );
    }
    shdr(
        names[parts.len()],
        3,
        0,
        0,
        shstrtab_at as u64,
        shstrtab.len() as u64,
        0,
        0,
    );
    let mut header = Vec::with_capacity(64);
    header.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    for (v, w) in [
        (3u64, 2),
        (62, 2),
        (1, 4),
        (0, 8),
        (64, 8),
        (shoff as u64, 8),
        (0, 4),
        (64, 2),
        (56, 2),
        (phdrs.len() as u64, 2),
        (64, 2),
        (parts.len() as u64 + 2, 2),
        (parts.len() as u64 + 1, 2),
    ] {
        header.extend_from_slice(&v.to_le_bytes()[..w]);
    }
    out[..64].copy_from_slice(&header);
    for (i, [kind, offset, vaddr, filesz, memsz, flags]) in phdrs.iter().enumerate() {
        let at = 64 + i * 56;
        assert!(
            at + 56 <= 0x1000 && parts.iter().all(|p| p.offset >= 0x400),
            "program headers overlap a part"
        );
        let mut row = Vec::new();
        for (v, w) in [
            (*kind, 4),
            (*flags, 4),
            (*offset, 8),
            (*vaddr, 8),
            (*vaddr, 8),
            (*filesz, 8),
            (*memsz, 8),
            (0x1000, 8),
        ] {
            row.extend_from_slice(&v.to_le_bytes()[..w]);
        }
        out[at..at + 56].copy_from_slice(&row);
    }
    out
}

fn words(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// `.dynsym` and `.dynstr` for (name, value) pairs of defined global objects.
fn dynsym(symbols: &[(&str, u64)]) -> (Vec<u8>, Vec<u8>) {
    let mut strtab = vec![0u8];
    let mut table = vec![0u8; 24];
    for (name, value) in symbols {
        let at = strtab.len() as u32;
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
        table.extend_from_slice(&at.to_le_bytes());
        table.extend_from_slice(&[0x11, 0]); // STB_GLOBAL, STT_OBJECT
        table.extend_from_slice(&1u16.to_le_bytes()); // defined (section 1)
        table.extend_from_slice(&value.to_le_bytes());
        table.extend_from_slice(&8u64.to_le_bytes());
    }
    (table, strtab)
}

/// A Go 1.18+ build info blob (inline strings) for a `-buildmode=plugin` binary.
fn go_buildinfo(version: &str) -> Vec<u8> {
    let text = "path\texample.com/p\nmod\texample.com/p\t(devel)\t\nbuild\t-buildmode=plugin\nbuild\tCGO_ENABLED=1\n";
    let modinfo = [&[0x30u8; 16][..], text.as_bytes(), &[0x31u8; 16][..]].concat();
    let mut out = b"\xff Go buildinf:\x08\x02".to_vec();
    out.resize(32, 0);
    for s in [version.as_bytes(), &modinfo[..]] {
        out.push(s.len() as u8); // both shorter than 128 bytes: a one-byte varint
        out.extend_from_slice(s);
    }
    out
}

fn part(name: &'static str, kind: u32, flags: u64, offset: usize, data: Vec<u8>) -> Part {
    Part {
        name,
        kind,
        flags,
        offset,
        data,
        link: 0,
        entsize: 0,
    }
}

/// The bytes each regression file must hold.
fn recipe(file: &str) -> Vec<u8> {
    match file {
        // A PT_LOAD whose p_offset is near 2^64: mapping the DT_STRTAB address to a file
        // offset overflowed in `elf::vaddr_to_offset`.
        "elf-load-offset-near-2-64.bin" => {
            let (syms, strs) = dynsym(&[("x", 0)]);
            let dynamic = words(&[5, 0x1800, 10, 0x10, 1, 1, 0, 0]); // STRTAB, STRSZ, NEEDED
            let mut elf = mini_elf(
                0,
                &[
                    Part {
                        link: 2,
                        entsize: 24,
                        ..part(".dynsym", 11, 2, 0x1000, syms)
                    },
                    part(".dynstr", 3, 2, 0x1800, strs),
                    Part {
                        link: 2,
                        entsize: 16,
                        ..part(".dynamic", 6, SHF_WRITE_ALLOC, 0x1c00, dynamic)
                    },
                ],
                &[],
            );
            // The PT_LOAD now claims its bytes start 4 KiB before the end of the 64-bit range.
            elf[64 + 8..64 + 16].copy_from_slice(&(u64::MAX - 0xfff).to_le_bytes());
            elf
        }
        // A PT_LOAD whose p_filesz is near 2^64: describing where the truncated segment
        // ends overflowed in the loader's SIGBUS prediction.
        "loader-load-filesz-near-2-64.bin" => {
            let mut elf = mini_elf(
                0,
                &[
                    part(".data", 1, SHF_WRITE_ALLOC, 0x1000, vec![1; 64]),
                    part(".dynamic", 6, SHF_WRITE_ALLOC, 0x1800, words(&[0, 0])),
                ],
                &[],
            );
            // p_offset 0x1000, p_vaddr 0 (page-congruent), p_filesz 2^64 - 0x800.
            elf[64 + 8..64 + 16].copy_from_slice(&0x1000u64.to_le_bytes());
            elf[64 + 32..64 + 40].copy_from_slice(&(u64::MAX - 0x800).to_le_bytes());
            elf
        }
        // A Go plugin whose moduledata `pkghashes` slice points 32 bytes below 2^64, with a
        // dynamic relocation up there: the table bounds `start + n * 5 * p` overflowed
        // (found by the fuzzer on a mutated greeter-1.26.6-ldflags-sw.so).
        "golang-pkghashes-near-2-64.bin" => {
            let (syms, strs) = dynsym(&[("go:link.pkghash.main", 0x3000)]);
            let mut module = vec![0u64; 74];
            module[56..59].copy_from_slice(&[u64::MAX - 31, 1, 1]); // pkghashes ptr, len, cap
            let rela = words(&[u64::MAX - 15, (1 << 32) | 1, 0]); // R_X86_64_64 against symbol 1
            mini_elf(
                0,
                &[
                    Part {
                        link: 2,
                        entsize: 24,
                        ..part(".dynsym", 11, 2, 0x1000, syms)
                    },
                    part(".dynstr", 3, 2, 0x1800, strs),
                    Part {
                        link: 1,
                        entsize: 24,
                        ..part(".rela.dyn", 4, 2, 0x1c00, rela)
                    },
                    part(
                        ".go.buildinfo",
                        1,
                        SHF_WRITE_ALLOC,
                        0x2000,
                        go_buildinfo("go1.26.6"),
                    ),
                    part(".go.module", 1, SHF_WRITE_ALLOC, 0x3000, words(&module)),
                ],
                &[],
            )
        }
        // A Go binary loaded at the top of the address space whose
        // `type:runtime.moduledata` is the last word of its segment: reading the
        // descriptor's kind byte at `addr + 2 * p + 7` overflowed.
        "golang-type-descriptor-near-2-64.bin" => {
            // The image ends exactly at 2^64; the descriptor's size word is its last word.
            let base = 0u64.wrapping_sub(0x2000);
            let (syms, strs) = dynsym(&[("type:runtime.moduledata", u64::MAX - 7)]);
            mini_elf(
                base,
                &[
                    Part {
                        link: 2,
                        entsize: 24,
                        ..part(".dynsym", 11, 2, 0x1000, syms)
                    },
                    part(".dynstr", 3, 2, 0x1400, strs),
                    part(
                        ".go.buildinfo",
                        1,
                        SHF_WRITE_ALLOC,
                        0x1800,
                        go_buildinfo("go1.26.6"),
                    ),
                    part(".data", 1, SHF_WRITE_ALLOC, 0x1ff8, words(&[600])),
                ],
                &[],
            )
        }
        // `.go.buildinfo` at the last 16-byte slot below 2^64: the address of the strings
        // after the 32-byte header overflowed.
        "golang-buildinfo-near-2-64.bin" => {
            // The segment starts 0x1010 bytes below 2^64 and runs past it; the blob is at
            // 2^64 - 16, and its strings would start at 2^64 + 16.
            mini_elf(
                0u64.wrapping_sub(0x1010),
                &[part(
                    ".go.buildinfo",
                    1,
                    SHF_WRITE_ALLOC,
                    0x1000,
                    go_buildinfo("go1.26.6"),
                )],
                &[],
            )
        }
        other => panic!("no recipe for {other}"),
    }
}

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/regressions")
}

fn regression(file: &str, exec: fn(Vec<u8>) -> bool) {
    let path = regressions_dir().join(file);
    let want = recipe(file);
    if std::env::var_os("PLUGCTL_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(regressions_dir()).unwrap();
        std::fs::write(&path, &want).unwrap();
    }
    let data = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (PLUGCTL_BLESS=1 writes it)", path.display()));
    assert!(
        data == want,
        "{file} differs from its recipe (PLUGCTL_BLESS=1 rewrites it)"
    );
    exec(data);
    let options = plugctl::predict::Options {
        host: None,
        ld_library_path: None,
        sysroot: None,
        lazy: false,
        mode: None,
        process: None,
    };
    let report =
        plugctl::predict::inspect(std::slice::from_ref(&path), &options).expect("inspect runs");
    let detail = plugctl::report::json::Detail {
        symbols: true,
        tree: true,
    };
    let _ = plugctl::report::json::render(&report, detail);
    let _ =
        plugctl::report::table::render(&report, plugctl::report::Style { color: false }, detail);
}

#[test]
fn regression_elf_load_offset_near_2_64() {
    regression("elf-load-offset-near-2-64.bin", exec_elf);
}

#[test]
fn regression_loader_load_filesz_near_2_64() {
    regression("loader-load-filesz-near-2-64.bin", exec_elf);
}

#[test]
fn regression_golang_pkghashes_near_2_64() {
    regression("golang-pkghashes-near-2-64.bin", exec_golang);
}

#[test]
fn regression_golang_type_descriptor_near_2_64() {
    regression("golang-type-descriptor-near-2-64.bin", exec_golang);
}

#[test]
fn regression_golang_buildinfo_near_2_64() {
    regression("golang-buildinfo-near-2-64.bin", exec_golang);
}

#[test]
fn all_regression_files_have_a_test() {
    let source = include_str!("fuzz.rs");
    for entry in std::fs::read_dir(regressions_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".bin") {
            assert!(
                source.contains(&format!("regression(\"{name}\"")),
                "{name} has no regression test in tests/fuzz.rs"
            );
        }
    }
}
