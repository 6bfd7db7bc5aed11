//! `golang`: Go facts read out of an [`Artifact`] with no Go toolchain: the build info
//! (`go version -m`), the role (plugin, executable, c-shared), a plugin's `pluginpath`,
//! its exported symbols, the package hashes `plugin.Open` compares and the order it
//! compares them in, the runtime's `moduledata` layout, and environment variables the
//! plugin's init reads. [`predict_open`] simulates what a host's runtime does with a
//! plugin at `plugin.Open` from the facts of both (see `open.rs` for the sequence).
//!
//! Everything here is read from the file's bytes, bounds-checked: hostile input yields
//! problems, never a panic.

mod buildinfo;
mod image;
mod initenv;
mod moduledata;
mod open;
pub mod sources;
mod types;

use serde::{Serialize, Serializer};

use crate::alongside::{PARALLEL_BYTES, alongside};
use crate::elf::{Artifact, ObjectKind, SymbolKind};

pub use buildinfo::{BuildInfoFormat, BuildInfoSource};
pub use initenv::InitEnvScan;
pub use moduledata::{
    KEY_FIELDS, KeyField, MODULE_DATA_WORDS, ModuleData, ModuleDataField, ModuleDataLayout,
};
pub use open::{
    Earlier, OpenOutcome, OpenPrediction, open_error, predict_open, predict_open_non_go,
};
pub use types::{
    ChanDir, ExportType, Field as TypeField, Kind as TypeKind, Method as TypeMethod, TypeGraph,
    TypeId, TypeNode, TypeTree,
};

use image::Image;

/// Whether an import path is a standard-library package (its first element has no dot).
pub fn is_std_package(path: &str) -> bool {
    !path.split('/').next().unwrap_or("").contains('.')
}

/// The module among `modules` that provides `package`: the longest path prefix.
pub fn module_of<'m>(
    modules: impl IntoIterator<Item = &'m Module>,
    package: &str,
) -> Option<&'m Module> {
    modules
        .into_iter()
        .filter(|m| package == m.path || package.starts_with(&format!("{}/", m.path)))
        .max_by_key(|m| m.path.len())
}

/// Go facts of one binary.
#[derive(Debug, Clone, Serialize)]
pub struct GoFacts {
    /// The Go version as in the build info, e.g. `go1.26.6`.
    pub version: String,
    /// `version`, parsed.
    pub parsed_version: Option<GoVersion>,
    pub role: GoRole,
    /// Where the build info was found and in which format.
    pub build_info: BuildInfoSource,
    /// The `path` line: the main package's import path.
    pub main_path: Option<String>,
    /// The `mod` line.
    pub main_module: Option<Module>,
    /// The `dep` lines, with `=>` replacements.
    pub deps: Vec<Module>,
    /// The `build` lines, in order (`-buildmode`, `-compiler`, `CGO_ENABLED`, `-trimpath`,
    /// `-race`, `-gcflags`, `-ldflags`, `-tags`, `GOOS`, `GOARCH`, `GOAMD64`, `vcs.*` ...).
    pub settings: Vec<BuildSetting>,
    /// A plugin's `pluginpath` as the runtime compares it for "plugin already loaded" and
    /// uses as the prefix of its exported symbols (import path, last element with `.`
    /// escaped as `%2e`; `plugin/unnamed-<hash>` when built from a list of files).
    pub plugin_path: Option<String>,
    /// Package hashes. For a plugin, in the order `plugin.Open` checks them (see
    /// `hash_order`); for any other binary, a lookup table (sorted by path).
    pub package_hashes: Vec<PackageHash>,
    /// How the order of `package_hashes` was established.
    pub hash_order: HashOrder,
    /// One sentence saying how, for the output.
    pub hash_order_detail: String,
    /// The layout of `runtime.moduledata` in this binary's runtime.
    pub moduledata_layout: Option<ModuleDataLayout>,
    /// A plugin's own moduledata, when found.
    pub module_data: Option<ModuleData>,
    /// A plugin's exported package-level names, as `Plugin.Lookup` takes them.
    pub exports: Vec<GoExport>,
    /// Where `exports` came from: `ptab` (the runtime's table) or `dynsym` (names that
    /// look exported under the plugin path), or empty.
    pub exports_source: String,
    /// Environment variables the plugin's main package reads during init, in order of
    /// appearance; see `init_env`.
    pub init_env_reads: Vec<String>,
    /// Whether the init code could be scanned, and reads whose name was not recovered.
    pub init_env: InitEnvScan,
    /// What could not be read.
    pub problems: Vec<String>,
}

