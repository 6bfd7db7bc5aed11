//! The process model: a host started by ld.so, then `dlopen` of each plugin in turn,
//! with glibc 2.36's checks in glibc's order (`elf/dl-open.c` `dl_open_worker_begin`):
//!
//! 1. `_dl_map_object` for the plugin: already-loaded match by name, else open and
//!    `open_verify` (header), else map (`_dl_map_object_from_fd`);
//! 2. `_dl_map_object_deps`: every `DT_NEEDED`, breadth first; the first failure wins;
//! 3. `_dl_check_map_versions` for each new object in search-list order;
//! 4. `_dl_open_check`: the x86 ISA level each new object needs;
//! 5. `_dl_relocate_object` for each new object, dependencies first (DFS post-order of
//!    `_dl_sort_maps`), relocations in table order: undefined non-weak symbols (`RTLD_LAZY`
//!    defers `JUMP_SLOT`s), and static TLS for initial-exec relocations.
//!
//! A failed dlopen leaves the process as it was. With `RTLD_GLOBAL` the plugin and its
//! dependencies join the global scope for the plugins after it.
//!
//! One module per stage: `startup` (the executable, ld.so, preloads), `mapping`
//! (`_dl_map_object` and its header checks), `lookup` (the library search), `deps`
//! (`_dl_map_object_deps`), `dlopen`, `relocate` (versions, order, symbol binding),
//! `static_tls`; `files` holds each file read once.

mod deps;
mod dlopen;
mod files;
mod lookup;
mod mapping;
mod relocate;
mod startup;
mod static_tls;

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use serde::Serialize;

use self::files::ObjFile;
use super::env::Environment;
use super::errno;
use super::fs::{DirCache, FileId, Fs, Verified};
use super::search::{self, DepTree, Dst, Rule};
use super::tls::StaticTls;
use crate::elf::arch::RelocClasses;
use crate::elf::{Artifact, TlsModel};
use crate::verdict::{LoadVerdict, Outcome};

const DF_1_NOOPEN: u64 = 0x40;
const DF_1_NODEFLIB: u64 = 0x800;
const DF_1_PIE: u64 = 0x0800_0000;

/// What to dlopen: a parsed artifact (its path is the dlopen argument), or just a name.
#[derive(Debug, Clone)]
pub enum Plugin<'a> {
    Artifact(&'a Artifact),
    Name(String),
}

/// How the host calls `dlopen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OpenMode {
    /// `RTLD_LAZY` instead of `RTLD_NOW`.
    pub lazy: bool,
    /// `RTLD_GLOBAL`: later plugins see this one's symbols.
    pub global: bool,
    /// Open `realpath(path)` instead of the path as given (Go's `plugin.Open` does).
    pub realpath: bool,
    /// Hand a file named without a slash to dlopen as `./NAME` (the file the user
    /// meant), instead of searching for the name as dlopen does with a bare name.
    pub bare_name_is_file: bool,
}

impl OpenMode {
    /// A C host: `dlopen(path, RTLD_NOW)` (RTLD_LOCAL).
    pub const C_HOST: OpenMode = OpenMode {
        lazy: false,
        global: false,
        realpath: false,
        bare_name_is_file: false,
    };
    /// Go's `plugin.Open`: `dlopen(realpath(path), RTLD_NOW|RTLD_GLOBAL)`.
    pub const GO_PLUGIN_OPEN: OpenMode = OpenMode {
        lazy: false,
        global: true,
        realpath: true,
        bare_name_is_file: false,
    };
}

/// Static TLS use of one dlopen.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsUse {
    /// The plugin's own `PT_TLS` block.
    pub size: u64,
    pub align: u64,
    pub model: TlsModel,
    /// Objects of this dlopen that needed a static TLS block, with the bytes each took.
    pub static_blocks: Vec<(String, u64)>,
    /// Static TLS surplus left before and after this dlopen (after = before when it failed).
    pub free_before: u64,
    pub free_after: u64,
}

/// A loader fact worth reporting that is not a failure on this system.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    /// A stable short code: `exec-stack`, `already-loaded`, `symbols-unknown`, `lazy-undefined`.
    pub code: &'static str,
    pub object: String,
    pub message: String,
}

/// What ld.so would do with one plugin.
#[derive(Debug, Clone, Serialize)]
pub struct LoaderPrediction {
    /// The string passed to dlopen.
    pub name: String,
    pub verdict: LoadVerdict,
    pub tree: DepTree,
    pub tls: TlsUse,
    /// Objects this dlopen adds to the process, in load order (empty when it fails).
    pub loaded: Vec<String>,
    pub notes: Vec<Note>,
}

