//! The loader's environment: everything outside the artifacts that decides how
//! `dlopen` goes — search paths, `ld.so.cache`, the glibc in use, CPU-dependent
//! subdirectories and the static TLS surplus.
//!
//! # Static TLS model (glibc 2.36, x86-64)
//!
//! At start-up ld.so lays out the TLS blocks of the executable and of every library
//! loaded with it (`_dl_determine_tlsoffset`, in module-ID order, i.e. load order), then
//! reserves a *surplus* for objects loaded later:
//!
//! ```text
//! surplus = (nns - 1) * 144 + nns * 144 + optional_static_tls + 144
//!         = 1664 bytes with the defaults nns = 4, optional_static_tls = 512
//! static_size = roundup(used_at_startup + surplus, max_align) + TLS_TCB_SIZE
//! ```
//!
//! (`elf/dl-tls.c`: `LIBC_IE_TLS` = `OTHER_IE_TLS` = 144, `LEGACY_TLS` = 144;
//! `GLIBC_TUNABLES=glibc.rtld.nns=N:glibc.rtld.optional_static_tls=M` change it, nns is
//! clamped to 1..=16.) A dlopened object whose relocations use the initial-exec model
//! (`R_X86_64_TPOFF64`) gets its block carved from what is left (`_dl_try_allocate_static_tls`,
//! aligned, counting the block's first-byte offset); when it does not fit, dlopen fails with
//! `<path>: cannot allocate memory in static TLS block`. TLS descriptors (`R_X86_64_TLSDESC`)
//! use static TLS only while the *optional* part (512 bytes) lasts, and fall back to dynamic
//! TLS silently.
//!
//! The block taken is `size + first-byte offset`, plus padding to the block's alignment
//! counted from the top of the free area: a 256-byte block aligned to 32 takes 272 bytes
//! first, 256 after. Which object the block belongs to is decided by symbol lookup: the
//! TPOFF relocation's symbol binds to the first definition in scope, and only that
//! object needs a static block (one allocated at start-up costs nothing).
//!
//! Measured on this machine (Debian 12, glibc 2.36, `agreement.rs`), all predicted
//! exactly:
//! - a C host linked with libc only (libc's block: 144 bytes, align 8) has 1712 bytes free
//!   after start-up (`roundup(144 + 1664, 64) - 144`): six 256-byte initial-exec libraries
//!   load, the seventh fails; with `glibc.rtld.nns=1` three load; with
//!   `optional_static_tls=1024` all eight; a 64 KiB block needs `optional_static_tls=64512`
//!   (64000 fails); a sweep of `optional_static_tls` = 512..768 agreed at every step;
//! - a Go plugin (8-byte block, `R_X86_64_TPOFF64` against `runtime.tlsg`) in a C host
//!   binds that symbol to itself and takes 8 bytes: six 285-byte align-1 blocks fit
//!   alone, only five after the Go plugin;
//! - in a Go host the plugin's `runtime.tlsg` binds to the executable's (allocated at
//!   start-up), so Go plugins take no surplus at all (`LD_DEBUG=bindings` shows it);
//! - a library with 64 KiB of initial-exec TLS loads fine when linked into the host or
//!   `LD_PRELOAD`ed (start-up layout), and the 1664-byte surplus is still there after it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::fs::FileId;
use super::ldcache::{CacheAbi, LdCache};
use crate::elf::{Arch, Artifact};

/// The interpreter of x86-64 glibc programs.
pub const X86_64_INTERP: &str = crate::elf::arch::X86_64.interpreter;

/// The static TLS parameters of `_dl_tls_static_surplus_init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StaticTlsConfig {
    /// `glibc.rtld.nns`: namespaces to reserve libc IE TLS for (1..=16, default 4).
    pub nns: u64,
    /// `glibc.rtld.optional_static_tls`: surplus usable for TLS descriptors (default 512).
    pub optional: u64,
    /// Total surplus reserved at start-up, in bytes.
    pub surplus: u64,
}

impl Default for StaticTlsConfig {
    fn default() -> Self {
        StaticTlsConfig::new(4, 512)
    }
}

