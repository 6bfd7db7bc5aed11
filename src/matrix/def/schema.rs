//! The definition file's types, as written (TOML).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version of the definition format this plugctl reads.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    pub(super) schema: u32,
    #[serde(default)]
    pub(super) title: Option<String>,
    pub(super) go: String,
    pub(super) sources: String,
    #[serde(default)]
    pub(super) build: BTreeMap<String, BuildSpec>,
    #[serde(default, rename = "claim")]
    pub(super) claims: Vec<Claim>,
    #[serde(default, rename = "row")]
    pub(super) rows: Vec<RowDef>,
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
    /// compiler's environment ([`crate::matrix::cross::build_env`]); `env` still wins.
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

pub(super) fn is_false(b: &bool) -> bool {
    !*b
}

pub(super) fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl LoadDef {
    /// Options only `plugctl load`'s runtime implements.
    pub(super) fn runtime_only(&self) -> Vec<&'static str> {
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
pub(super) struct RowDef {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) claim: String,
    #[serde(default)]
    pub(super) host: Option<BuildRef>,
    pub(super) plugins: Vec<BuildRef>,
    #[serde(default)]
    pub(super) libs: BTreeMap<String, BuildRef>,
    #[serde(default)]
    pub(super) load: LoadDef,
    pub(super) says: Conditions,
    #[serde(default)]
    pub(super) expect: Option<Conditions>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    #[serde(default)]
    pub(super) needs: Vec<String>,
    #[serde(default)]
    pub(super) notes: Option<String>,
}