/// What a Go binary is, from `-buildmode` (and the ELF when that is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoRole {
    Plugin,
    Executable,
    CShared,
    Other,
}

/// A module line of the build info (`mod`, `dep`, with its `=>` replacement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    pub path: String,
    pub version: String,
    pub sum: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace: Option<Box<Module>>,
}

/// A `build` line of the build info.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildSetting {
    pub key: String,
    pub value: String,
}

/// The 8-byte hash of one package's export data, as the linker recorded it
/// (`go:link.pkghashbytes.<path>`, or the plugin's `pkghashes` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageHash {
    pub path: String,
    #[serde(serialize_with = "hex16")]
    pub hash: [u8; 8],
}

impl PackageHash {
    pub fn hex(&self) -> String {
        crate::digest::hex(&self.hash)
    }
}

fn hex16<S: Serializer>(hash: &[u8; 8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::digest::hex(hash))
}

/// How the order of a plugin's package hashes was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HashOrder {
    /// Read from the plugin's moduledata: `md.pkghashes`, exactly what the runtime walks.
    ModuleData,
    /// The `pkghashes` entries located by their dynamic relocations to
    /// `go:link.pkghash.<pkg>`, in address order (moduledata not found).
    Relocations,
    /// The `.symtab` symbol `go:link.pkghashes`.
    Symtab,
    /// No table found: the hashes of `.dynsym`, sorted by path; the runtime's order is
    /// unknown.
    Unknown,
    /// Not a plugin: the hashes are a lookup table, sorted by path.
    LookupTable,
}

/// An exported name of a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoExport {
    /// The name `Plugin.Lookup` takes, e.g. `Handler`.
    pub name: String,
    pub kind: ExportKind,
    /// The dynamic symbol `<pluginpath>.<name>` that `plugin.Open` resolves with `dlsym`.
    pub symbol: String,
    /// Whether that symbol is in `.dynsym` (if not, `plugin.Open` fails with
    /// `could not find symbol`).
    pub in_dynsym: bool,
    /// The type `Plugin.Lookup` returns (a pointer to the variable for variables),
    /// read from the plugin's type metadata; rendered as a tree (see `types.rs`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ExportType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    Func,
    Var,
    Unknown,
}

/// A Go release, e.g. `go1.26.6` = 1.26.6.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GoVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `rc1`, `beta2`: a pre-release of `major.minor` (then `patch` is 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre: Option<String>,
    /// A development build (`devel go1.23-abcdef ...`); the numbers are the base release.
    pub devel: bool,
}

impl GoVersion {
    /// Same major and minor: the runtime layouts and the plugin ABI can only match then.
    pub fn same_minor(&self, other: &GoVersion) -> bool {
        self.major == other.major && self.minor == other.minor
    }
}

impl std::fmt::Display for GoVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "go{}.{}", self.major, self.minor)?;
        match &self.pre {
            Some(pre) => write!(f, "{pre}"),
            None => write!(f, ".{}", self.patch),
        }
    }
}