impl StaticTlsConfig {
    pub fn new(nns: u64, optional: u64) -> Self {
        const LIBC_IE_TLS: u64 = 144;
        const OTHER_IE_TLS: u64 = 144;
        const LEGACY_TLS: u64 = 1664 - (3 * LIBC_IE_TLS + 4 * OTHER_IE_TLS + 512);
        let nns = nns.clamp(1, 16);
        let surplus = (nns - 1) * LIBC_IE_TLS + nns * OTHER_IE_TLS + optional + LEGACY_TLS;
        StaticTlsConfig {
            nns,
            optional,
            surplus,
        }
    }

    /// Reads `glibc.rtld.nns` and `glibc.rtld.optional_static_tls` from a
    /// `GLIBC_TUNABLES` value the way `parse_tunables` does: `name=value` pairs separated
    /// by `:`, numbers as `_dl_strtoul` reads them, out-of-range values ignored.
    pub fn from_tunables(tunables: Option<&str>) -> Self {
        let (mut nns, mut optional) = (4u64, 512u64);
        for pair in tunables.unwrap_or("").split(':') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let Some(value) = strtoul(value) else {
                continue;
            };
            match name {
                "glibc.rtld.nns" if (1..=16).contains(&value) => nns = value,
                "glibc.rtld.optional_static_tls" => optional = value,
                _ => {}
            }
        }
        StaticTlsConfig::new(nns, optional)
    }
}

/// `_dl_strtoul`: optional blanks and sign, `0x` hex, leading-`0` octal, else decimal;
/// stops at the first bad digit. `None` on overflow (the tunable is then out of range).
fn strtoul(text: &str) -> Option<u64> {
    let text = text.trim_start_matches([' ', '\t']);
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return Some(0);
    }
    let (base, digits) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (16, hex)
        } else if text.len() > 1 && text.starts_with('0') {
            (8, &text[1..])
        } else {
            (10, text)
        };
    let mut value: u64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(base) else { break };
        value = value
            .checked_mul(u64::from(base))?
            .checked_add(u64::from(d))?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// `bytes` of the file at `path` decoded, with the file's id, for [`Environment::read_ahead`].
fn decoded(path: PathBuf, bytes: crate::elf::Bytes) -> Option<(FileId, Arc<Artifact>)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&path).ok()?;
    let artifact = Artifact::from_bytes(path, bytes).ok()?;
    Some(((meta.dev(), meta.ino()), Arc::new(artifact)))
}

/// Everything about the target process's loader that is not in the artifacts.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// The target architecture whose ld.so is emulated (the host's, else the plugin's).
    pub arch: &'static Arch,
    /// The target is not this machine's architecture and no sysroot was given: its
    /// libraries are not available, and library-level checks assume they are present.
    pub assume_libraries: bool,
    /// Absolute paths (and the cache) are read under this directory.
    pub sysroot: Option<PathBuf>,
    /// The directory relative paths are taken from (the process's working directory).
    pub cwd: PathBuf,
    /// `LD_LIBRARY_PATH`, as given (split on `:` and `;` by ld.so).
    pub ld_library_path: Option<String>,
    /// `LD_PRELOAD`, as given (split on spaces and `:`).
    pub ld_preload: Option<String>,
    /// The names listed in `/etc/ld.so.preload` (read under the sysroot), comments removed.
    pub preload_file: Vec<String>,
    /// `LD_BIND_NOW` is set: `RTLD_LAZY` behaves like `RTLD_NOW`.
    pub bind_now: bool,
    /// `GLIBC_TUNABLES`, as given.
    pub glibc_tunables: Option<String>,
    pub static_tls: StaticTlsConfig,
    /// The program interpreter (ld.so) of the modelled host.
    pub interpreter: String,
    /// ld.so's built-in search path (`SYSTEM_DIRS`), read from the interpreter.
    pub system_dirs: Vec<String>,
    /// Where they came from (`"read from /lib64/ld-linux-x86-64.so.2"`, or a fallback).
    pub system_dirs_source: String,
    /// Active `glibc-hwcaps` subdirectories, most preferred first (`x86-64-v3`, `x86-64-v2`).
    pub hwcaps_subdirs: Vec<String>,
    /// Legacy hwcap subdirectories searched before each directory (glibc < 2.37), in
    /// ld.so's order, e.g. `tls/x86_64/x86_64`.
    pub legacy_subdirs: Vec<String>,
    /// `$PLATFORM`.
    pub platform: String,
    /// `$LIB`.
    pub lib: String,
    /// x86 ISA level bits this CPU has (1 baseline, 2 v2, 4 v3, 8 v4).
    pub isa_1: u32,
    /// `/etc/ld.so.cache` (read under the sysroot).
    pub cache_path: String,
    /// How the cache read went: `"594 entries (glibc-ld.so.cache1.1)"` or the reason it is not used.
    pub cache_status: String,
    #[serde(skip)]
    pub cache: Option<Arc<LdCache>>,
    pub cache_abi: CacheAbi,
    /// The libc.so.6 the host would use, and its version (highest `GLIBC_x.y` it defines).
    pub libc_path: Option<String>,
    pub glibc_version: Option<String>,
    /// Things that could not be determined; defaults were used.
    pub problems: Vec<String>,
    /// The interpreter and libc.so.6, decoded on the thread that detects the environment
    /// while the inputs are read on another: every run's loader needs both. By file id,
    /// so the loader takes them only for the very files it finds itself.
    #[serde(skip)]
    pub read_ahead: Vec<(FileId, Arc<Artifact>)>,
}

