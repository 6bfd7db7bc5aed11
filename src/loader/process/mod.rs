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

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use serde::Serialize;

use super::env::Environment;
use super::errno;
use super::fs::{DirCache, FileError, FileId, Fs, Header, PF_X, Verified};
use super::search::{self, DepNode, DepTree, Dst, Rule};
use super::symbols::{Ref, SymIndex};
use super::tls::{Block, StaticTls};
use crate::elf::{Artifact, Binding, Libc, TlsModel};
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
// Files

enum ArtRef<'a> {
    Borrowed(&'a Artifact),
    Owned(Box<Artifact>),
}

impl ArtRef<'_> {
    fn get(&self) -> &Artifact {
        match self {
            ArtRef::Borrowed(a) => a,
            ArtRef::Owned(a) => a,
        }
    }
}

/// One file, read once per run, with what the loader needs from it.
struct ObjFile<'a> {
    art: Option<ArtRef<'a>>,
    header: Option<Header>,
    id: Option<FileId>,
    needed: Vec<String>,
    soname: Option<String>,
    /// `DT_RPATH`, only when there is no `DT_RUNPATH` (ld.so ignores it then).
    rpath: Option<Vec<String>>,
    runpath: Option<Vec<String>>,
    flags_1: u64,
    bind_now: bool,
    libc: Libc,
    parse_error: Option<String>,
    syms: OnceCell<SymIndex>,
}

impl<'a> ObjFile<'a> {
    fn from_artifact(art: ArtRef<'a>, header: Option<Header>, id: Option<FileId>) -> ObjFile<'a> {
        let a = art.get();
        let d = &a.dynamic;
        let runpath = (!d.runpath.is_empty()).then(|| d.runpath.clone());
        let rpath = (runpath.is_none() && !d.rpath.is_empty()).then(|| d.rpath.clone());
        ObjFile {
            needed: d.needed.clone(),
            soname: d.soname.clone(),
            rpath,
            runpath,
            flags_1: d.flags_1,
            bind_now: d.bind_now,
            libc: a.identity.libc,
            header,
            id,
            art: Some(art),
            parse_error: None,
            syms: OnceCell::new(),
        }
    }

    fn synthetic(needed: &[&str], soname: Option<&str>) -> ObjFile<'a> {
        ObjFile {
            art: None,
            header: None,
            id: None,
            needed: needed.iter().map(|s| s.to_string()).collect(),
            soname: soname.map(str::to_string),
            rpath: None,
            runpath: None,
            flags_1: 0,
            bind_now: false,
            libc: Libc::Glibc,
            parse_error: None,
            syms: OnceCell::new(),
        }
    }

    fn artifact(&self) -> Option<&Artifact> {
        self.art.as_ref().map(ArtRef::get)
    }

    fn syms(&self) -> &SymIndex {
        self.syms.get_or_init(|| match self.artifact() {
            Some(a) => SymIndex::build(a),
            None => SymIndex::empty(self.parse_error.is_none()),
        })
    }

    /// Whether this object defines a symbol that satisfies `wanted`.
    fn provides(&self, wanted: Ref<'_>) -> bool {
        self.artifact()
            .is_some_and(|a| self.syms().provides(a, wanted))
    }

    fn tls_block(&self) -> Option<Block> {
        let tls = self.header.as_ref()?.tls()?;
        Some(Block::new(tls.memsz, tls.align, tls.vaddr))
    }

    fn stack_flags(&self) -> u32 {
        self.header.as_ref().map_or(6, Header::stack_flags)
    }
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
            provided: HashMap::new(),
            dirs: DirCache::default(),
            capstrs,
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

    // ---- start-up ----------------------------------------------------------------------

    fn startup(&mut self, host: Option<&'a Artifact>) -> (Process<'a>, HostSetup) {
        // A normal exec: l_name is "", l_origin is the executable's real directory.
        let origin = host.and_then(|h| {
            let real = self.realpath(&h.path)?;
            Some(Path::new(&real).parent()?.to_string_lossy().into_owned())
        });
        self.startup_with(host, String::new(), origin)
    }

