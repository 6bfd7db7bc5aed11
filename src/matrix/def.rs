//! The matrix definition: a TOML file of claims, named builds and rows.
//!
//! ```toml
//! schema = 1
//! go = "1.26.6"                       # Go release of builds that do not name one
//! sources = "../tests/fixtures/src"   # source tree, relative to this file
//!
//! [build.host]                        # a named build rows can use
//! kind = "go-host"
//! dir = "loadhost"
//! protocol = "loadhost"
//!
//! [[claim]]
//! id = "hash-flags"
//! text = "-trimpath on one side only breaks plugin.Open"
//! source = "facts: go-plugin-failure-modes.md"
//!
//! [[row]]
//! id = "trimpath-plugin-only"
//! title = "-trimpath on the plugin only"
//! claim = "hash-flags"
//! host = "host"
//! plugins = [{ use = "greeter", flags = ["-trimpath"] }]
//! says = "package-mismatch"           # what the claim says happens
//! expect = "package-mismatch"         # what was measured (a regression check)
//! ```
//!
//! A Go build's `goarch = "arm64"` (or `"386"`, ...) cross-compiles it ([`super::cross`]);
//! a row's host of another architecture runs under qemu-user or natively.
//!
//! [`Definition::expand`] turns the rows into [`Row`]s: every build resolved to a
//! concrete [`Build`] (named builds merged, the Go release filled in, `repeat` unrolled),
//! the `--go` releases applied, `--only`/`--skip` and `--shard` selected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::toolchain;

/// The version of the definition format this plugctl reads.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    schema: u32,
    #[serde(default)]
    title: Option<String>,
    go: String,
    sources: String,
    #[serde(default)]
    build: BTreeMap<String, BuildSpec>,
    #[serde(default, rename = "claim")]
    claims: Vec<Claim>,
    #[serde(default, rename = "row")]
    rows: Vec<RowDef>,
}

/// A statement the matrix tests, with where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub id: String,
    /// The claim in words.
    pub text: String,
    /// Where it comes from: `seed article §2.5`, `facts: …`.
    pub source: String,
    /// The original wording, when it is a quotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// What a build makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `go build -buildmode=plugin`.
    GoPlugin,
    /// `go build` of a program that loads plugins.
    GoHost,
    /// A C shared object (`cc -shared -fPIC`).
    CShared,
    /// A C program that loads shared objects.
    CHost,
}

impl Kind {
    pub fn is_go(self) -> bool {
        matches!(self, Kind::GoPlugin | Kind::GoHost)
    }

    pub fn is_host(self) -> bool {
        matches!(self, Kind::GoHost | Kind::CHost)
    }
}

/// How a host reports: `HOST PLUGIN...` printing `OK <path>` or `ERR <path>: <error>`
/// per plugin (`loadhost`: plugin.Open + Lookup; `dlhost`: dlopen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Loadhost,
    Dlhost,
}

/// A build as written: every field optional so that `use = "NAME"` can override some.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSpec {
    /// A named build (`[build.NAME]`) this one starts from.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    pub kind: Option<Kind>,
    /// Go: the package directory; C: the directory the compiler runs in. Relative to
    /// the source tree.
    pub dir: Option<String>,
    /// Go: build these files instead of the package (plugin path `plugin/unnamed-…`);
    /// C: the sources (relative to `dir`).
    pub files: Option<Vec<String>>,
    /// Go release; default: the matrix's (or each `--go` release).
    pub go: Option<String>,
    /// Go: the target architecture (`arm64`, `386`, ...): sets `GOARCH` and the C cross
    /// compiler's environment ([`super::cross::build_env`]); `env` still wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goarch: Option<String>,
    /// Build environment (`CGO_ENABLED`, `GOARCH`, `GOAMD64`, `CC`, ...); merged over the base.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `go build` flags, or C compiler flags; appended to the base's.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Go: `module = "dir"` (relative to the source tree) for this build only.
    #[serde(default)]
    pub replace: BTreeMap<String, String>,
    /// C compiler (default `gcc`).
    pub cc: Option<String>,
    /// C shared objects: `-Wl,-soname,NAME`.
    pub soname: Option<String>,
    /// Output file name (default from the directory or first source).
    pub name: Option<String>,
    /// `strip --strip-all` the output.
    pub strip: Option<bool>,
    /// Row libraries (`libs`) to link against: their directory goes on `-L` (`CGO_LDFLAGS`
    /// for Go, the command line for C).
    #[serde(default)]
    pub link: Vec<String>,
    /// Hosts: how the host reports.
    pub protocol: Option<Protocol>,
    /// Plugins: N copies, `{i}` (1..=N) replaced in `name`, `flags` and `env` values.
    pub repeat: Option<u32>,
}