/// What the loader reads from the process it runs in: the working directory and the
/// environment (`LD_LIBRARY_PATH`, `LD_PRELOAD`, `LD_BIND_NOW`, `GLIBC_TUNABLES`).
#[derive(Debug, Clone, Default)]
pub struct ProcessEnv {
    pub cwd: PathBuf,
    pub vars: Vec<(String, String)>,
}

impl ProcessEnv {
    /// The variables ld.so's model reads.
    pub const LOADER_VARS: &[&str] = &[
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "LD_BIND_NOW",
        "GLIBC_TUNABLES",
    ];

    /// The value of `name`; the last one set wins.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Environment {
    /// Reads this machine's (or the sysroot's) loader environment. `LD_LIBRARY_PATH`,
    /// `GLIBC_TUNABLES` and `LD_BIND_NOW` come from the process environment unless
    /// `ld_library_path` is given.
    pub fn detect(ld_library_path: Option<String>, sysroot: Option<PathBuf>) -> Environment {
        Environment::detect_for(ld_library_path, sysroot, Arch::native())
    }

    /// Like [`Environment::detect`], for a target of architecture `arch`.
    pub fn detect_for(
        ld_library_path: Option<String>,
        sysroot: Option<PathBuf>,
        arch: &'static Arch,
    ) -> Environment {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let this = ProcessEnv {
            cwd,
            vars: ProcessEnv::LOADER_VARS
                .iter()
                .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
                .collect(),
        };
        Environment::of_process(&this, ld_library_path, sysroot, arch)
    }

    /// Like [`Environment::detect_for`], for a process `process` (another working
    /// directory, another environment) instead of this one.
    pub fn of_process(
        process: &ProcessEnv,
        ld_library_path: Option<String>,
        sysroot: Option<PathBuf>,
        arch: &'static Arch,
    ) -> Environment {
        let var = |name: &str| process.var(name).map(str::to_string);
        let ld_library_path = ld_library_path.or_else(|| var("LD_LIBRARY_PATH"));
        let bind_now = var("LD_BIND_NOW").is_some_and(|v| !v.is_empty());
        let mut env = Environment::build_for(
            ld_library_path,
            sysroot,
            process.cwd.clone(),
            var("GLIBC_TUNABLES"),
            bind_now,
            arch,
        );
        env.ld_preload = var("LD_PRELOAD").filter(|v| !v.is_empty());
        env
    }

    /// Like [`Environment::detect`] with every input explicit (tests, reproducible runs).
    pub fn build(
        ld_library_path: Option<String>,
        sysroot: Option<PathBuf>,
        cwd: PathBuf,
        glibc_tunables: Option<String>,
        bind_now: bool,
    ) -> Environment {
        Environment::build_for(
            ld_library_path,
            sysroot,
            cwd,
            glibc_tunables,
            bind_now,
            Arch::native(),
        )
    }