    fn startup_with(
        &mut self,
        host: Option<&'a Artifact>,
        l_name: String,
        origin: Option<String>,
    ) -> (Process<'a>, HostSetup) {
        let main_file = match host {
            Some(art) => {
                let header = match super::fs::verify_for(art.bytes(), self.env.arch) {
                    Verified::Ok(h) => Some(*h),
                    _ => None,
                };
                Rc::new(ObjFile::from_artifact(
                    ArtRef::Borrowed(art),
                    header,
                    self.stat_id(&art.path),
                ))
            }
            None => Rc::new(ObjFile::synthetic(&["libc.so.6"], None)),
        };
        let main = Map {
            file: main_file.clone(),
            names: vec![l_name.clone()],
            l_name,
            soname_added: false,
            loader: None,
            origin,
            is_main: true,
            relocated: true,
            versions_done: true,
            deps: Vec::new(),
            searchlist: Vec::new(),
            root: 0,
            static_tls: false,
        };
        let mut process = Process {
            maps: vec![main],
            global: Vec::new(),
            tls: StaticTls::startup(&[], 0, 0),
            stack_exec: main_file.stack_flags() & PF_X != 0,
        };
        let mut problems = Vec::new();
        // ld.so itself, under its PT_INTERP name and its soname; and the vDSO.
        let interp = host
            .and_then(|h| h.identity.interpreter.clone())
            .unwrap_or_else(|| self.env.interpreter.clone());
        let rtld_file = match self.candidate_file(&interp) {
            Some(file) => file,
            None => {
                if !self.env.assume_libraries {
                    problems.push(format!(
                        "{interp}: the program interpreter could not be read"
                    ));
                }
                Rc::new(ObjFile {
                    parse_error: Some("unreadable".into()),
                    ..ObjFile::synthetic(&[], Some(self.env.arch.interpreter_soname()))
                })
            }
        };
        let rtld_soname = rtld_file
            .soname
            .clone()
            .unwrap_or_else(|| self.env.arch.interpreter_soname().into());
        process
            .maps
            .push(self.new_map(rtld_file, interp.clone(), &interp, None, 0));
        if rtld_soname != interp {
            process.maps[1].names.push(rtld_soname);
        }
        process.maps[1].soname_added = true;
        let vdso = Rc::new(ObjFile::synthetic(&[], Some("linux-vdso.so.1")));
        process
            .maps
            .push(self.new_map(vdso, "linux-vdso.so.1".into(), "linux-vdso.so.1", None, 0));
        for m in &mut process.maps {
            m.relocated = true;
            m.versions_done = true;
        }
        let mut tree = DepTree::default();
        let root_name = host.map_or_else(
            || "<C host: libc.so.6 only>".to_string(),
            |h| h.path.to_string_lossy().into_owned(),
        );
        let root_path = host.map(|h| h.path.to_string_lossy().into_owned());
        let root_node = tree.push(node(
            root_name,
            root_path,
            Some(Rule::DirectPath),
            None,
            None,
        ));
        // LD_PRELOAD and /etc/ld.so.preload: mapped before the executable's
        // dependencies, right after it in the search list; failures are ignored.
        let new_from = process.maps.len();
        let mut preloads = Vec::new();
        let mut ignored_preloads = HashSet::new();
        for (name, source) in self.env.preloads() {
            let mut n = node(name.clone(), None, None, None, Some(root_node));
            match self.map_object(&mut process, Some(0), &name, false, false, 0, &mut n) {
                Ok(r) => {
                    n.path = Some(process.maps[r.index].l_name.clone());
                    n.rule = Some(if r.new { r.rule } else { Rule::AlreadyLoaded });
                    n.via = r.via;
                    let index = tree.push(n);
                    if r.new {
                        preloads.push((r.index, index));
                    }
                }
                Err(f) => {
                    problems.push(format!(
                        "ERROR: ld.so: object '{name}' from {source} cannot be preloaded ({}): ignored.",
                        f.message
                    ));
                    n.error = Some(f.error);
                    ignored_preloads.insert(tree.push(n));
                }
            }
        }
        let _ = self.map_deps(
            &mut process,
            0,
            &mut tree,
            root_node,
            false,
            new_from,
            &preloads,
        );
        let mut seen = HashSet::new();
        problems.extend(
            tree.nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| !ignored_preloads.contains(i))
                .filter_map(|(_, n)| n.error.clone())
                .filter(|e| seen.insert(e.clone())),
        );
        let searchlist = process.maps[0].searchlist.clone();
        process.global = searchlist;
        // Start-up objects: versions checked and relocated by rtld; their TLS blocks are
        // laid out in module-ID (= load) order.
        let mut blocks = Vec::new();
        for m in process.maps.iter_mut() {
            m.relocated = true;
            m.versions_done = true;
            if let Some(block) = m.file.tls_block() {
                blocks.push(block);
                m.static_tls = true;
            }
        }
        process.tls = StaticTls::startup(
            &blocks,
            self.env.static_tls.surplus,
            self.env.static_tls.optional,
        );
        let setup = HostSetup {
            host: host.map(|h| h.path.to_string_lossy().into_owned()),
            tree,
            problems,
            tls_used: process.tls.used,
            tls_free: process.tls.free(),
        };
        (process, setup)
    }

    fn new_map(
        &self,
        file: Rc<ObjFile<'a>>,
        l_name: String,
        name: &str,
        loader: Option<usize>,
        root: usize,
    ) -> Map<'a> {
        let origin = search::origin_of(&l_name, &self.env.cwd.to_string_lossy());
        Map {
            file,
            l_name,
            names: vec![name.to_string()],
            soname_added: false,
            loader,
            origin,
            is_main: false,
            relocated: false,
            versions_done: false,
            deps: Vec::new(),
            searchlist: Vec::new(),
            root,
            static_tls: false,
        }
    }

    // ---- files -------------------------------------------------------------------------

    fn verify_cached(&mut self, path: &str) -> (Verified, Option<FileId>) {
        if let Some(hit) = self.verified.get(path) {
            return hit.clone();
        }
        let (verified, id, _) = self.fs.verify_path(path);
        self.verified
            .insert(path.to_string(), (verified.clone(), id));
        (verified, id)
    }

    /// The parsed file behind a verified candidate (parsed once per file).
    fn file_for(&mut self, path: &str, header: Header, id: Option<FileId>) -> Rc<ObjFile<'a>> {
        if let Some(id) = id
            && let Some(file) = self.files.get(&id)
        {
            return file.clone();
        }
        let file = if let Some(art) = id.and_then(|id| self.provided.get(&id).copied()) {
            ObjFile::from_artifact(ArtRef::Borrowed(art), Some(header), id)
        } else {
            match self
                .fs
                .locate(path)
                .map_err(errno::strerror)
                .and_then(|p| Artifact::read(&p).map_err(|e| e.to_string()))
            {
                Ok(art) => ObjFile::from_artifact(ArtRef::Owned(Box::new(art)), Some(header), id),
                Err(e) => ObjFile {
                    header: Some(header),
                    id,
                    parse_error: Some(e),
                    ..ObjFile::synthetic(&[], None)
                },
            }
        };
        let file = Rc::new(file);
        if let Some(id) = id {
            self.files.insert(id, file.clone());
        }
        file
    }

    /// A file opened directly (the interpreter), if it verifies.
    fn candidate_file(&mut self, path: &str) -> Option<Rc<ObjFile<'a>>> {
        match self.verify_cached(path) {
            (Verified::Ok(h), id) => Some(self.file_for(path, *h, id)),
            _ => None,
        }
    }

    // ---- _dl_map_object ----------------------------------------------------------------

    /// `_dl_map_object`. `loader` is the requesting map; `callmap` is set for the dlopen
    /// root (the search uses the caller's paths, the new map gets no `l_loader`).
    #[allow(clippy::too_many_arguments)]
    fn map_object(
        &mut self,
        p: &mut Process<'a>,
        loader: Option<usize>,
        name: &str,
        callmap: bool,
        dlopen: bool,
        root: usize,
        node: &mut DepNode,
    ) -> Result<MapResult, Failure> {
        // Already loaded under this name (or, the first time, its soname)?
        for (i, m) in p.maps.iter_mut().enumerate() {
            if m.name_matches(name) {
                return Ok(MapResult {
                    index: i,
                    new: false,
                    rule: Rule::AlreadyLoaded,
                    via: None,
                });
            }
            if !m.soname_added && m.file.soname.as_deref() == Some(name) {
                m.names.push(name.to_string());
                m.soname_added = true;
                return Ok(MapResult {
                    index: i,
                    new: false,
                    rule: Rule::AlreadyLoaded,
                    via: None,
                });
            }
        }
        // errno as ld.so leaves it: 0 until an open() fails, so a search that tries
        // nothing (-z nodefaultlib, no paths) reports no strerror text.
        let mut state = SearchState::default();
        let searched = if name.contains('/') {
            let realname = match loader {
                Some(l) => search::expand(name, &self.dst(&p.maps[l])).unwrap_or_default(),
                None => name.to_string(),
            };
            self.try_candidate(&realname, &mut state, true)
                .map(|c| c.map(|c| (c, Rule::DirectPath, None)))
        } else {
            self.search(p, loader, name, &mut state)
        };
        let musl_requester = loader.is_some_and(|l| p.maps[l].file.libc == Libc::Musl);
        let found = match searched {
            Ok(found) => found,
            Err(mut f) if musl_requester && name.starts_with("libc.") => {
                f.outcome = Outcome::WrongLibc;
                f.cause = format!(
                    "musl-linked object: it needs musl's {name}; on this glibc system that name finds the C library's linker script or nothing ({})",
                    f.error
                );
                f.fix = "rebuild it against glibc (or run it in a musl environment)".into();
                return Err(f);
            }
            Err(f) => return Err(f),
        };
        node.skipped = state
            .skipped
            .iter()
            .map(|(path, why)| format!("{path}: {why}"))
            .collect();
        let Some((candidate, rule, via)) = found else {
            if self.env.assume_libraries && !callmap && !name.contains('/') {
                return Ok(self.assumed_library(p, name, loader, root));
            }
            return Err(self.not_found(p, loader, name, &state, callmap));
        };
        // The same file under another name?
        if let Some(id) = candidate.file.id
            && let Some(i) = p.maps.iter().position(|m| m.file.id == Some(id))
        {
            if !p.maps[i].name_matches(name) {
                p.maps[i].names.push(name.to_string());
            }
            return Ok(MapResult {
                index: i,
                new: false,
                rule: Rule::AlreadyLoaded,
                via: None,
            });
        }
        self.map_checks(p, &candidate, name, dlopen)?;
        let map_loader = if callmap { None } else { loader };
        let mut map = self.new_map(candidate.file, candidate.realname, name, map_loader, root);
        map.root = if callmap { p.maps.len() } else { root };
        p.maps.push(map);
        Ok(MapResult {
            index: p.maps.len() - 1,
            new: true,
            rule,
            via,
        })
    }

    /// A library of a foreign target without a sysroot: assumed present, with unknown
    /// symbols (undefined references to it are then not checked, and say so).
    fn assumed_library(
        &mut self,
        p: &mut Process<'a>,
        name: &str,
        loader: Option<usize>,
        root: usize,
    ) -> MapResult {
        let file = Rc::new(ObjFile {
            parse_error: Some("assumed present on the target".into()),
            ..ObjFile::synthetic(&[], Some(name))
        });
        let mut map = self.new_map(file, name.to_string(), name, loader, root);
        map.origin = None;
        p.maps.push(map);
        MapResult {
            index: p.maps.len() - 1,
            new: true,
            rule: Rule::Default,
            via: Some("assumed: the target's libraries are not on this machine".into()),
        }
    }

    /// The search of `_dl_map_object` for a name without a slash.
    #[allow(clippy::type_complexity)]
    fn search(
        &mut self,
        p: &Process<'a>,
        loader: Option<usize>,
        name: &str,
        state: &mut SearchState,
    ) -> Result<Option<(Candidate<'a>, Rule, Option<String>)>, Failure> {
        let main = 0usize;
        // DT_RPATH of the requester and up its loader chain, then of the executable,
        // unless the requester has DT_RUNPATH.
        if loader.is_none_or(|l| p.maps[l].file.runpath.is_none()) {
            let mut did_main = false;
            let mut chain = loader;
            let mut seen = HashSet::new();
            while let Some(l) = chain {
                if !seen.insert(l) {
                    break;
                }
                let map = &p.maps[l];
                if let Some(rpath) = &map.file.rpath {
                    let dirs = self.dirs_of(rpath, map);
                    let via = map.shown_name();
                    if !dirs.is_empty() {
                        if let Some(c) = self.open_path(name, &dirs, state)? {
                            return Ok(Some((c, Rule::Rpath, Some(via))));
                        }
                        did_main |= l == main;
                    }
                }
                chain = map.loader;
            }
            if !did_main && let Some(rpath) = &p.maps[main].file.rpath {
                let dirs = self.dirs_of(rpath, &p.maps[main]);
                if !dirs.is_empty()
                    && let Some(c) = self.open_path(name, &dirs, state)?
                {
                    return Ok(Some((c, Rule::Rpath, Some(p.maps[main].shown_name()))));
                }
            }
        }
        // LD_LIBRARY_PATH ($ORIGIN there is the executable's).
        let llp = self.env.ld_library_path_dirs();
        if !llp.is_empty() {
            let dirs = search::path_list(llp.iter().map(String::as_str), &self.dst(&p.maps[main]));
            if let Some(c) = self.open_path(name, &dirs, state)? {
                return Ok(Some((c, Rule::LdLibraryPath, None)));
            }
        }
        // DT_RUNPATH of the requester only.
        if let Some(l) = loader
            && let Some(runpath) = &p.maps[l].file.runpath
        {
            let dirs = self.dirs_of(runpath, &p.maps[l]);
            if !dirs.is_empty()
                && let Some(c) = self.open_path(name, &dirs, state)?
            {
                return Ok(Some((c, Rule::Runpath, Some(p.maps[l].shown_name()))));
            }
        }
        let nodeflib = p.maps[loader.unwrap_or(main)].file.flags_1 & DF_1_NODEFLIB != 0;
        // ld.so.cache.
        if let Some(cache) = self.env.cache.clone()
            && let Some(cached) = cache.lookup(name, &self.env.cache_abi)
        {
            let in_system_dir = self
                .env
                .system_dirs
                .iter()
                .any(|d| cached.starts_with(&format!("{d}/")));
            if !(nodeflib && in_system_dir)
                && let Some(c) = self.try_candidate(cached, state, false)?
            {
                return Ok(Some((c, Rule::Cache, None)));
            }
        }
        // The system directories.
        if !nodeflib {
            let dirs: Vec<String> = self
                .env
                .system_dirs
                .iter()
                .map(|d| format!("{}/", d.trim_end_matches('/')))
                .collect();
            if let Some(c) = self.open_path(name, &dirs, state)? {
                return Ok(Some((c, Rule::Default, None)));
            }
        }
        Ok(None)
    }

    fn dirs_of(&self, elements: &[String], map: &Map<'_>) -> Vec<String> {
        if elements.iter().all(String::is_empty) && elements.len() <= 1 {
            return Vec::new(); // An empty DT_RPATH/DT_RUNPATH string is ignored.
        }
        search::path_list(elements.iter().map(String::as_str), &self.dst(map))
    }

    /// `open_path`: each directory, each hwcaps subdirectory, in order.
    fn open_path(
        &mut self,
        name: &str,
        dirs: &[String],
        state: &mut SearchState,
    ) -> Result<Option<Candidate<'a>>, Failure> {
        for dir in dirs {
            let mut here_any = false;
            for ci in 0..self.capstrs.len() {
                let subdir = format!("{dir}{}", self.capstrs[ci]);
                let listing = match self
                    .fs
                    .locate(if subdir.is_empty() { "." } else { &subdir })
                {
                    Ok(host) => self.dirs.lookup(&host, name),
                    Err(e) => {
                        state.errno = e;
                        continue;
                    }
                };
                match listing {
                    super::fs::Listed::NoDir => continue,
                    super::fs::Listed::Absent => {
                        here_any = true;
                        state.errno = errno::ENOENT;
                    }
                    super::fs::Listed::Maybe => {
                        here_any = true;
                        let path = format!("{subdir}{name}");
                        if let Some(c) = self.try_candidate(&path, state, false)? {
                            return Ok(Some(c));
                        }
                    }
                }
            }
            if here_any && state.errno != errno::ENOENT && state.errno != errno::EACCES {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// `open_verify` on one candidate path: `Ok(None)` when it is skipped or absent.
    fn try_candidate(
        &mut self,
        path: &str,
        state: &mut SearchState,
        direct: bool,
    ) -> Result<Option<Candidate<'a>>, Failure> {
        let (verified, id) = self.verify_cached(path);
        match verified {
            Verified::Ok(header) => {
                let file = self.file_for(path, *header, id);
                Ok(Some(Candidate {
                    realname: path.to_string(),
                    file,
                }))
            }
            Verified::OtherClass(class) => {
                state.other_class = Some(class);
                state.errno = errno::ENOENT;
                let what = match class {
                    1 => "32-bit object".to_string(),
                    other => format!("invalid ELF class {other}"),
                };
                state.skipped.push((path.to_string(), what));
                Ok(None)
            }
            Verified::OtherMachine(machine) => {
                state.errno = errno::ENOENT;
                state.skipped.push((
                    path.to_string(),
                    format!("{} object", crate::elf::names::machine(machine)),
                ));
                Ok(None)
            }
            Verified::NotOpened(e) => {
                state.errno = e;
                Ok(None)
            }
            Verified::Fatal(f) => Err(self.fatal(path, &f, direct)),
            Verified::Special(what) => Err(Failure::new(
                "",
                &format!("{path} is {what}"),
                0,
                Outcome::Crash,
                format!("{path} is {what}: ld.so's open(2) blocks on it and dlopen never returns"),
                format!("remove {path}"),
            )),
        }
    }

    fn fatal(&self, path: &str, f: &FileError, _direct: bool) -> Failure {
        let (outcome, cause, fix) = match f.message {
            "invalid ELF header" => (
                Outcome::NotElf,
                format!(
                    "{path} is not an ELF file (a linker script, text or data); ld.so stops the search there"
                ),
                String::new(),
            ),
            "file too short" => (
                Outcome::NotElf,
                format!("{path} is shorter than an ELF header"),
                String::new(),
            ),
            "cannot read file data" if f.errno == errno::EISDIR => (
                Outcome::NotElf,
                format!("{path} is a directory"),
                String::new(),
            ),
            "cannot read file data" => (
                Outcome::Truncated,
                format!("{path} is truncated: its program headers are missing"),
                String::new(),
            ),
            "ELF file data encoding not little-endian"
            | "ELF file data encoding not big-endian" => (
                Outcome::WrongMachine,
                format!(
                    "{path} has the other byte order; the host is {} ({}-endian)",
                    self.env.arch.name,
                    if self.env.arch.endianness == crate::elf::Endianness::Big {
                        "big"
                    } else {
                        "little"
                    }
                ),
                format!("rebuild it for {}", self.env.arch.name),
            ),
            "only ET_DYN and ET_EXEC can be loaded" => (
                Outcome::NotAPlugin,
                format!("{path} is not a shared object (a relocatable .o or core file)"),
                "link it with -shared".to_string(),
            ),
            other => (Outcome::NotElf, format!("{path}: {other}"), String::new()),
        };
        Failure::new(path, f.message, f.errno, outcome, cause, fix)
    }

    /// `wrong ELF class: ELFCLASS32` (or 64 on a 32-bit target) for `name`; `cause` for a
    /// dependency, `None` for the object asked for.
    fn wrong_class(&self, name: &str, cause: Option<String>) -> Failure {
        let arch = self.env.arch;
        let other = arch.other_class();
        let cause = cause.unwrap_or_else(|| {
            format!(
                "{}-bit ({}) object, host is {}",
                other.pointer_size() * 8,
                other.glibc_name(),
                arch.describe()
            )
        });
        Failure::new(
            name,
            &format!("wrong ELF class: {}", other.glibc_name()),
            0,
            Outcome::WrongClass,
            cause,
            format!(
                "rebuild it as a {} object (GOARCH={})",
                arch.describe(),
                arch.goarch
            ),
        )
    }

    fn not_found(
        &self,
        p: &Process<'a>,
        loader: Option<usize>,
        name: &str,
        state: &SearchState,
        root: bool,
    ) -> Failure {
        if state.other_class.is_some() {
            let skipped = state
                .skipped
                .iter()
                .map(|(p, why)| format!("{p} ({why})"))
                .collect::<Vec<_>>()
                .join(", ");
            let arch = self.env.arch;
            let cause = if root {
                None
            } else {
                Some(format!(
                    "{name}: only {}-bit candidates were found ({skipped}); the host is {}",
                    arch.other_class().pointer_size() * 8,
                    arch.describe()
                ))
            };
            return self.wrong_class(name, cause);
        }
        let requester = loader.map(|l| p.maps[l].shown_name()).unwrap_or_default();
        if let Some((path, why)) = state.skipped.first() {
            let cause = if root {
                format!(
                    "{why}, host is {} (glibc reports a wrong-machine object as missing)",
                    self.env.arch.name
                )
            } else {
                format!(
                    "{name}: the only candidate, {path}, is an {why}; the host is {} (glibc reports it as missing)",
                    self.env.arch.name
                )
            };
            return Failure::new(
                name,
                "cannot open shared object file",
                state.errno,
                Outcome::WrongMachine,
                cause,
                format!(
                    "rebuild it for {} (GOARCH={})",
                    self.env.arch.name, self.env.arch.goarch
                ),
            );
        }
        if name.contains('/') {
            let by = if requester.is_empty() {
                String::new()
            } else {
                format!(" (named in DT_NEEDED of {requester})")
            };
            return Failure::new(
                name,
                "cannot open shared object file",
                state.errno,
                Outcome::MissingLibrary,
                format!(
                    "{name}{by} cannot be opened: {}",
                    errno::strerror(state.errno)
                ),
                "check the path (a relative path is taken from the process's working directory)",
            );
        }
        let by = if root || requester.is_empty() {
            String::new()
        } else {
            format!(" (needed by {requester})")
        };
        let is_musl = loader.is_some_and(|l| p.maps[l].file.libc == Libc::Musl);
        if is_musl && name.starts_with("libc.") {
            return Failure::new(
                name,
                "cannot open shared object file",
                state.errno,
                Outcome::WrongLibc,
                format!(
                    "musl-linked object: it needs musl's {name}, which this glibc system does not have{by}"
                ),
                "rebuild it against glibc",
            );
        }
        let nodeflib = p.maps[loader.unwrap_or(0)].file.flags_1 & DF_1_NODEFLIB != 0;
        if nodeflib && state.errno == 0 {
            // Nothing was opened, so errno stayed 0 and glibc prints no strerror text.
            let who = p.maps[loader.unwrap_or(0)].shown_name();
            return Failure::new(
                name,
                "cannot open shared object file",
                0,
                Outcome::MissingLibrary,
                format!(
                    "{name}{by} was never looked for: {who} is linked with -z nodefaultlib (DF_1_NODEFLIB), which skips ld.so.cache entries in the system directories and the system directories themselves, and it has no RPATH/RUNPATH (nor LD_LIBRARY_PATH) that holds {name}"
                ),
                format!(
                    "give {who} a RUNPATH to {name}'s directory (-Wl,-rpath,DIR), set LD_LIBRARY_PATH, or link it without -z nodefaultlib"
                ),
            );
        }
        Failure::new(
            name,
            "cannot open shared object file",
            state.errno,
            Outcome::MissingLibrary,
            format!(
                "{name}{by} is not in any directory ld.so searches (RPATH, LD_LIBRARY_PATH, RUNPATH, ld.so.cache, system directories)"
            ),
            format!(
                "install {name}, or add its directory to LD_LIBRARY_PATH or to the requester's RUNPATH ($ORIGIN-relative)"
            ),
        )
    }

    /// The checks of `_dl_map_object_from_fd` after the file is known to be new.
    fn map_checks(
        &mut self,
        p: &mut Process<'a>,
        c: &Candidate<'a>,
        name: &str,
        dlopen: bool,
    ) -> Result<(), Failure> {
        let file = &c.file;
        let Some(header) = &file.header else {
            return Ok(());
        };
        if let Err(message) = header.map_check() {
            let (outcome, cause) = match message {
                "cannot dynamically load executable" => (
                    Outcome::NotAPlugin,
                    format!(
                        "{} is an executable (ET_EXEC), not a shared object",
                        c.realname
                    ),
                ),
                "object file has no dynamic section" => (
                    Outcome::NotAPlugin,
                    format!(
                        "{} has no dynamic section (a separate debug-info file or a static object)",
                        c.realname
                    ),
                ),
                _ => (Outcome::NotElf, format!("{}: {message}", c.realname)),
            };
            return Err(Failure::new(
                name,
                message,
                0,
                outcome,
                cause,
                String::new(),
            ));
        }
        if let Some(load) = header.truncated_load() {
            return Err(Failure {
                error: "Bus error".into(),
                message: "Bus error".into(),
                outcome: Outcome::Crash,
                cause: format!(
                    "{} is truncated ({} bytes) inside a loadable segment (file offset {:#x}..{:#x}): ld.so maps it and the process dies with SIGBUS when it touches the missing pages",
                    c.realname,
                    header.file_size,
                    load.offset,
                    load.offset.saturating_add(load.filesz)
                ),
                fix: "restore the complete file".into(),
            });
        }
        if let Some(problem) = &file.parse_error {
            return Err(Failure {
                error: "Segmentation fault".into(),
                message: "Segmentation fault".into(),
                outcome: Outcome::Crash,
                cause: format!(
                    "{} has a valid ELF header but an unreadable body ({problem}); ld.so is likely to crash on it",
                    c.realname
                ),
                fix: "restore the complete file".into(),
            });
        }
        if (file.flags_1 & DF_1_NOOPEN != 0 && dlopen) || file.flags_1 & DF_1_PIE != 0 {
            let (message, cause) = if file.flags_1 & DF_1_PIE != 0 {
                (
                    "cannot dynamically load position-independent executable",
                    format!(
                        "{} is a position-independent executable (DF_1_PIE), not a shared object",
                        c.realname
                    ),
                )
            } else {
                (
                    "shared object cannot be dlopen()ed",
                    format!("{} is marked DF_1_NOOPEN (-z nodlopen)", c.realname),
                )
            };
            return Err(Failure::new(
                name,
                message,
                0,
                Outcome::NotAPlugin,
                cause,
                "build it with -buildmode=plugin / -shared",
            ));
        }
        if file.stack_flags() & PF_X != 0 && !p.stack_exec {
            if dlopen && self.env.refuses_exec_stack() {
                return Err(Failure::new(
                    name,
                    "cannot enable executable stack as shared object requires",
                    errno::EINVAL,
                    Outcome::NotAPlugin,
                    format!(
                        "{} asks for an executable stack (PT_GNU_STACK with PF_X, or none); glibc 2.41+ refuses that in dlopen",
                        c.realname
                    ),
                    "link it with -z noexecstack",
                ));
            }
            p.stack_exec = true;
        }
        Ok(())
    }

    // ---- _dl_map_object_deps -----------------------------------------------------------

    /// Breadth-first `DT_NEEDED` walk from `root`; sets its search list and each new
    /// object's direct dependencies. Keeps going after a failure (as `ldd` does) so the
    /// tree is complete, and returns the first failure: ld.so stops there.
    #[allow(clippy::too_many_arguments)]
    fn map_deps(
        &mut self,
        p: &mut Process<'a>,
        root: usize,
        tree: &mut DepTree,
        root_node: usize,
        dlopen: bool,
        new_from: usize,
        preloads: &[(usize, usize)],
    ) -> Option<Failure> {
        let is_new = |i: usize| i >= new_from || i == root;
        let mut list = vec![root];
        let mut reserved: HashSet<usize> = HashSet::from([root]);
        let mut node_of: HashMap<usize, usize> = HashMap::from([(root, root_node)]);
        for &(map, node) in preloads {
            if reserved.insert(map) {
                list.push(map);
                node_of.insert(map, node);
            }
        }
        let mut failed: HashMap<String, String> = HashMap::new();
        let mut first_failure = None;
        let mut i = 0;
        while i < list.len() {
            let l = list[i];
            i += 1;
            let expand_in_tree = is_new(l) && node_of.contains_key(&l);
            let parent_node = node_of.get(&l).copied();
            for needed in p.maps[l].file.needed.clone() {
                let Some(name) = search::expand(&needed, &self.dst(&p.maps[l])) else {
                    continue;
                };
                let parent = if expand_in_tree { parent_node } else { None };
                let mut node = node(name.clone(), None, None, None, parent);
                if let Some(error) = failed.get(&name) {
                    node.error = Some(error.clone());
                    if expand_in_tree {
                        tree.push(node);
                    }
                    continue;
                }
                match self.map_object(p, Some(l), &name, false, dlopen, root, &mut node) {
                    Ok(r) => {
                        node.path = Some(p.maps[r.index].l_name.clone());
                        node.rule = Some(if r.new { r.rule } else { Rule::AlreadyLoaded });
                        node.via = r.via;
                        let index = if expand_in_tree {
                            Some(tree.push(node))
                        } else {
                            None
                        };
                        if reserved.insert(r.index) {
                            list.push(r.index);
                            if r.new
                                && let Some(index) = index
                            {
                                node_of.insert(r.index, index);
                            }
                        }
                        if is_new(l) && !p.maps[l].deps.contains(&r.index) {
                            p.maps[l].deps.push(r.index);
                        }
                    }
                    Err(f) => {
                        node.error = Some(f.error.clone());
                        failed.insert(name, f.error.clone());
                        if expand_in_tree {
                            tree.push(node);
                        }
                        first_failure.get_or_insert(f);
                    }
                }
            }
        }
        p.maps[root].searchlist = list;
        first_failure
    }

    // ---- dlopen ------------------------------------------------------------------------

    fn dlopen(
        &mut self,
        p: &mut Process<'a>,
        plugin: &Plugin<'a>,
        mode: OpenMode,
    ) -> LoaderPrediction {
        let (art, given) = match plugin {
            Plugin::Artifact(art) => (Some(*art), art.path.to_string_lossy().into_owned()),
            Plugin::Name(name) => (None, name.clone()),
        };
        // A file the user named without a slash can stand for that file rather than a
        // name to search for: the C host is then handed `./NAME`.
        let mut name = if mode.bare_name_is_file && !given.contains('/') {
            format!("./{given}")
        } else {
            given.clone()
        };
        let mut notes = Vec::new();
        let free_before = p.tls.free();
        let mut tls = TlsUse {
            size: art.and_then(|a| a.tls.size).unwrap_or(0),
            align: art.and_then(|a| a.tls.align).unwrap_or(0),
            model: art.map(|a| a.tls.model).unwrap_or_default(),
            static_blocks: Vec::new(),
            free_before,
            free_after: free_before,
        };
        let mut tree = DepTree::default();
        if mode.realpath {
            match self.realpath(Path::new(&given)) {
                Some(real) => name = real,
                None => {
                    let error = format!("plugin.Open(\"{given}\"): realpath failed");
                    let verdict = LoadVerdict::fail(
                        Outcome::MissingLibrary,
                        error,
                        "the plugin path does not resolve (realpath(3) failed)",
                        "",
                    );
                    return LoaderPrediction {
                        name,
                        verdict,
                        tree,
                        tls,
                        loaded: Vec::new(),
                        notes,
                    };
                }
            }
        }
        let snapshot = p.clone();
        let outcome = self.dlopen_worker(p, art, &name, mode, &mut tree, &mut tls, &mut notes);
        if art.is_none()
            && let Some(root) = p.maps.get(snapshot.maps.len())
            && let Some(a) = root.file.artifact()
        {
            tls.size = a.tls.size.unwrap_or(0);
            tls.align = a.tls.align.unwrap_or(0);
            tls.model = a.tls.model;
        }
        let (verdict, loaded) = match outcome {
            Ok(loaded) => {
                tls.free_after = p.tls.free();
                (LoadVerdict::ok(ok_cause(&loaded, mode)), loaded)
            }
            Err(f) => {
                *p = snapshot;
                tls.static_blocks.clear();
                (
                    LoadVerdict {
                        outcome: f.outcome,
                        error: Some(f.error),
                        package: None,
                        cause: f.cause,
                        fix: f.fix,
                    },
                    Vec::new(),
                )
            }
        };
        LoaderPrediction {
            name,
            verdict,
            tree,
            tls,
            loaded,
            notes,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dlopen_worker(
        &mut self,
        p: &mut Process<'a>,
        art: Option<&'a Artifact>,
        name: &str,
        mode: OpenMode,
        tree: &mut DepTree,
        tls: &mut TlsUse,
        notes: &mut Vec<Note>,
    ) -> Result<Vec<String>, Failure> {
        let before = p.maps.len();
        let root_node = tree.push(node(name.to_string(), None, None, None, None));
        let mut scratch = tree.nodes[root_node].clone();
        let stack_before = p.stack_exec;
        let in_memory =
            art.filter(|_| name.contains('/') && self.fs.locate(name).is_ok_and(|h| !h.exists()));
        let mapped = if let Some(art) = in_memory {
            // An in-memory artifact with no file behind it: verify its bytes.
            self.map_in_memory(p, art, name)
        } else {
            self.map_object(p, Some(0), name, true, true, before, &mut scratch)
        };
        let root = match mapped {
            Ok(r) => r,
            Err(f) => {
                let n = &mut tree.nodes[root_node];
                n.error = Some(f.error.clone());
                n.skipped = scratch.skipped;
                return Err(f);
            }
        };
        {
            let n = &mut tree.nodes[root_node];
            n.path = Some(p.maps[root.index].l_name.clone());
            n.rule = Some(root.rule);
            n.via = root.via.clone();
            n.skipped = scratch.skipped;
        }
        if !root.new {
            notes.push(Note {
                code: "already-loaded",
                object: p.maps[root.index].l_name.clone(),
                message: format!("{name} is already in the process (as {}); dlopen returns it without loading anything", p.maps[root.index].l_name),
            });
            if mode.global && !p.global.contains(&root.index) {
                p.global.push(root.index);
            }
            return Ok(Vec::new());
        }
        let root = root.index;
        if let Some(f) = self.map_deps(p, root, tree, root_node, true, before, &[]) {
            return Err(f);
        }
        let searchlist = p.maps[root].searchlist.clone();
        if !stack_before && p.stack_exec {
            let who: Vec<&str> = (before..p.maps.len())
                .filter(|&i| p.maps[i].file.stack_flags() & PF_X != 0)
                .map(|i| p.maps[i].l_name.as_str())
                .collect();
            notes.push(Note {
                code: "exec-stack",
                object: who.join(", "),
                message: format!(
                    "{} requires an executable stack; glibc {} makes every thread stack executable to load it (glibc 2.41 and later refuse: \"cannot enable executable stack as shared object requires: Invalid argument\")",
                    who.join(", "),
                    self.env.glibc_version.as_deref().unwrap_or("(unknown)")
                ),
            });
        }
        // Versions, in search-list order.
        for &m in &searchlist {
            if p.maps[m].versions_done {
                continue;
            }
            self.check_versions(p, m)?;
        }
        for &m in &searchlist {
            p.maps[m].versions_done = true;
        }
        // Relocation order: DFS post-order over the search list, dependencies first.
        let order = relocation_order(p, &searchlist);
        for &m in &order {
            if p.maps[m].relocated || m < before {
                continue;
            }
            let need = p.maps[m].file.header.as_ref().map_or(0, |h| h.isa_1_needed);
            if need & self.env.isa_1 != need {
                return Err(Failure::new(
                    &p.maps[m].l_name,
                    "CPU ISA level is lower than required",
                    0,
                    Outcome::WrongMachine,
                    format!(
                        "{} needs x86 ISA level bits {need:#x}; this CPU has {:#x}",
                        p.maps[m].l_name, self.env.isa_1
                    ),
                    "rebuild it for a lower x86-64 level (GOAMD64=v1 / -march=x86-64)",
                ));
            }
        }
        let mut scope = p.global.clone();
        scope.extend(searchlist.iter().copied());
        for &m in &order {
            if p.maps[m].relocated {
                continue;
            }
            self.relocate(p, m, &scope, mode, tls, notes)?;
            p.maps[m].relocated = true;
        }
        if mode.global {
            for &m in &searchlist {
                if !p.global.contains(&m) {
                    p.global.push(m);
                }
            }
        }
        Ok((before..p.maps.len())
            .map(|i| p.maps[i].l_name.clone())
            .collect())
    }

    /// dlopen of an artifact that only exists in memory: header checks on its bytes.
    fn map_in_memory(
        &mut self,
        p: &mut Process<'a>,
        art: &'a Artifact,
        name: &str,
    ) -> Result<MapResult, Failure> {
        let header = match super::fs::verify_for(art.bytes(), self.env.arch) {
            Verified::Ok(h) => *h,
            Verified::Fatal(f) => return Err(self.fatal(name, &f, true)),
            Verified::OtherClass(_) => return Err(self.wrong_class(name, None)),
            Verified::OtherMachine(m) => {
                let arch = self.env.arch;
                let cause = format!(
                    "{} object, host is {} (glibc reports a wrong-machine object as missing)",
                    crate::elf::names::machine(m),
                    arch.name
                );
                return Err(Failure::new(
                    name,
                    "cannot open shared object file",
                    errno::ENOENT,
                    Outcome::WrongMachine,
                    cause,
                    format!("rebuild it for {} (GOARCH={})", arch.name, arch.goarch),
                ));
            }
            Verified::NotOpened(e) => {
                return Err(Failure::new(
                    name,
                    "cannot open shared object file",
                    e,
                    Outcome::MissingLibrary,
                    "not readable",
                    "",
                ));
            }
            Verified::Special(_) => {
                return Err(Failure::new(
                    name,
                    "cannot open shared object file",
                    errno::ENOENT,
                    Outcome::MissingLibrary,
                    "not a file",
                    "",
                ));
            }
        };
        let file = Rc::new(ObjFile::from_artifact(
            ArtRef::Borrowed(art),
            Some(header),
            None,
        ));
        let candidate = Candidate {
            realname: name.to_string(),
            file,
        };
        self.map_checks(p, &candidate, name, true)?;
        let index = p.maps.len();
        let map = self.new_map(candidate.file, candidate.realname, name, None, index);
        p.maps.push(map);
        Ok(MapResult {
            index,
            new: true,
            rule: Rule::DirectPath,
            via: None,
        })
    }

    /// `_dl_check_map_versions` for one object (non-verbose: only hard failures).
    fn check_versions(&self, p: &Process<'a>, m: usize) -> Result<(), Failure> {
        let Some(art) = p.maps[m].file.artifact() else {
            return Ok(());
        };
        for need in &art.versions.needed {
            let Some(provider) = find_needed(p, &need.library, m) else {
                continue;
            };
            let Some(provider_art) = p.maps[provider].file.artifact() else {
                continue;
            };
            if provider_art.versions.defined.is_empty()
                && provider_art.section(".gnu.version_d").is_none()
            {
                continue; // No version definitions: accepted silently.
            }
            let base = provider_art.dynamic.soname.as_deref();
            for v in &need.versions {
                if v.weak
                    || provider_art.versions.defined.iter().any(|d| d == &v.name)
                    || base == Some(v.name.as_str())
                {
                    continue;
                }
                let provider_name = p.maps[provider].dso_filename().to_string();
                let newest = newest_version(&provider_art.versions.defined, &v.name);
                return Err(Failure::new(
                    &provider_name,
                    &format!(
                        "version `{}' not found (required by {})",
                        v.name,
                        p.maps[m].dso_filename()
                    ),
                    0,
                    Outcome::VersionNotFound,
                    format!(
                        "{} needs {} from {}, which provides at most {}",
                        p.maps[m].dso_filename(),
                        v.name,
                        provider_name,
                        newest.unwrap_or_else(|| "other versions".into())
                    ),
                    format!(
                        "build against the {} found here, or run where {} provides {}",
                        need.library, need.library, v.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `_dl_relocate_object`: the lookups and static TLS allocations that can fail.
    fn relocate(
        &self,
        p: &mut Process<'a>,
        m: usize,
        scope: &[usize],
        mode: OpenMode,
        tls: &mut TlsUse,
        notes: &mut Vec<Note>,
    ) -> Result<(), Failure> {
        let file = p.maps[m].file.clone();
        let Some(art) = file.artifact() else {
            return Ok(());
        };
        let lazy = mode.lazy && !self.env.bind_now && !file.bind_now;
        let rt = self.env.arch.relocs;
        let is_tpoff = |t: u32| rt.tpoff.contains(&t);
        // TPOFF relocations against the null symbol (the object's own TLS) come first in
        // .rela.dyn (sorted right after the relative ones).
        let named_tpoff = art
            .relocations
            .iter()
            .filter(|r| is_tpoff(r.r_type))
            .count();
        if art.tls.static_relocations > named_tpoff {
            self.static_tls(p, m, tls)?;
        }
        let mut lazy_undefined = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        for r in &art.relocations {
            let t = r.r_type;
            if t == rt.none || rt.relative.contains(&t) {
                continue;
            }
            let Some(sym) = art.relocation_symbol(r) else {
                continue;
            };
            let tls_reloc = is_tpoff(t) || (rt.tlsdesc != 0 && t == rt.tlsdesc);
            let target = if sym.binding == Binding::Local {
                Some(m)
            } else if sym.defined && !tls_reloc {
                continue; // Resolves to itself at worst: cannot fail.
            } else {
                let wanted = Ref {
                    name: &sym.name,
                    version: sym.version.as_deref(),
                };
                let copy = t == rt.copy;
                // The object itself: its own dynsym entry for this name is the answer
                // (a linker writes one entry per unversioned name), no index needed.
                let found = scope
                    .iter()
                    .copied()
                    .filter(|&s| !(copy && p.maps[s].is_main))
                    .find(|&s| {
                        if s == m && sym.version.is_none() {
                            sym.defined
                        } else {
                            p.maps[s].file.provides(wanted)
                        }
                    });
                match found {
                    Some(s) => Some(s),
                    None if sym.defined => Some(m),
                    None if sym.binding == Binding::Weak => None,
                    None if scope.iter().any(|&s| !p.maps[s].file.syms().known) => {
                        unknown.push(sym.name.clone());
                        None
                    }
                    None if lazy && t == rt.jump_slot => {
                        lazy_undefined.push(sym.name.clone());
                        None
                    }
                    None => {
                        let version = sym
                            .version
                            .as_deref()
                            .map(|v| format!(", version {v}"))
                            .unwrap_or_default();
                        let who = p.maps[m].dso_filename().to_string();
                        return Err(Failure::new(
                            &who,
                            &format!("undefined symbol: {}{version}", sym.name),
                            0,
                            Outcome::UndefinedSymbol,
                            format!(
                                "{who} uses {} but no object in its lookup scope (the host, its libraries{}, and this object's own dependencies) defines it",
                                sym.name,
                                if mode.global {
                                    ", RTLD_GLOBAL plugins"
                                } else {
                                    ""
                                }
                            ),
                            format!(
                                "link {who} against the library that defines {} (so it is in DT_NEEDED), or load that library first with RTLD_GLOBAL",
                                sym.name
                            ),
                        ));
                    }
                }
            };
            if lazy && t == rt.jump_slot {
                continue;
            }
            let Some(target) = target else { continue };
            if is_tpoff(t) {
                self.static_tls(p, target, tls)?;
            } else if rt.tlsdesc != 0
                && t == rt.tlsdesc
                && !p.maps[target].static_tls
                && let Some(block) = p.maps[target].file.tls_block()
                && let Some(used) = p.tls.allocate(block, true)
            {
                // TLS descriptors take optional static TLS while it lasts, else dynamic.
                p.maps[target].static_tls = true;
                tls.static_blocks
                    .push((p.maps[target].l_name.clone(), used));
            }
        }
        if !unknown.is_empty() {
            unknown.dedup();
            notes.push(Note {
                code: "symbols-unknown",
                object: p.maps[m].l_name.clone(),
                message: format!(
                    "not checked because some objects in scope have no readable symbol table: {}",
                    unknown.join(", ")
                ),
            });
        }
        if !lazy_undefined.is_empty() {
            notes.push(Note {
                code: "lazy-undefined",
                object: p.maps[m].l_name.clone(),
                message: format!(
                    "loads only because of RTLD_LAZY: calling {} will abort the process with \"symbol lookup error\"",
                    lazy_undefined.join(", ")
                ),
            });
        }
        Ok(())
    }

    /// `CHECK_STATIC_TLS` / `_dl_allocate_static_tls` for the object defining the TLS.
    fn static_tls(
        &self,
        p: &mut Process<'a>,
        target: usize,
        tls: &mut TlsUse,
    ) -> Result<(), Failure> {
        if p.maps[target].static_tls {
            return Ok(());
        }
        let Some(block) = p.maps[target].file.tls_block() else {
            return Ok(());
        };
        let free = p.tls.free();
        match p.tls.allocate(block, false) {
            Some(used) => {
                p.maps[target].static_tls = true;
                tls.static_blocks
                    .push((p.maps[target].l_name.clone(), used));
                Ok(())
            }
            None => {
                let who = p.maps[target].dso_filename().to_string();
                let need = block.size.saturating_add(block.firstbyte);
                let deficit = need.saturating_add(block.align).saturating_sub(free);
                let optional = self
                    .env
                    .static_tls
                    .optional
                    .saturating_add(deficit)
                    .checked_next_multiple_of(512)
                    .unwrap_or(u64::MAX);
                let cause = if block.align > p.tls.align {
                    format!(
                        "{who} needs {}-byte aligned initial-exec TLS; the static TLS block is only {}-byte aligned",
                        block.align, p.tls.align
                    )
                } else {
                    format!(
                        "{who} uses initial-exec TLS ({} bytes, align {}) and is loaded after start-up; only {free} bytes of static TLS surplus are left (surplus {} bytes)",
                        block.size, block.align, self.env.static_tls.surplus
                    )
                };
                Err(Failure::new(
                    &who,
                    "cannot allocate memory in static TLS block",
                    0,
                    Outcome::StaticTls,
                    cause,
                    format!(
                        "build it with -ftls-model=global-dynamic (or -mtls-dialect=gnu2), link or LD_PRELOAD it into the host so it loads at start-up, or run with GLIBC_TUNABLES=glibc.rtld.optional_static_tls={optional}"
                    ),
                ))
            }
        }
    }
}

fn node(
    name: String,
    path: Option<String>,
    rule: Option<Rule>,
    via: Option<String>,
    parent: Option<usize>,
) -> DepNode {
    DepNode {
        name,
        path,
        rule,
        via,
        error: None,
        skipped: Vec::new(),
        parent,
        children: Vec::new(),
        depth: 0,
    }
}

fn ok_cause(loaded: &[String], mode: OpenMode) -> String {
    let how = if mode.lazy { "RTLD_LAZY" } else { "RTLD_NOW" };
    match loaded.len() {
        0 => "already loaded".to_string(),
        1 => format!("ld.so maps, versions and relocates it ({how}) without error"),
        2 => format!(
            "ld.so maps it and 1 dependency, checks versions and relocates ({how}) without error"
        ),
        n => format!(
            "ld.so maps it and {} dependencies, checks versions and relocates ({how}) without error",
            n - 1
        ),
    }
}

/// `find_needed` of `dl-version.c`: a loaded object with that name, else one in `m`'s search list.
fn find_needed(p: &Process<'_>, name: &str, m: usize) -> Option<usize> {
    p.maps
        .iter()
        .position(|x| x.name_matches(name))
        .or_else(|| {
            let root = p.maps[m].root;
            p.maps[root]
                .searchlist
                .iter()
                .copied()
                .find(|&x| p.maps[x].name_matches(name))
        })
}

/// The newest version of the same family (`FOO_` prefix) an object defines.
fn newest_version(defined: &[String], wanted: &str) -> Option<String> {
    let prefix = wanted.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    defined
        .iter()
        .filter(|d| d.starts_with(prefix))
        .max_by_key(|d| crate::elf::parse_dotted(&d[prefix.len()..]))
        .cloned()
}

/// `_dl_sort_maps_dfs` on the search list, read backwards as `dl_open_worker_begin`
/// relocates: the DFS post-order, dependencies first, the root last.
fn relocation_order(p: &Process<'_>, searchlist: &[usize]) -> Vec<usize> {
    fn dfs(p: &Process<'_>, m: usize, visited: &mut HashSet<usize>, out: &mut Vec<usize>) {
        if !visited.insert(m) {
            return;
        }
        for &d in &p.maps[m].deps {
            if !visited.contains(&d) && !p.maps[d].is_main {
                dfs(p, d, visited, out);
            }
        }
        out.push(m);
    }
    let mut visited = HashSet::new();
    let mut out = Vec::new();
    // The root's own l_initfini is not set yet while sorting: it has no edges here.
    let root = searchlist.first().copied();
    for &m in searchlist.iter().rev() {
        if Some(m) == root {
            if visited.insert(m) {
                out.push(m);
            }
        } else {
            dfs(p, m, &mut visited, &mut out);
        }
    }
    out
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
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn system_lib(name: &str) -> Option<PathBuf> {
        [
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/lib64",
            "/usr/lib64",
        ]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
    }

    fn env_at(cwd: &Path) -> Environment {
        Environment::build(None, None, cwd.to_path_buf(), None, false)
    }

    #[test]
    fn system_library_loads_into_a_minimal_c_host() {
        let Some(libz) = system_lib("libz.so.1") else {
            return;
        };
        let env = env_at(Path::new("/"));
        let art = Artifact::read(&libz).unwrap();
        let sim = Loader::new(&env).simulate(None, &[&art], OpenMode::C_HOST);
        let p = &sim.plugins[0];
        assert_eq!(p.verdict.outcome, Outcome::Ok, "{:?}", p.verdict);
        // libc.so.6 came from start-up; the host's tree found it through the cache.
        let libc = sim
            .host
            .tree
            .nodes
            .iter()
            .find(|n| n.name == "libc.so.6")
            .unwrap();
        assert!(
            matches!(libc.rule, Some(Rule::Cache) | Some(Rule::Default)),
            "{libc:?}"
        );
        assert!(
            p.tree
                .nodes
                .iter()
                .any(|n| n.name == "libc.so.6" && n.rule == Some(Rule::AlreadyLoaded))
        );
        assert_eq!(sim.host.tls_free, 1712 + sim.host.tls_used - 144);
    }

    #[test]
    fn in_memory_artifact_is_checked_from_its_bytes() {
        let Some(libz) = system_lib("libz.so.1") else {
            return;
        };
        let env = env_at(Path::new("/"));
        let bytes = std::fs::read(&libz).unwrap();
        let art =
            Artifact::from_vec(PathBuf::from("/nonexistent/dir/libz-copy.so"), bytes).unwrap();
        let p = predict(None, &[&art], &env, OpenMode::C_HOST);
        assert_eq!(p[0].verdict.outcome, Outcome::Ok, "{:?}", p[0].verdict);
    }

    #[test]
    fn files_that_are_not_elf_get_glibcs_words() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_at(dir.path());
        std::fs::write(dir.path().join("short.so"), b"hello").unwrap();
        std::fs::write(
            dir.path().join("script.so"),
            "GROUP ( /lib/x86_64-linux-gnu/libc.so.6 )\n".repeat(4),
        )
        .unwrap();
        let short = open_error(None, &dir.path().join("short.so"), &env).unwrap();
        assert_eq!(
            short.error.unwrap(),
            format!("{}/short.so: file too short", dir.path().display())
        );
        let script = open_error(None, Path::new("./script.so"), &env).unwrap();
        assert_eq!(
            script.error.as_deref(),
            Some("./script.so: invalid ELF header")
        );
        assert_eq!(script.outcome, Outcome::NotElf);
        let missing = open_error(None, Path::new("libdoes-not-exist.so.9"), &env).unwrap();
        assert_eq!(
            missing.error.as_deref(),
            Some(
                "libdoes-not-exist.so.9: cannot open shared object file: No such file or directory"
            )
        );
        assert_eq!(missing.outcome, Outcome::MissingLibrary);
    }

    #[test]
    fn sysroot_paths_stay_virtual() {
        let (Some(libc), Some(libz)) = (system_lib("libc.so.6"), system_lib("libz.so.1")) else {
            return;
        };
        let Ok(interp) = std::fs::canonicalize(super::super::env::X86_64_INTERP) else {
            return;
        };
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("usr/lib/x86_64-linux-gnu")).unwrap();
        std::fs::create_dir_all(r.join("lib64")).unwrap();
        std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
        std::fs::copy(
            &interp,
            r.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        )
        .unwrap();
        // An absolute symlink, as distributions ship it: must resolve inside the sysroot.
        std::os::unix::fs::symlink(
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            r.join("lib64/ld-linux-x86-64.so.2"),
        )
        .unwrap();
        std::fs::copy(&libc, r.join("usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
        std::fs::create_dir_all(r.join("opt")).unwrap();
        std::fs::copy(&libz, r.join("opt/libz.so.1")).unwrap();
        let env = Environment::build(None, Some(r.to_path_buf()), PathBuf::from("/"), None, false);
        assert!(env.cache.is_none());
        assert!(env.glibc_version.is_some(), "{:?}", env.problems);
        let mut plugin = Artifact::read(&r.join("opt/libz.so.1")).unwrap();
        plugin.path = PathBuf::from("/opt/libz.so.1");
        let sim = Loader::new(&env).simulate(None, &[&plugin], OpenMode::C_HOST);
        assert_eq!(
            sim.plugins[0].verdict.outcome,
            Outcome::Ok,
            "{:?}",
            sim.plugins[0].verdict
        );
        let libc_node = sim
            .host
            .tree
            .nodes
            .iter()
            .find(|n| n.name == "libc.so.6")
            .unwrap();
        assert_eq!(
            libc_node.path.as_deref(),
            Some("/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(libc_node.rule, Some(Rule::Default));
    }

    #[test]
    fn go_plugin_open_uses_the_real_path() {
        let Some(libz) = system_lib("libz.so.1") else {
            return;
        };
        let env = env_at(Path::new("/"));
        let art = Artifact::read(&libz).unwrap();
        let sim = Loader::new(&env).simulate(None, &[&art], OpenMode::GO_PLUGIN_OPEN);
        let real = std::fs::canonicalize(&libz).unwrap();
        assert_eq!(sim.plugins[0].name, real.to_string_lossy());
    }

    #[test]
    fn damaged_objects_never_panic() {
        let Some(libz) = system_lib("libz.so.1") else {
            return;
        };
        let env = env_at(Path::new("/"));
        let good = std::fs::read(&libz).unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut loader = Loader::new(&env);
        let mut damaged = Vec::new();
        for round in 0..150 {
            let mut bytes = good.clone();
            // Damage the headers mostly: that is where the loader looks.
            for _ in 0..(1 + round % 8) {
                let limit = if round % 3 == 0 {
                    bytes.len()
                } else {
                    0x1000.min(bytes.len())
                };
                let at = (next() % limit as u64) as usize;
                bytes[at] = next() as u8;
            }
            if round % 10 == 0 {
                bytes.truncate((next() % good.len() as u64) as usize);
            }
            if let Ok(art) = Artifact::from_vec(
                PathBuf::from(format!("/nonexistent/damaged-{round}.so")),
                bytes,
            ) {
                damaged.push(art);
            }
        }
        let refs: Vec<&Artifact> = damaged.iter().collect();
        let sim = loader.simulate(None, &refs, OpenMode::C_HOST);
        assert_eq!(sim.plugins.len(), refs.len());
    }
}