/// The host process after start-up.
#[derive(Debug, Clone, Serialize)]
pub struct HostSetup {
    /// The executable (`None`: a minimal C program linked with libc only).
    pub host: Option<String>,
    pub tree: DepTree,
    /// Start-up failures (the host itself would not start), as ld.so prints them.
    pub problems: Vec<String>,
    /// Static TLS used by start-up objects, and the surplus left for plugins.
    pub tls_used: u64,
    pub tls_free: u64,
}

/// Host set-up plus one prediction per plugin.
#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    pub host: HostSetup,
    pub plugins: Vec<LoaderPrediction>,
}

/// Predicts `dlopen` of each plugin, in order, into one process started from `host`
/// (or a minimal C host when `None`). The dlopen argument is each artifact's path as
/// given: pass `./x.so` or an absolute path (a name without `/` is searched for, as
/// dlopen does), or set `mode.realpath` as Go does.
pub fn predict(
    host: Option<&Artifact>,
    plugins: &[&Artifact],
    env: &Environment,
    mode: OpenMode,
) -> Vec<LoaderPrediction> {
    Loader::new(env).simulate(host, plugins, mode).plugins
}

// ---------------------------------------------------------------------------------------
// Process

#[derive(Clone)]
struct Map<'a> {
    file: Rc<ObjFile<'a>>,
    /// `l_name`: the path the object was opened with ("" for the main program).
    l_name: String,
    /// `l_libname`: names it was requested by.
    names: Vec<String>,
    soname_added: bool,
    /// `l_loader`: the object whose `DT_NEEDED` brought it in.
    loader: Option<usize>,
    origin: Option<String>,
    is_main: bool,
    relocated: bool,
    versions_done: bool,
    /// Direct dependencies (`l_initfini` of a non-root object), for the relocation order.
    deps: Vec<usize>,
    /// Breadth-first search list (the main program and dlopened roots).
    searchlist: Vec<usize>,
    /// The root whose search list is this object's local scope.
    root: usize,
    static_tls: bool,
}

impl Map<'_> {
    fn name_matches(&self, name: &str) -> bool {
        self.l_name == name || self.names.iter().any(|n| n == name)
    }
    fn dso_filename(&self) -> &str {
        if self.l_name.is_empty() {
            "<main program>"
        } else {
            &self.l_name
        }
    }
    /// The name for explanations: the main program by its file, not `<main program>`.
    fn shown_name(&self) -> String {
        match self.file.art.as_ref() {
            Some(art) if self.l_name.is_empty() => art.get().path.display().to_string(),
            _ => self.dso_filename().to_string(),
        }
    }
}

#[derive(Clone)]
struct Process<'a> {
    maps: Vec<Map<'a>>,
    global: Vec<usize>,
    tls: StaticTls,
    stack_exec: bool,
}

/// A dlopen failure: the dlerror() text and plugctl's reading of it.
#[derive(Debug, Clone)]
struct Failure {
    error: String,
    /// The error string alone, without object name and errno (what LD_PRELOAD reports).
    message: String,
    outcome: Outcome,
    cause: String,
    fix: String,
}

fn dlerror(objname: &str, message: &str, err: i32) -> String {
    let mut text = if objname.is_empty() {
        message.to_string()
    } else {
        format!("{objname}: {message}")
    };
    if err != 0 {
        text.push_str(": ");
        text.push_str(&errno::strerror(err));
    }
    text
}

impl Failure {
    fn new(
        objname: &str,
        message: &str,
        err: i32,
        outcome: Outcome,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> Failure {
        Failure {
            error: dlerror(objname, message, err),
            message: message.to_string(),
            outcome,
            cause: cause.into(),
            fix: fix.into(),
        }
    }
}

/// The result of one `_dl_map_object`.
struct MapResult {
    index: usize,
    new: bool,
    rule: Rule,
    via: Option<String>,
}

/// Search state: `found_other_class`, the last errno, what was skipped.
#[derive(Default)]
struct SearchState {
    other_class: Option<u8>,
    errno: i32,
    skipped: Vec<(String, String)>,
}

/// Predicts loads on one environment; caches every file it reads, so one `Loader` can
/// serve many predictions (each file parsed once).
pub struct Loader<'a> {
    env: &'a Environment,
    fs: Fs,
    verified: HashMap<String, (Verified, Option<FileId>)>,
    files: HashMap<FileId, Rc<ObjFile<'a>>>,
    provided: HashMap<FileId, &'a Artifact>,
    dirs: DirCache,
    capstrs: Vec<String>,
    /// The target's relocation types, classified once for every object relocated.
    reloc_classes: RelocClasses,
}

/// Where an object comes from when it becomes a map.
struct Candidate<'a> {
    realname: String,
    file: Rc<ObjFile<'a>>,
}