    /// Like [`Environment::build`], for a target of architecture `arch`: interpreter,
    /// system directories, cache flags, `$PLATFORM`/`$LIB` and libc are the target's.
    /// A foreign target's CPU is unknown: no glibc-hwcaps subdirectories are assumed.
    pub fn build_for(
        ld_library_path: Option<String>,
        sysroot: Option<PathBuf>,
        cwd: PathBuf,
        glibc_tunables: Option<String>,
        bind_now: bool,
        arch: &'static Arch,
    ) -> Environment {
        let mut problems = Vec::new();
        let native = std::ptr::eq(arch, Arch::native()) || arch.goarch == Arch::native().goarch;
        // A foreign target this machine can still run (i386 on x86-64 with its ld.so
        // installed) uses this root; otherwise, without a sysroot, its files are absent.
        let assume_libraries =
            !native && sysroot.is_none() && !Path::new(arch.interpreter).exists();
        let fs = super::fs::Fs::new(sysroot.clone(), cwd.clone(), arch);
        let under = move |p: &str| fs.locate(p).unwrap_or_else(|_| PathBuf::from(p));
        let interpreter = arch.interpreter.to_string();
        let mut read_ahead = Vec::new();
        let interpreter_path = under(&interpreter);
        let (system_dirs, system_dirs_source) = match crate::elf::map_file(&interpreter_path) {
            Ok(bytes) => match system_dirs_in(bytes.as_slice()) {
                Some(dirs) => {
                    read_ahead.extend(decoded(interpreter_path, bytes));
                    (dirs, format!("read from {interpreter}"))
                }
                None => {
                    problems.push(format!("no SYSTEM_DIRS string found in {interpreter}"));
                    (fallback_dirs(arch), "fallback".to_string())
                }
            },
            Err(_) if assume_libraries => (fallback_dirs(arch), "fallback".to_string()),
            Err(e) => {
                problems.push(format!("cannot read {interpreter}: {e}"));
                (fallback_dirs(arch), "fallback".to_string())
            }
        };
        let is_x86_64 = arch.machine == crate::elf::arch::X86_64.machine;
        let isa_1 = if native && is_x86_64 {
            cpu_isa_levels()
        } else {
            1
        };
        let hwcaps_subdirs: Vec<String> = if is_x86_64 {
            [(8, "x86-64-v4"), (4, "x86-64-v3"), (2, "x86-64-v2")]
                .iter()
                .filter(|(bit, _)| isa_1 & bit != 0)
                .map(|(_, name)| name.to_string())
                .collect()
        } else {
            Vec::new()
        };
        let cache_abi = CacheAbi::for_arch(arch, hwcaps_subdirs.clone(), isa_1);
        let cache_path = "/etc/ld.so.cache".to_string();
        let (cache, cache_status) = match crate::elf::map_file(&under(&cache_path)) {
            Ok(bytes) => match LdCache::parse(bytes.as_slice()) {
                Ok(cache) => {
                    let status = format!(
                        "{} entries ({})",
                        cache.entries.len(),
                        cache.format.as_str()
                    );
                    (Some(Arc::new(cache)), status)
                }
                Err(e) => (None, format!("not used: {e}")),
            },
            Err(e) => (None, format!("not used: {e}")),
        };
        let preload_file = std::fs::read(under("/etc/ld.so.preload"))
            .map(|bytes| parse_preload_file(&String::from_utf8_lossy(&bytes)))
            .unwrap_or_default();
        let mut env = Environment {
            arch,
            assume_libraries,
            sysroot,
            cwd,
            ld_library_path,
            ld_preload: None,
            preload_file,
            bind_now,
            static_tls: StaticTlsConfig::from_tunables(glibc_tunables.as_deref()),
            glibc_tunables,
            interpreter,
            system_dirs,
            system_dirs_source,
            hwcaps_subdirs,
            legacy_subdirs: Vec::new(),
            platform: arch.platform.to_string(),
            lib: String::new(),
            isa_1,
            cache_path,
            cache_status,
            cache,
            cache_abi,
            libc_path: None,
            glibc_version: None,
            problems,
            read_ahead,
        };
        // $LIB is the first system directory without its leading slash (Debian:
        // "lib/x86_64-linux-gnu"; others "lib64").
        env.lib = env
            .system_dirs
            .first()
            .map(|d| d.trim_start_matches('/').to_string())
            .unwrap_or_default();
        if env.assume_libraries {
            env.problems.push(format!(
                "{} target without --sysroot: its libraries are not on this machine",
                arch.name
            ));
        } else {
            env.detect_libc(&under);
        }
        if env.glibc_older_than(2, 37) {
            env.legacy_subdirs = if is_x86_64 {
                legacy_subdirs(&env.platform, native && avx512_1_usable())
            } else {
                // Other arches: no hwcap bit is assumed for an unknown CPU.
                vec!["tls".to_string()]
            };
        }
        env
    }