/// A build named in place (`"host"`) or written out.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum BuildRef {
    Name(String),
    Spec(Box<BuildSpec>),
}

// By hand rather than `untagged`, so that a mistake inside a table (an unknown key, a
// wrong type) is reported as such instead of "did not match any variant".
impl<'de> Deserialize<'de> for BuildRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = BuildRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the name of a [build.NAME] or a build table")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<BuildRef, E> {
                Ok(BuildRef::Name(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<BuildRef, A::Error> {
                let spec =
                    BuildSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(BuildRef::Spec(Box::new(spec)))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Which runtime observes the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// The row's own host program, run with the plugins (its protocol's output parsed).
    Host,
    /// `plugctl load`'s runtime (sandboxed children, a Go harness mirroring the host):
    /// needed for env timing, hot reload and quotas.
    Runtime,
}

/// How to load, as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadDef {
    pub via: Option<Via>,
    /// Host arguments before the plugins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment of the load (on top of a cleaned one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Runtime: set `env` after plugin.Open instead of before.
    #[serde(default, skip_serializing_if = "is_false")]
    pub env_after_open: bool,
    /// `lib:NAME` (a row library's directory) or a directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ld_library_path: Vec<String>,
    /// Runtime: open N rebuilt copies one after another (hot reload).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reload: usize,
    /// dlopen with RTLD_LAZY (C hosts).
    #[serde(default, skip_serializing_if = "is_false")]
    pub lazy: bool,
    /// Wall-clock limit of one load, e.g. `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Runtime quotas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pids: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl LoadDef {
    /// Options only `plugctl load`'s runtime implements.
    fn runtime_only(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.env_after_open {
            v.push("env_after_open");
        }
        if self.reload > 0 {
            v.push("reload");
        }
        for (set, name) in [
            (self.memory.is_some(), "memory"),
            (self.cpu_time.is_some(), "cpu_time"),
            (self.max_pids.is_some(), "max_pids"),
            (self.open_files.is_some(), "open_files"),
            (self.cpus.is_some(), "cpus"),
        ] {
            if set {
                v.push(name);
            }
        }
        v
    }
}

/// Conditions on what happened, as written: a string (every plugin's outcome), a list
/// (one outcome per plugin), or a table `{ outcome = …, env = "missed",
/// goroutines_per_reload = ">0" }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Conditions {
    One(String),
    PerPlugin(Vec<String>),
    Facts(BTreeMap<String, Cond>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cond {
    One(String),
    List(Vec<String>),
}

impl Conditions {
    /// `fact → wanted values` (`outcome` has one entry for all plugins, or one per plugin).
    pub fn normalized(&self) -> BTreeMap<String, Vec<String>> {
        match self {
            Conditions::One(s) => BTreeMap::from([("outcome".to_string(), vec![s.clone()])]),
            Conditions::PerPlugin(v) => BTreeMap::from([("outcome".to_string(), v.clone())]),
            Conditions::Facts(m) => m
                .iter()
                .map(|(k, c)| {
                    let v = match c {
                        Cond::One(s) => vec![s.clone()],
                        Cond::List(v) => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowDef {
    id: String,
    title: String,
    claim: String,
    #[serde(default)]
    host: Option<BuildRef>,
    plugins: Vec<BuildRef>,
    #[serde(default)]
    libs: BTreeMap<String, BuildRef>,
    #[serde(default)]
    load: LoadDef,
    says: Conditions,
    #[serde(default)]
    expect: Option<Conditions>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    needs: Vec<String>,
    #[serde(default)]
    notes: Option<String>,
}

/// A build with everything decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    pub kind: Kind,
    /// Relative to the source tree; `""` is its root.
    pub dir: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Go builds: the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replace: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soname: Option<String>,
    /// Output file name, unique within the row.
    pub name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub strip: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
}

impl Build {
    /// One line: `greeter go1.26.6 -trimpath GOAMD64=v3`.
    pub fn label(&self) -> String {
        let what = if self.dir.is_empty() {
            self.files
                .first()
                .cloned()
                .unwrap_or_else(|| self.name.clone())
        } else if !self.files.is_empty() && !self.kind.is_go() {
            format!("{}/{}", self.dir, self.files.join(","))
        } else {
            self.dir.clone()
        };
        let mut parts = vec![what];
        if let Some(go) = &self.go {
            parts.push(format!("go{go}"));
        }
        if let Some(cc) = &self.cc {
            parts.push(cc.clone());
        }
        parts.extend(self.flags.iter().cloned());
        parts.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        parts.extend(self.replace.iter().map(|(m, d)| format!("{m}=>{d}")));
        if self.strip {
            parts.push("+strip".into());
        }
        parts.join(" ")
    }

    /// The C compiler this build needs (Go builds use one for cgo).
    pub fn compiler(&self) -> Option<String> {
        match self.kind {
            Kind::CShared | Kind::CHost => Some(self.cc.clone().unwrap_or_else(|| "gcc".into())),
            Kind::GoPlugin | Kind::GoHost => {
                if self.env.get("CGO_ENABLED").is_some_and(|v| v == "0") {
                    return None;
                }
                if let Some(cc) = self.env.get("CC") {
                    // `gcc -m32`: the program is the first word.
                    return cc.split_whitespace().next().map(str::to_string);
                }
                let goarch = self.env.get("GOARCH").map(String::as_str);
                match goarch {
                    Some(a) if a != crate::gobuild::mirror::machine_goarch() => {
                        crate::gobuild::mirror::cross_compiler(a).map(|(cc, _)| cc.to_string())
                    }
                    _ => Some("gcc".into()),
                }
            }
        }
    }
}

/// How to load, decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Load {
    pub via: Via,
    #[serde(flatten)]
    pub options: LoadDef,
}

/// One row, ready to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// The row's id; `ID@VERSION` when several `--go` releases run it.
    pub id: String,
    /// The id in the definition.
    pub base_id: String,
    pub title: String,
    pub claim: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Build>,
    pub plugins: Vec<Build>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub libs: BTreeMap<String, Build>,
    pub load: Load,
    /// What the claim says happens.
    pub says: BTreeMap<String, Vec<String>>,
    /// What was measured when the row was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Programs the row needs on PATH (given and derived: compilers, `strip`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The `--go` release this instance was made for (rows naming no release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_variant: Option<String>,
}

/// A parsed definition and where its relative paths start.
#[derive(Debug, Clone)]
pub struct Definition {
    pub title: String,
    /// Where it came from: a path, or `built-in default`.
    pub origin: String,
    /// The source tree (absolute, or relative to the embedded tree for the built-in one).
    pub sources: PathBuf,
    pub go: String,
    pub claims: Vec<Claim>,
    file: File,
}

/// What to run of a definition.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--go`: releases for rows that name none.
    pub go: Vec<String>,
    /// `--only`: patterns (`ID`, glob `*`, `claim:ID`, `tag:T`).
    pub only: Vec<String>,
    pub skip: Vec<String>,
    /// `--shard I/N` as (I, N), 1-based.
    pub shard: Option<(usize, usize)>,
}

impl Definition {
    /// Parses `text`; `base` is the directory relative paths start from.
    pub fn parse(text: &str, base: &Path, origin: &str) -> Result<Definition> {
        let file: File = toml::from_str(text)
            .with_context(|| format!("{origin}: not a valid matrix definition"))?;
        if file.schema != SCHEMA {
            bail!(
                "{origin}: schema {} (this plugctl reads schema {SCHEMA})",
                file.schema
            );
        }
        let go = toolchain::normalize_version(&file.go).with_context(|| format!("{origin}: go"))?;
        let mut seen = std::collections::BTreeSet::new();
        for c in &file.claims {
            if !seen.insert(c.id.clone()) {
                bail!("{origin}: claim `{}` is defined twice", c.id);
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for r in &file.rows {
            if !ids.insert(r.id.clone()) {
                bail!("{origin}: row `{}` is defined twice", r.id);
            }
            if !valid_id(&r.id) {
                bail!(
                    "{origin}: row id `{}`: use letters, digits, `.`, `_` and `-`",
                    r.id
                );
            }
            if !seen.contains(&r.claim) {
                bail!(
                    "{origin}: row `{}` tests claim `{}`, which is not defined",
                    r.id,
                    r.claim
                );
            }
        }
        if file.rows.is_empty() {
            bail!("{origin}: no [[row]]");
        }
        let def = Definition {
            title: file
                .title
                .clone()
                .unwrap_or_else(|| "plugctl matrix".into()),
            origin: origin.to_string(),
            sources: clean(&base.join(&file.sources)),
            go,
            claims: file.claims.clone(),
            file,
        };
        // Resolve every row once so that mistakes show before anything is built.
        for r in &def.file.rows {
            def.resolve_row(r, &def.go, None)
                .with_context(|| format!("{origin}: row `{}`", r.id))?;
        }
        Ok(def)
    }

    /// Reads a definition file.
    pub fn read(path: &Path) -> Result<Definition> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        Definition::parse(&text, &base, &path.display().to_string())
    }

    /// Every row id, in file order.
    pub fn row_ids(&self) -> Vec<String> {
        self.file.rows.iter().map(|r| r.id.clone()).collect()
    }

    /// The rows to run, in file order: `--go` applied, then `--only`/`--skip`, then the shard.
    /// Also returns every selected row before sharding (for the matrix hash).
    pub fn expand(&self, selection: &Selection) -> Result<(Vec<Row>, Vec<Row>)> {
        let versions: Vec<String> = if selection.go.is_empty() {
            vec![self.go.clone()]
        } else {
            let mut v: Vec<String> = Vec::new();
            for given in &selection.go {
                let n = toolchain::normalize_version(given)?;
                if !v.contains(&n) {
                    v.push(n);
                }
            }
            v
        };
        for p in selection.only.iter().chain(&selection.skip) {
            self.check_pattern(p)?;
        }
        let mut all = Vec::new();
        for r in &self.file.rows {
            let pinned = self.row_is_pinned(r)?;
            if pinned {
                all.push(self.resolve_row(r, &self.go, None)?);
            } else if versions.len() == 1 {
                let variant = (!selection.go.is_empty()).then(|| versions[0].clone());
                all.push(self.resolve_row(r, &versions[0], variant)?);
            } else {
                for v in &versions {
                    all.push(self.resolve_row(r, v, Some(v.clone()))?);
                }
            }
        }
        let selected: Vec<Row> = all
            .into_iter()
            .filter(|row| {
                (selection.only.is_empty() || selection.only.iter().any(|p| row_matches(row, p)))
                    && !selection.skip.iter().any(|p| row_matches(row, p))
            })
            .collect();
        if selected.is_empty() {
            bail!("no row selected (--only/--skip leave nothing)");
        }
        let sharded = match selection.shard {
            None => selected.clone(),
            Some((i, n)) => selected
                .iter()
                .enumerate()
                .filter(|(k, _)| k % n == i - 1)
                .map(|(_, r)| r.clone())
                .collect(),
        };
        Ok((sharded, selected))
    }

    fn check_pattern(&self, p: &str) -> Result<()> {
        if let Some(claim) = p.strip_prefix("claim:") {
            if !self.claims.iter().any(|c| glob(claim, &c.id)) {
                bail!(
                    "--only/--skip {p}: no claim matches (claims: {})",
                    self.claims
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        } else if let Some(tag) = p.strip_prefix("tag:") {
            if !self
                .file
                .rows
                .iter()
                .any(|r| r.tags.iter().any(|t| glob(tag, t)))
            {
                bail!("--only/--skip {p}: no row has a matching tag");
            }
        } else if !self.file.rows.iter().any(|r| glob(p, &r.id)) {
            bail!("--only/--skip {p}: no row id matches (see `plugctl matrix --list`)");
        }
        Ok(())
    }

    /// Whether every Go build of the row names its release (then `--go` does not apply).
    fn row_is_pinned(&self, r: &RowDef) -> Result<bool> {
        let mut refs: Vec<&BuildRef> = r.plugins.iter().collect();
        refs.extend(r.host.iter());
        refs.extend(r.libs.values());
        for b in refs {
            let spec = self.merged(b, 0)?;
            if spec.kind.is_some_and(Kind::is_go) && spec.go.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A build reference with its named bases merged in.
    fn merged(&self, b: &BuildRef, depth: usize) -> Result<BuildSpec> {
        if depth > 8 {
            bail!("named builds refer to each other in a loop");
        }
        let spec = match b {
            BuildRef::Name(n) => BuildSpec {
                base: Some(n.clone()),
                ..Default::default()
            },
            BuildRef::Spec(s) => (**s).clone(),
        };
        let Some(base_name) = spec.base.clone() else {
            return Ok(spec);
        };
        let named = self.file.build.get(&base_name).with_context(|| {
            format!("no build named `{base_name}` (define [build.{base_name}])")
        })?;
        let base = self.merged(&BuildRef::Spec(Box::new(named.clone())), depth + 1)?;
        let mut env = base.env.clone();
        env.extend(spec.env.clone());
        let mut replace = base.replace.clone();
        replace.extend(spec.replace.clone());
        let mut flags = base.flags.clone();
        flags.extend(spec.flags.clone());
        let mut link = base.link.clone();
        link.extend(spec.link.iter().filter(|l| !base.link.contains(l)).cloned());
        Ok(BuildSpec {
            base: None,
            kind: spec.kind.or(base.kind),
            dir: spec.dir.or(base.dir),
            files: spec.files.or(base.files),
            go: spec.go.or(base.go),
            goarch: spec.goarch.or(base.goarch),
            env,
            flags,
            replace,
            cc: spec.cc.or(base.cc),
            soname: spec.soname.or(base.soname),
            name: spec.name.or(base.name),
            strip: spec.strip.or(base.strip),
            link,
            protocol: spec.protocol.or(base.protocol),
            repeat: spec.repeat.or(base.repeat),
        })
    }

    fn resolve_build(&self, spec: &BuildSpec, go: &str, role: &str) -> Result<Build> {
        let kind = spec
            .kind
            .with_context(|| format!("{role}: no `kind` (go-plugin, go-host, c-shared, c-host)"))?;
        let dir = spec.dir.clone().unwrap_or_default();
        let files = spec.files.clone().unwrap_or_default();
        check_relative(&dir).with_context(|| format!("{role}: dir"))?;
        for f in &files {
            check_relative(f).with_context(|| format!("{role}: files"))?;
        }
        for d in spec.replace.values() {
            check_relative(d).with_context(|| format!("{role}: replace"))?;
        }
        if !kind.is_go() && files.is_empty() {
            bail!("{role}: a C build needs `files`");
        }
        if kind.is_go() && spec.cc.is_some() {
            bail!("{role}: `cc` is for C builds; set env CC for cgo");
        }
        let env = match &spec.goarch {
            Some(_) if !kind.is_go() => bail!("{role}: `goarch` is for Go builds; set cc"),
            Some(goarch) => {
                let mut env = super::cross::build_env(goarch).with_context(|| role.to_string())?;
                env.extend(spec.env.clone());
                env
            }
            None => spec.env.clone(),
        };
        if kind.is_host() != spec.protocol.is_some() {
            if kind.is_host() {
                bail!("{role}: a host needs `protocol` (loadhost or dlhost)");
            }
            bail!("{role}: `protocol` is for hosts");
        }
        let go = if kind.is_go() {
            Some(toolchain::normalize_version(
                spec.go.as_deref().unwrap_or(go),
            )?)
        } else {
            None
        };
        let stem = |p: &str| {
            let name = Path::new(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.split('.').next().unwrap_or_default().to_string()
        };
        let name = match &spec.name {
            Some(n) => n.clone(),
            None => match kind {
                Kind::GoPlugin => format!(
                    "{}.so",
                    if dir.is_empty() {
                        stem(files.first().map(String::as_str).unwrap_or("plugin"))
                    } else {
                        stem(&dir)
                    }
                ),
                Kind::GoHost => {
                    if dir.is_empty() {
                        "host".into()
                    } else {
                        stem(&dir)
                    }
                }
                Kind::CShared => format!("lib{}.so", stem(&files[0]).trim_start_matches("lib")),
                Kind::CHost => stem(&files[0]),
            },
        };
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            bail!("{role}: output name `{name}` must be a plain file name");
        }
        Ok(Build {
            kind,
            dir,
            files,
            go,
            env,
            flags: spec.flags.clone(),
            replace: spec.replace.clone(),
            cc: spec.cc.clone(),
            soname: spec.soname.clone(),
            name,
            strip: spec.strip.unwrap_or(false),
            link: spec.link.clone(),
            protocol: spec.protocol,
        })
    }

    fn resolve_row(&self, r: &RowDef, go: &str, variant: Option<String>) -> Result<Row> {
        let host = match &r.host {
            Some(h) => {
                let b = self.resolve_build(&self.merged(h, 0)?, go, "host")?;
                if !b.kind.is_host() {
                    bail!("host: kind {:?} is not a host (go-host or c-host)", b.kind);
                }
                Some(b)
            }
            None => None,
        };
        let mut libs = BTreeMap::new();
        for (name, l) in &r.libs {
            let b = self.resolve_build(&self.merged(l, 0)?, go, &format!("libs.{name}"))?;
            if b.kind != Kind::CShared {
                bail!("libs.{name}: a library must be kind = \"c-shared\"");
            }
            libs.insert(name.clone(), b);
        }
        let mut plugins = Vec::new();
        for (i, p) in r.plugins.iter().enumerate() {
            let spec = self.merged(p, 0)?;
            let n = spec.repeat.unwrap_or(1);
            if n == 0 || n > 64 {
                bail!("plugins[{i}]: repeat must be 1..=64");
            }
            for k in 1..=n {
                let mut s = spec.clone();
                if spec.repeat.is_some() {
                    let sub = |t: &str| t.replace("{i}", &k.to_string());
                    s.name = s.name.as_deref().map(sub);
                    s.flags = s.flags.iter().map(|f| sub(f)).collect();
                    s.env = s.env.iter().map(|(a, b)| (a.clone(), sub(b))).collect();
                }
                let b = self.resolve_build(&s, go, &format!("plugins[{i}]"))?;
                if b.kind.is_host() {
                    bail!("plugins[{i}]: kind {:?} is a host", b.kind);
                }
                plugins.push(b);
            }
        }
        if plugins.is_empty() {
            bail!("no plugins");
        }
        // Unique output names within the row.
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for p in &plugins {
            *counts.entry(p.name.clone()).or_default() += 1;
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for p in &mut plugins {
            if counts[&p.name] > 1 {
                let k = seen.entry(p.name.clone()).or_default();
                *k += 1;
                let (stem, ext) = p
                    .name
                    .rsplit_once('.')
                    .map(|(a, b)| (a.to_string(), format!(".{b}")))
                    .unwrap_or((p.name.clone(), String::new()));
                p.name = format!("{stem}-{k}{ext}");
            }
        }
        for b in plugins.iter().chain(host.iter()) {
            for l in &b.link {
                if !libs.contains_key(l) {
                    bail!("links `{l}`, which is not in the row's libs");
                }
            }
        }
        for d in &r.load.ld_library_path {
            if let Some(l) = d.strip_prefix("lib:")
                && !libs.contains_key(l)
            {
                bail!("load.ld_library_path: `{d}` names no row library");
            }
        }
        let runtime_only = r.load.runtime_only();
        let via = match r.load.via {
            Some(Via::Host) if !runtime_only.is_empty() => {
                bail!("load: {} need via = \"runtime\"", runtime_only.join(", "))
            }
            Some(Via::Host) | None if host.is_none() => {
                if r.load.via == Some(Via::Host) {
                    bail!("load: via = \"host\" needs a host");
                }
                Via::Runtime
            }
            Some(v) => v,
            None if runtime_only.is_empty() => Via::Host,
            None => Via::Runtime,
        };
        if via == Via::Runtime {
            if host.as_ref().is_some_and(|h| h.kind != Kind::GoHost) {
                bail!("load: the runtime mirrors Go hosts only");
            }
            if let Some(target) = host.as_ref().and_then(super::cross::target_of)
                && target.goarch != crate::gobuild::mirror::machine_goarch()
            {
                bail!(
                    "load: the runtime loads on this machine's architecture only (host: {}); use via = \"host\"",
                    target.name
                );
            }
            if !r.load.args.is_empty() {
                bail!("load: args are for via = \"host\"");
            }
            if r.load.reload > 0 && (plugins.len() != 1 || plugins[0].kind != Kind::GoPlugin) {
                bail!("load: reload needs exactly one Go plugin");
            }
        }
        for t in [&r.load.timeout, &r.load.cpu_time].into_iter().flatten() {
            crate::runtime::contract::parse_duration(t).with_context(|| format!("load: `{t}`"))?;
        }
        if let Some(m) = &r.load.memory {
            crate::runtime::contract::parse_size(m)
                .with_context(|| format!("load: memory `{m}`"))?;
        }
        let says = r.says.normalized();
        let expect = r.expect.as_ref().map(Conditions::normalized);
        for (what, c) in
            std::iter::once(("says", &says)).chain(expect.as_ref().map(|e| ("expect", e)))
        {
            super::claims::check_conditions(c, plugins.len()).with_context(|| what.to_string())?;
        }
        let mut needs: Vec<String> = r.needs.clone();
        for b in plugins.iter().chain(host.iter()).chain(libs.values()) {
            if let Some(cc) = b.compiler() {
                needs.push(cc);
            }
            if b.strip {
                needs.push("strip".into());
            }
        }
        needs.extend(host.as_ref().and_then(super::cross::run_needs));
        needs.sort();
        needs.dedup();
        let id = match &variant {
            Some(v) => format!("{}@{v}", r.id),
            None => r.id.clone(),
        };
        Ok(Row {
            id,
            base_id: r.id.clone(),
            title: r.title.clone(),
            claim: r.claim.clone(),
            host,
            plugins,
            libs,
            load: Load {
                via,
                options: r.load.clone(),
            },
            says,
            expect,
            tags: r.tags.clone(),
            needs,
            notes: r.notes.clone(),
            go_variant: variant,
        })
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn check_relative(p: &str) -> Result<()> {
    let path = Path::new(p);
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!("`{p}` must be relative to the source tree, without `..`");
    }
    Ok(())
}

/// Lexically normalises `a/b/../c` to `a/c`.
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Whether `--only`/`--skip` pattern `p` selects the row.
pub fn row_matches(row: &Row, p: &str) -> bool {
    if let Some(c) = p.strip_prefix("claim:") {
        glob(c, &row.claim)
    } else if let Some(t) = p.strip_prefix("tag:") {
        row.tags.iter().any(|tag| glob(t, tag))
    } else {
        glob(p, &row.id) || glob(p, &row.base_id)
    }
}

/// `I/N` with 1 ≤ I ≤ N.
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let (i, n) = text
        .split_once('/')
        .with_context(|| format!("--shard {text}: expected I/N, e.g. 1/4"))?;
    let i: usize = i
        .trim()
        .parse()
        .with_context(|| format!("--shard {text}: I is not a number"))?;
    let n: usize = n
        .trim()
        .parse()
        .with_context(|| format!("--shard {text}: N is not a number"))?;
    if n == 0 || i == 0 || i > n {
        bail!("--shard {text}: need 1 ≤ I ≤ N");
    }
    Ok((i, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
schema = 1
go = "1.26.6"
sources = "src"

[build.host]
kind = "go-host"
dir = "loadhost"
protocol = "loadhost"

[build.greeter]
kind = "go-plugin"
dir = "greeter"

[[claim]]
id = "c"
text = "t"
source = "s"

[[row]]
id = "same"
title = "control"
claim = "c"
host = "host"
plugins = ["greeter"]
says = "ok"

[[row]]
id = "skew"
title = "patch skew"
claim = "c"
host = { use = "host", go = "1.26.5" }
plugins = [{ use = "greeter", go = "1.26.6", flags = ["-trimpath"] }]
says = "package-mismatch"

[[row]]
id = "tls"
title = "tls"
claim = "c"
host = { kind = "c-host", files = ["c/dlhost.c"], flags = ["-ldl"], protocol = "dlhost" }
plugins = [{ kind = "c-shared", files = ["c/tls_small.c"], flags = ["-DIDX={i}"], name = "libtls_{i}.so", repeat = 3 }]
says = ["ok", "ok", "static-tls"]
tags = ["c"]
"#;

    fn def() -> Definition {
        Definition::parse(SMALL, Path::new("/m"), "test").unwrap()
    }

    #[test]
    fn named_builds_merge_and_repeat_unrolls() {
        let (rows, _) = def().expand(&Selection::default()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].plugins[0].name, "greeter.so");
        assert_eq!(rows[0].host.as_ref().unwrap().go.as_deref(), Some("1.26.6"));
        assert_eq!(rows[1].host.as_ref().unwrap().go.as_deref(), Some("1.26.5"));
        assert_eq!(rows[1].plugins[0].flags, vec!["-trimpath"]);
        let tls = &rows[2];
        assert_eq!(tls.plugins.len(), 3);
        assert_eq!(tls.plugins[2].name, "libtls_3.so");
        assert_eq!(tls.plugins[2].flags, vec!["-DIDX=3"]);
        assert_eq!(tls.load.via, Via::Host);
        assert_eq!(def().sources, PathBuf::from("/m/src"));
    }

    #[test]
    fn go_versions_expand_unpinned_rows_only() {
        let sel = Selection {
            go: vec!["1.26.6".into(), "go1.27.3".into()],
            ..Default::default()
        };
        let (rows, _) = def().expand(&sel).unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["same@1.26.6", "same@1.27.3", "skew", "tls"]);
        assert_eq!(rows[1].plugins[0].go.as_deref(), Some("1.27.3"));
        let one = Selection {
            go: vec!["1.27.3".into()],
            ..Default::default()
        };
        let (rows, _) = def().expand(&one).unwrap();
        assert_eq!(rows[0].id, "same@1.27.3");
    }

    #[test]
    fn only_skip_and_shards() {
        let sel = Selection {
            only: vec!["s*".into()],
            ..Default::default()
        };
        assert_eq!(def().expand(&sel).unwrap().0.len(), 2);
        let sel = Selection {
            skip: vec!["tag:c".into()],
            ..Default::default()
        };
        assert_eq!(def().expand(&sel).unwrap().0.len(), 2);
        let sel = Selection {
            only: vec!["claim:c".into()],
            shard: Some((2, 2)),
            ..Default::default()
        };
        let (rows, all) = def().expand(&sel).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["skew"]
        );
        assert_eq!(all.len(), 3);
        assert!(
            def()
                .expand(&Selection {
                    only: vec!["nope".into()],
                    ..Default::default()
                })
                .is_err()
        );
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
        assert!(
            parse_shard("0/4").is_err() && parse_shard("5/4").is_err() && parse_shard("x").is_err()
        );
    }

    #[test]
    fn mistakes_are_reported_with_the_row() {
        let bad = SMALL.replace("plugins = [\"greeter\"]", "plugins = [\"nosuch\"]");
        let err = format!(
            "{:#}",
            Definition::parse(&bad, Path::new("/m"), "t").unwrap_err()
        );
        assert!(
            err.contains("row `same`") && err.contains("nosuch"),
            "{err}"
        );
        let bad = SMALL.replace("says = \"ok\"", "says = [\"ok\", \"ok\"]");
        assert!(Definition::parse(&bad, Path::new("/m"), "t").is_err());
        let bad = SMALL.replace("dir = \"greeter\"", "dir = \"../greeter\"");
        assert!(Definition::parse(&bad, Path::new("/m"), "t").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob("a*c", "abc") && glob("*", "") && glob("a*", "a") && glob("*c", "abc"));
        assert!(!glob("a*c", "abd") && !glob("abc", "ab"));
        assert!(glob("a*b*c", "a-b-c") && !glob("a*b*c", "a-c"));
    }
}