impl<'a> Loader<'a> {
    pub fn new(env: &'a Environment) -> Loader<'a> {
        let mut capstrs: Vec<String> = env
            .hwcaps_subdirs
            .iter()
            .map(|s| format!("glibc-hwcaps/{s}/"))
            .collect();
        capstrs.extend(env.legacy_subdirs.iter().map(|s| format!("{s}/")));
        capstrs.push(String::new());
        Loader {
            env,
            fs: Fs::new(env.sysroot.clone(), env.cwd.clone(), env.arch),
            verified: HashMap::new(),
            files: HashMap::new(),
            provided: env
                .read_ahead
                .iter()
                .map(|(id, artifact)| (*id, &**artifact))
                .collect(),
            dirs: DirCache::default(),
            capstrs,
            reloc_classes: env.arch.relocs.classes(),
        }
    }

    /// The environment this loader emulates.
    pub fn environment(&self) -> &'a Environment {
        self.env
    }

    /// Start-up of `host`, then dlopen of each plugin in order.
    pub fn simulate(
        &mut self,
        host: Option<&'a Artifact>,
        plugins: &[&'a Artifact],
        mode: OpenMode,
    ) -> Simulation {
        let plugins: Vec<Plugin<'a>> = plugins.iter().map(|a| Plugin::Artifact(a)).collect();
        self.simulate_plugins(host, &plugins, mode)
    }

    /// Like [`Loader::simulate`], with plugins that may be names only (searched for, or
    /// files that do not parse as ELF: the loader's own checks still apply).
    pub fn simulate_plugins(
        &mut self,
        host: Option<&'a Artifact>,
        plugins: &[Plugin<'a>],
        mode: OpenMode,
    ) -> Simulation {
        // The inputs are files on this machine, even with a sysroot.
        for art in plugins
            .iter()
            .filter_map(|p| match p {
                Plugin::Artifact(art) => Some(*art),
                Plugin::Name(_) => None,
            })
            .chain(host)
        {
            self.fs.pin(&art.path);
        }
        for plugin in plugins {
            if let Plugin::Artifact(art) = plugin
                && let Some(id) = self.stat_id(&art.path)
            {
                self.provided.insert(id, art);
            }
        }
        if let Some(host) = host
            && let Some(id) = self.stat_id(&host.path)
        {
            self.provided.insert(id, host);
        }
        let (mut process, setup) = self.startup(host);
        let plugins = plugins
            .iter()
            .map(|plugin| self.dlopen(&mut process, plugin, mode))
            .collect();
        Simulation {
            host: setup,
            plugins,
        }
    }

    /// The dependency tree of `object` loaded as a program (what `ldd` shows), with each
    /// object's start-up problems.
    pub fn program_tree(&mut self, object: &'a Artifact) -> HostSetup {
        self.fs.pin(&object.path);
        if let Some(id) = self.stat_id(&object.path) {
            self.provided.insert(id, object);
        }
        let name = object.path.to_string_lossy().into_owned();
        let origin = search::origin_of(&name, &self.env.cwd.to_string_lossy());
        self.startup_with(Some(object), name, origin).1
    }

    /// `realpath(3)` as the target sees it: symlinks resolved (inside the sysroot).
    fn realpath(&self, path: &Path) -> Option<String> {
        let text = path.to_string_lossy();
        match &self.env.sysroot {
            Some(root) if !self.fs.is_pinned_input(path) => {
                let host = self.fs.locate(&text).ok()?;
                let host = std::fs::canonicalize(host).ok()?;
                let root = std::fs::canonicalize(root).ok()?;
                let inside = host.strip_prefix(&root).ok()?;
                Some(Path::new("/").join(inside).to_string_lossy().into_owned())
            }
            _ => Some(
                std::fs::canonicalize(self.fs.locate(&text).ok()?)
                    .ok()?
                    .to_string_lossy()
                    .into_owned(),
            ),
        }
    }

    fn stat_id(&self, path: &Path) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(self.fs.locate(&path.to_string_lossy()).ok()?).ok()?;
        Some((meta.dev(), meta.ino()))
    }

    fn dst<'m>(&'m self, map: &'m Map<'_>) -> Dst<'m> {
        Dst {
            origin: map.origin.as_deref(),
            platform: &self.env.platform,
            lib: &self.env.lib,
        }
    }
}

/// The verdict for dlopening `path` (searched for when it has no `/`) into `host`, for
/// callers without a parsed artifact (e.g. a file that is not ELF). `None`: it loads.
pub fn open_error(host: Option<&Artifact>, path: &Path, env: &Environment) -> Option<LoadVerdict> {
    let mut loader = Loader::new(env);
    let plugin = Plugin::Name(path.to_string_lossy().into_owned());
    let sim = loader.simulate_plugins(host, std::slice::from_ref(&plugin), OpenMode::C_HOST);
    sim.plugins
        .into_iter()
        .next()
        .map(|p| p.verdict)
        .filter(|v| v.outcome != Outcome::Ok)
}

#[cfg(test)]
mod tests;