    fn detect_libc(&mut self, under: &dyn Fn(&str) -> PathBuf) {
        let from_cache = self
            .cache
            .as_ref()
            .and_then(|c| c.lookup("libc.so.6", &self.cache_abi))
            .map(str::to_string);
        let candidates = from_cache
            .into_iter()
            .chain(self.system_dirs.iter().map(|d| format!("{d}/libc.so.6")));
        for candidate in candidates {
            let path = under(&candidate);
            // One mapping for the header, the versions and the read-ahead (regular files
            // only: `map_file` refuses a FIFO before opening it).
            let Ok(bytes) = crate::elf::map_file(&path) else {
                continue;
            };
            if Arch::from_header(bytes.as_slice()).is_none_or(|a| a.name != self.arch.name) {
                continue;
            }
            let Some(defined) = crate::elf::defined_versions(bytes.as_slice()) else {
                continue;
            };
            self.read_ahead.extend(decoded(path, bytes));
            self.glibc_version = defined
                .iter()
                .filter_map(|v| v.strip_prefix("GLIBC_"))
                .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                .max_by_key(|v| crate::elf::parse_dotted(v))
                .map(str::to_string);
            self.libc_path = Some(candidate);
            return;
        }
        self.problems.push(format!(
            "no {} libc.so.6 found: glibc version unknown",
            self.arch.name
        ));
    }

    /// What the prediction assumes about a target whose files are not here, in words
    /// (for `basis`); `None` when the target's own files were read.
    pub fn assumption(&self) -> Option<String> {
        self.assume_libraries.then(|| {
            let cross = format!("/usr/{}", self.arch.triplet);
            let hint = if Path::new(&cross).join("lib/libc.so.6").exists() {
                format!(" (a cross sysroot is installed here: --sysroot {cross})")
            } else {
                String::new()
            };
            format!(
                "assumption: {} target, no --sysroot: its shared libraries (glibc and every DT_NEEDED \
                 not next to the inputs) are assumed present with the symbols and versions required; \
                 only the inputs' own headers and the Go runtime checks are verified; pass --sysroot \
                 DIR with the target's root file system to check the libraries{hint}",
                self.arch.name
            )
        })
    }

    /// True when the detected glibc is older than `major.minor` (false when unknown).
    pub fn glibc_older_than(&self, major: u32, minor: u32) -> bool {
        self.glibc_version
            .as_deref()
            .is_some_and(|v| crate::elf::parse_dotted(v) < vec![major, minor])
    }

    /// glibc 2.41 and later refuse to make the stack executable for a dlopened object.
    pub fn refuses_exec_stack(&self) -> bool {
        self.glibc_version.is_some() && !self.glibc_older_than(2, 41)
    }

    /// Objects ld.so preloads, in its order: `LD_PRELOAD` (split on spaces and `:`), then
    /// `/etc/ld.so.preload`; each with where it came from.
    pub fn preloads(&self) -> Vec<(String, &'static str)> {
        let env = self
            .ld_preload
            .as_deref()
            .unwrap_or("")
            .split([' ', ':'])
            .filter(|s| !s.is_empty());
        let file = self.preload_file.iter().map(String::as_str);
        env.map(|n| (n.to_string(), "LD_PRELOAD"))
            .chain(file.map(|n| (n.to_string(), "/etc/ld.so.preload")))
            .collect()
    }