/// Parses a Go version string: `go1.26.6`, `go1.21`, `go1.21rc1`, `go1.22.0 X:rangefunc`,
/// `devel go1.23-abcdef Tue Jan 1 ...`. `None` when no `goN.M` can be found.
pub fn parse_go_version(text: &str) -> Option<GoVersion> {
    let devel = text.trim_start().starts_with("devel");
    let token = text.split_whitespace().find(|t| t.starts_with("go"))?;
    let rest = token.strip_prefix("go")?;
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (numbers, tail) = rest.split_at(number_end);
    let mut parts = numbers.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next().unwrap_or("0").parse().ok()?;
    let patch: u32 = match parts.next() {
        Some(p) if !p.is_empty() => p.parse().ok()?,
        _ => 0,
    };
    let pre = tail
        .starts_with(|c: char| c.is_ascii_alphabetic())
        .then(|| {
            tail.chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect::<String>()
        });
    Some(GoVersion {
        major,
        minor,
        patch,
        pre,
        devel,
    })
}

impl GoFacts {
    /// The value of a `build` setting, e.g. `setting("-buildmode")`.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.value.as_str())
    }

    /// `CGO_ENABLED` from the build info.
    pub fn cgo_enabled(&self) -> Option<bool> {
        match self.setting("CGO_ENABLED")? {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        }
    }

    /// (major, minor), e.g. (1, 26).
    pub fn minor(&self) -> Option<(u32, u32)> {
        self.parsed_version.as_ref().map(|v| (v.major, v.minor))
    }

    /// The patch release, e.g. 6 for go1.26.6.
    pub fn patch(&self) -> Option<u32> {
        self.parsed_version.as_ref().map(|v| v.patch)
    }

    /// The hash of one package, if recorded.
    pub fn package_hash(&self, path: &str) -> Option<&PackageHash> {
        self.package_hashes.iter().find(|h| h.path == path)
    }

    /// The module info as `go version -m` prints it after the first line (each line
    /// without the leading tab): `path`, `mod`, `dep`, `=>`, `build` lines, and the
    /// empty line Go writes after each `=>` line.
    pub fn modinfo_text(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.main_path {
            out.push_str(&format!("path\t{p}\n"));
        }
        fn module(out: &mut String, word: &str, m: &Module) {
            out.push_str(&format!("{word}\t{}\t{}", m.path, m.version));
            match &m.replace {
                None => out.push_str(&format!("\t{}\n", m.sum)),
                Some(r) => {
                    out.push('\n');
                    module(out, "=>", r);
                    // Go's BuildInfo.String ends the `=>` line and then the module's:
                    // an empty line follows every replacement, in the binary's text
                    // and in `go version -m` output alike.
                    out.push('\n');
                }
            }
        }
        if let Some(m) = &self.main_module {
            module(&mut out, "mod", m);
        }
        for d in &self.deps {
            module(&mut out, "dep", d);
        }
        for s in &self.settings {
            let key = if buildinfo::quote_key(&s.key) {
                buildinfo::quote(&s.key)
            } else {
                s.key.clone()
            };
            let value = if buildinfo::quote_value(&s.value) {
                buildinfo::quote(&s.value)
            } else {
                s.value.clone()
            };
            out.push_str(&format!("build\t{key}={value}\n"));
        }
        out
    }
}