    /// `LD_LIBRARY_PATH` split as `_dl_init_paths` splits it (on `:` and `;`), before
    /// `$ORIGIN`-style expansion; empty elements (the current directory) kept.
    pub fn ld_library_path_dirs(&self) -> Vec<String> {
        match self.ld_library_path.as_deref() {
            None | Some("") => Vec::new(),
            Some(llp) => llp.split([':', ';']).map(str::to_string).collect(),
        }
    }
}

/// `/etc/ld.so.preload`: names separated by blanks, newlines or `:`; `#` starts a comment.
fn parse_preload_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.split([' ', '\t', ':']))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Debian's multiarch directories when ld.so cannot be read (the generic `/lib64`
/// layout is what upstream glibc builds use; Debian's ld.so carries its own list).
fn fallback_dirs(arch: &Arch) -> Vec<String> {
    arch.system_dirs.iter().map(|d| d.to_string()).collect()
}

/// ld.so keeps `SYSTEM_DIRS` as one string of NUL-separated absolute directories each
/// ending in `/` (e.g. `/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/\0`).
fn system_dirs_in(bytes: &[u8]) -> Option<Vec<String>> {
    let is_dir = |s: &[u8]| {
        s.len() >= 2 && s[0] == b'/' && s.ends_with(b"/") && s.iter().all(|b| b.is_ascii_graphic())
    };
    // Runs of NUL-terminated directory names (a trailing unterminated piece is not one);
    // the longest run or tail of a run that starts at /lib/ or /usr/ wins, the first of
    // equal length. A run starts right after a NUL: searching for "\0/" skips the tens of
    // thousands of other strings of a 215 kB ld.so, which collecting took as long as the
    // rest of the loader set-up.
    let mut best: Vec<&[u8]> = Vec::new();
    let mut run: Vec<&[u8]> = Vec::new();
    let mut next = 0;
    let starts =
        std::iter::once(0).chain(memchr::memmem::find_iter(bytes, b"\0/").map(|nul| nul + 1));
    for start in starts {
        if start < next {
            continue;
        }
        run.clear();
        next = start;
        while let Some(len) = bytes.get(next..).and_then(|rest| memchr::memchr(0, rest)) {
            let string = &bytes[next..next + len];
            if !is_dir(string) {
                break;
            }
            run.push(string);
            next += len + 1;
        }
        keep_longer_dirs(&mut best, &run);
    }
    (!best.is_empty()).then(|| {
        best.iter()
            .map(|d| String::from_utf8_lossy(&d[..d.len() - 1]).into_owned())
            .collect()
    })
}

/// Replaces `best` with the longest tail of `run` that starts at /lib/ or /usr/, holds at
/// least two directories, each naming "lib", and is longer than `best`.
fn keep_longer_dirs<'a>(best: &mut Vec<&'a [u8]>, run: &[&'a [u8]]) {
    // Every directory of the tail names "lib": it starts after the last one that does not
    // (found once, so a hostile run of thousands of directories stays linear).
    let from = run
        .iter()
        .rposition(|d| memchr::memmem::find(d, b"lib").is_none())
        .map_or(0, |i| i + 1);
    let tail = (from..run.len())
        .map(|k| &run[k..])
        .find(|tail| tail[0].starts_with(b"/lib/") || tail[0].starts_with(b"/usr/"));
    if let Some(tail) = tail
        && tail.len() >= 2
        && tail.len() > best.len()
    {
        *best = tail.to_vec();
    }
}