/// Reads the Go facts of `artifact`; `None` when it is not a Go binary (no build info).
pub fn read(artifact: &Artifact) -> Option<GoFacts> {
    let image = Image::new(artifact);
    let raw = buildinfo::read_raw(&image).ok()?;
    let mut problems = Vec::new();
    let info = buildinfo::parse_modinfo(&raw.modinfo, &mut problems);
    if raw.modinfo.is_empty() {
        problems.push("build info has no module information (built without modules?)".into());
    }
    let parsed_version = parse_go_version(&raw.version);
    if parsed_version.is_none() {
        problems.push(format!("Go version {:?} not understood", raw.version));
    }

    let layout = match moduledata::layout_from_type(&image) {
        Ok(l) => Some(l),
        Err(why) => {
            let fallback = parsed_version
                .as_ref()
                .and_then(|v| moduledata::layout_from_version(v, image.ptr));
            problems.push(format!(
                "moduledata layout not read from the binary ({why}){}",
                if fallback.is_some() {
                    "; using plugctl's table for this Go version"
                } else {
                    ""
                }
            ));
            fallback
        }
    };

    let buildmode = info
        .settings
        .iter()
        .find(|s| s.key == "-buildmode")
        .map(|s| s.value.as_str());
    let role = match buildmode {
        Some("plugin") => GoRole::Plugin,
        Some("exe") | Some("pie") => GoRole::Executable,
        Some("c-shared") => GoRole::CShared,
        Some(_) => GoRole::Other,
        None => match artifact.identity.kind {
            ObjectKind::Executable | ObjectKind::PieExecutable => GoRole::Executable,
            // A plugin exports go:link.pkghash.* and has relocations to them.
            ObjectKind::SharedObject
                if artifact.symbols.iter().any(|s| {
                    s.name.starts_with("go:link.pkghash.") || s.name.starts_with("go.link.pkghash.")
                }) && artifact.relocations.iter().any(|r| {
                    artifact.relocation_symbol(r).is_some_and(|s| {
                        s.name.starts_with("go:link.pkghash.")
                            || s.name.starts_with("go.link.pkghash.")
                    })
                }) =>
            {
                GoRole::Plugin
            }
            _ => GoRole::Other,
        },
    };

    let mut facts = GoFacts {
        version: raw.version,
        parsed_version,
        role,
        build_info: raw.source,
        main_path: info.path,
        main_module: info.main,
        deps: info.deps,
        settings: info.settings,
        plugin_path: None,
        package_hashes: Vec::new(),
        hash_order: HashOrder::LookupTable,
        hash_order_detail: String::new(),
        moduledata_layout: layout,
        module_data: None,
        exports: Vec::new(),
        exports_source: String::new(),
        init_env_reads: Vec::new(),
        init_env: InitEnvScan::NotScanned {
            reason: "not a plugin".into(),
        },
        problems,
    };

    if role == GoRole::Plugin {
        read_plugin(&image, &mut facts);
    } else {
        facts.package_hashes = dynsym_hashes(&image);
        facts.hash_order = HashOrder::LookupTable;
        facts.hash_order_detail = if facts.package_hashes.is_empty() {
            "no go:link.pkghashbytes.* symbols in .dynsym (a binary that does not import \"plugin\" has none)".into()
        } else {
            format!(
                "{} go:link.pkghashbytes.* symbols of .dynsym, sorted by path (what a plugin's runtimehash pointers bind to)",
                facts.package_hashes.len()
            )
        };
    }
    Some(facts)
}

fn read_plugin(image: &Image, facts: &mut GoFacts) {
    // A big plugin reads its `.dynsym` package hashes, and later scans its init code, on
    // a second thread (about 0.4 ms of a 15 MB plugin's 1.1 ms of Go facts).
    let parallel = image.data.len() >= PARALLEL_BYTES;
    let (tables, own) = alongside(
        parallel,
        || {
            let layout = facts.moduledata_layout.as_ref();
            moduledata::read_plugin_tables(image, layout, &mut facts.problems)
        },
        || dynsym_hashes(image),
    );
    facts.plugin_path = tables.plugin_path;
    facts.module_data = tables.module_data;
    match tables.order {
        Some((order, detail)) if !tables.hashes.is_empty() => {
            // The table's link-time hashes are what the runtime compares; check that the
            // plugin's own pkghashbytes agree.
            let differing: Vec<&str> = tables
                .hashes
                .iter()
                .filter(|h| own.iter().any(|o| o.path == h.path && o.hash != h.hash))
                .map(|h| h.path.as_str())
                .collect();
            if !differing.is_empty() {
                facts.problems.push(format!(
                    "{} pkghashes entries differ from the plugin's own go:link.pkghashbytes (e.g. {})",
                    differing.len(),
                    differing[0]
                ));
            }
            facts.package_hashes = tables.hashes;
            facts.hash_order = order;
            facts.hash_order_detail = detail;
        }
        _ => {
            facts.package_hashes = own;
            facts.hash_order = HashOrder::Unknown;
            facts.hash_order_detail = format!(
                "the plugin's pkghashes table was not found; {} go:link.pkghashbytes.* symbols of .dynsym, sorted by path: the package Go reports first cannot be told",
                facts.package_hashes.len()
            );
            facts
                .problems
                .push("plugin pkghashes table not found".into());
        }
    }
    match &facts.plugin_path {
        None => facts.problems.push("plugin path not found".into()),
        Some(pp) if pp.is_empty() => facts.problems.push("plugin path is empty".into()),
        Some(_) => {}
    }
    let Some(pp) = facts.plugin_path.clone().filter(|p| !p.is_empty()) else {
        facts.init_env = InitEnvScan::NotScanned {
            reason: "plugin path unknown".into(),
        };
        return;
    };
    let ((), (names, scan)) = alongside(
        parallel,
        || {
            read_exports(image, &pp, tables.ptab, facts);
            types::attach(image, facts);
        },
        || initenv::scan(image, &pp),
    );
    facts.init_env_reads = names;
    facts.init_env = scan;
}

fn read_exports(
    image: &Image,
    pp: &str,
    ptab: Option<Vec<(String, Option<bool>)>>,
    facts: &mut GoFacts,
) {
    let prefix = format!("{pp}.");
    // Dynamic symbols under the plugin path, by name.
    let dynsyms: std::collections::HashMap<&str, SymbolKind> = image
        .art
        .symbols
        .iter()
        .filter(|s| s.defined)
        .filter_map(|s| Some((s.name.strip_prefix(&prefix)?, s.kind)))
        .collect();
    let kind_of = |name: &str, from_ptab: Option<bool>| match (from_ptab, dynsyms.get(name)) {
        (Some(true), _) | (None, Some(SymbolKind::Func)) => ExportKind::Func,
        (Some(false), _) | (None, Some(SymbolKind::Object)) => ExportKind::Var,
        _ => ExportKind::Unknown,
    };
    match ptab {
        Some(entries) => {
            facts.exports_source = "ptab".into();
            facts.exports = entries
                .into_iter()
                .map(|(name, is_func)| GoExport {
                    kind: kind_of(&name, is_func),
                    symbol: format!("{prefix}{name}"),
                    in_dynsym: dynsyms.contains_key(name.as_str()),
                    name,
                    type_: None,
                })
                .collect();
        }
        None => {
            facts.exports_source = "dynsym".into();
            let mut names: Vec<(&str, SymbolKind)> = dynsyms
                .iter()
                .filter(|(n, _)| is_exported_ident(n))
                .map(|(n, k)| (*n, *k))
                .collect();
            names.sort_by(|a, b| a.0.cmp(b.0));
            facts.exports = names
                .into_iter()
                .filter(|(_, k)| matches!(k, SymbolKind::Func | SymbolKind::Object))
                .map(|(name, _)| GoExport {
                    name: name.to_string(),
                    kind: kind_of(name, None),
                    symbol: format!("{prefix}{name}"),
                    in_dynsym: true,
                    type_: None,
                })
                .collect();
        }
    }
}

/// A Go exported identifier: an upper-case first letter, then letters, digits, `_`.
fn is_exported_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(char::is_uppercase) && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// `go:link.pkghashbytes.<path>` (`go.link.` before Go 1.20) of `.dynsym`, sorted by path.
fn dynsym_hashes(image: &Image) -> Vec<PackageHash> {
    let mut out: Vec<PackageHash> = image
        .art
        .symbols
        .iter()
        .filter(|s| s.defined)
        .filter_map(|s| {
            let path = s
                .name
                .strip_prefix("go:link.pkghashbytes.")
                .or_else(|| s.name.strip_prefix("go.link.pkghashbytes."))?;
            let hash: [u8; 8] = image.bytes(s.value, 8)?.try_into().ok()?;
            Some(PackageHash {
                path: path.to_string(),
                hash,
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    out
}

#[cfg(test)]
mod tests;