/// The legacy hwcaps power set of glibc < 2.37 (`_dl_important_hwcaps`): names are the
/// usable hwcap bits (`x86_64`, then `avx512_1`), the platform, and `tls`; every subset,
/// from all of them down to none, each written from the last name to the first.
pub fn legacy_subdirs(platform: &str, avx512_1: bool) -> Vec<String> {
    let mut names = vec!["x86_64"];
    if avx512_1 {
        names.push("avx512_1");
    }
    names.push(platform);
    names.push("tls");
    let count = names.len();
    let all = (1usize << count) - 1;
    (0..=all)
        .map(|k| {
            let mask = all - k;
            (0..count)
                .rev()
                .filter(|j| mask & (1 << j) != 0)
                .map(|j| names[j])
                .collect::<Vec<_>>()
                .join("/")
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(target_arch = "x86_64")]
fn cpu_isa_levels() -> u32 {
    use std::arch::is_x86_feature_detected as has;
    let mut bits = 1;
    let v2 = has!("cmpxchg16b")
        && has!("popcnt")
        && has!("sse3")
        && has!("sse4.1")
        && has!("sse4.2")
        && has!("ssse3");
    if !v2 {
        return bits;
    }
    bits |= 2;
    let v3 = has!("avx")
        && has!("avx2")
        && has!("bmi1")
        && has!("bmi2")
        && has!("f16c")
        && has!("fma")
        && has!("lzcnt")
        && has!("movbe")
        && has!("xsave");
    if !v3 {
        return bits;
    }
    bits |= 4;
    if has!("avx512f")
        && has!("avx512bw")
        && has!("avx512cd")
        && has!("avx512dq")
        && has!("avx512vl")
    {
        bits |= 8;
    }
    bits
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_isa_levels() -> u32 {
    1
}

#[cfg(target_arch = "x86_64")]
fn avx512_1_usable() -> bool {
    use std::arch::is_x86_feature_detected as has;
    has!("avx512f") && has!("avx512cd") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_1_usable() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_lists_are_split_like_rtld() {
        assert_eq!(
            parse_preload_file("# comment\n/lib/a.so libb.so:libc.so # trailing\n"),
            ["/lib/a.so", "libb.so", "libc.so"]
        );
        let mut env = Environment::build(None, None, PathBuf::from("/"), None, false);
        env.ld_preload = Some("liba.so:libb.so  libc.so".into());
        env.preload_file = vec!["/x/libd.so".into()];
        let names: Vec<_> = env
            .preloads()
            .into_iter()
            .map(|(n, w)| format!("{w}:{n}"))
            .collect();
        assert_eq!(
            names,
            [
                "LD_PRELOAD:liba.so",
                "LD_PRELOAD:libb.so",
                "LD_PRELOAD:libc.so",
                "/etc/ld.so.preload:/x/libd.so"
            ]
        );
    }

    #[test]
    fn surplus_defaults_to_1664() {
        assert_eq!(StaticTlsConfig::default().surplus, 1664);
        assert_eq!(StaticTlsConfig::from_tunables(None).surplus, 1664);
    }

    #[test]
    fn tunables_change_the_surplus() {
        let t = StaticTlsConfig::from_tunables(Some(
            "glibc.rtld.optional_static_tls=0x1000:glibc.rtld.nns=1",
        ));
        assert_eq!((t.nns, t.optional), (1, 4096));
        assert_eq!(t.surplus, 144 + 4096 + 144);
        // Out of range nns is ignored; garbage pairs are skipped.
        let t = StaticTlsConfig::from_tunables(Some("glibc.rtld.nns=17:junk:glibc.malloc.check=1"));
        assert_eq!(t.nns, 4);
        assert_eq!(
            StaticTlsConfig::from_tunables(Some("glibc.rtld.optional_static_tls=010")).optional,
            8
        );
    }

    #[test]
    fn legacy_power_set_matches_ld_debug_output() {
        // LD_DEBUG=libs on Debian 12 (glibc 2.36), a CPU without AVX-512.
        assert_eq!(
            legacy_subdirs("x86_64", false),
            [
                "tls/x86_64/x86_64",
                "tls/x86_64",
                "tls/x86_64",
                "tls",
                "x86_64/x86_64",
                "x86_64",
                "x86_64"
            ]
        );
    }

    #[test]
    fn system_dirs_are_found_in_a_loader_image() {
        let image =
            b"junk\0/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/\0\0more";
        assert_eq!(
            system_dirs_in(image).unwrap(),
            [
                "/lib/x86_64-linux-gnu",
                "/usr/lib/x86_64-linux-gnu",
                "/lib",
                "/usr/lib"
            ]
        );
    }

    #[test]
    fn system_dirs_skip_a_head_that_names_no_lib_and_keep_the_first_of_equal_runs() {
        let image = b"/usr/share/\0/lib/a/\0/usr/lib/\0x\0/lib/b/\0/usr/lib/b/\0/tail/";
        assert_eq!(system_dirs_in(image).unwrap(), ["/lib/a", "/usr/lib"]);
        assert_eq!(system_dirs_in(b"/lib/only/\0x\0/usr/lib/\0"), None);
    }

    #[test]
    fn system_dirs_stay_linear_on_a_hostile_run_of_directories() {
        // 60,000 directories naming lib, then one that does not: every tail was checked
        // to its end before (quadratic); the answer is the last run of two.
        let mut image = b"/lib/a/\0".repeat(60_000);
        image.extend_from_slice(b"/usr/x/\0/lib/b/\0/usr/lib/\0");
        let started = std::time::Instant::now();
        assert_eq!(system_dirs_in(&image).unwrap(), ["/lib/b", "/usr/lib"]);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    /// The files of `env.read_ahead`, by path, each with the id of the file at that path.
    fn read_ahead_paths(env: &Environment) -> Vec<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        env.read_ahead
            .iter()
            .map(|(id, artifact)| {
                let meta = std::fs::metadata(&artifact.path).unwrap();
                assert_eq!(*id, (meta.dev(), meta.ino()), "{}", artifact.path.display());
                artifact.path.clone()
            })
            .collect()
    }

    #[test]
    fn the_interpreter_and_libc_are_read_ahead_where_the_loader_finds_them() {
        let env = Environment::build(None, None, PathBuf::from("/"), None, false);
        let libc = env.libc_path.clone().expect("this machine has a libc.so.6");
        assert_eq!(
            read_ahead_paths(&env),
            [PathBuf::from(&env.interpreter), PathBuf::from(libc)]
        );
    }

    /// The environment of an `arch` target read under `sysroot`, with no variables set.
    fn target(arch: &'static Arch, sysroot: Option<&Path>) -> Environment {
        let sysroot = sysroot.map(Path::to_path_buf);
        Environment::build_for(None, sysroot, PathBuf::from("/"), None, false, arch)
    }

    #[test]
    fn a_sysroot_reads_ahead_its_own_interpreter_and_libc() {
        let root = Path::new("/usr/aarch64-linux-gnu");
        assert!(
            root.join("lib/libc.so.6").exists(),
            "no arm64 cross sysroot: apt-get install gcc-aarch64-linux-gnu (as .ci/run does)"
        );
        let paths = read_ahead_paths(&target(&crate::elf::arch::AARCH64, Some(root)));
        assert_eq!(paths.len(), 2, "{paths:?}");
        for path in &paths {
            assert!(path.starts_with(root), "{}", path.display());
        }
    }

    #[test]
    fn a_foreign_target_without_sysroot_assumes_its_libraries() {
        let env = target(&crate::elf::arch::RISCV64, None);
        assert!(env.assume_libraries);
        // Its files are not here: nothing is read ahead.
        assert!(env.read_ahead.is_empty());
        assert_eq!(env.interpreter, "/lib/ld-linux-riscv64-lp64d.so.1");
        assert_eq!(env.cache_abi.flags, 0x1003);
        assert!(env.assumption().unwrap().contains("riscv64 target"));
        assert_eq!(env.system_dirs[0], "/lib/riscv64-linux-gnu");
    }

    #[test]
    fn detects_this_machine() {
        let env = Environment::build(None, None, PathBuf::from("/"), None, false);
        if env.libc_path.is_none() {
            return;
        }
        assert!(env.glibc_version.is_some(), "{env:?}");
        assert!(!env.system_dirs.is_empty());
        if Path::new(X86_64_INTERP).exists() && env.arch.machine == 62 {
            assert!(
                env.system_dirs_source.starts_with("read from"),
                "{}",
                env.system_dirs_source
            );
        }
    }
}
