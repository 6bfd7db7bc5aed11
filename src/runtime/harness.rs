//! The Go layer's host: a small Go program (`harness/main.go`) built with the toolchain
//! and hash-relevant flags of the plugin (or of the user's `--host`, or `--go VERSION`),
//! cached by content hash under `<plugctl cache>/harness/<key>/harness`.
//!
//! What is mirrored: the Go release, `-trimpath`, `-race`, `-msan`, `-asan`, `-gcflags`,
//! `-asmflags`, `-tags`, `CGO_ENABLED`, `GOAMD64` and `GOEXPERIMENT` (the settings that
//! change package hashes or the runtime), and, with a `--host`, the non-standard modules
//! the host shares with the plugins ([`link_host_modules`]): at the host's version, from
//! the directory the host compiled them from (recorded in its `pclntab` without
//! `-trimpath`), blank-imported so that `plugin.Open` compares the host's copy of their
//! packages, as in the real host. Not mirrored: `-ldflags` (link-time only; `-X` and
//! `-s -w` do not change hashes).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::digest::hex;
use crate::elf::Artifact;
use crate::golang::sources::FileTable;
use crate::golang::{GoFacts, Module, is_std_package, module_of};
use crate::toolchain::{self, Toolchain};

pub const SOURCE: &str = include_str!("harness/main.go");
const GO_MOD: &str = "module plugctl.local/harness\n\ngo 1.16\n";
/// Bump when the way the harness is built changes.
const BUILD_SCHEME: &str = "plugctl-harness-2";

/// How to build the harness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildPlan {
    /// `1.26.6`.
    pub go_version: String,
    /// `go build` flags, e.g. `-trimpath`.
    pub flags: Vec<String>,
    /// Environment for `go build`, e.g. `GOAMD64=v3`, `CGO_ENABLED=1`.
    pub env: Vec<(String, String)>,
    /// Whose build settings these are: `plugin PATH`, `host PATH`, `--go 1.26.6`.
    pub mirrors: String,
    /// Settings deliberately not mirrored, and why.
    pub notes: Vec<String>,
    /// The host's non-standard modules the harness links (see [`link_host_modules`]).
    pub modules: Vec<LinkedModule>,
}

/// A module the harness links as the host does: same version, same source directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkedModule {
    pub path: String,
    pub version: String,
    /// The directory the host compiled it from; the harness's `replace` target.
    pub dir: PathBuf,
    /// Its packages that the host and a plugin both link, blank-imported by the harness.
    pub packages: Vec<String>,
    /// SHA-256 of the directory's files, so an edited source rebuilds the harness.
    pub tree_hash: String,
}

impl BuildPlan {
    /// One line for the report: `go1.26.6 -trimpath GOAMD64=v3 (mirrors plugin x.so)`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("go{}", self.go_version)];
        parts.extend(self.flags.iter().cloned());
        parts.extend(
            self.env
                .iter()
                .filter(|(k, v)| k != "CGO_ENABLED" || v == "0")
                .map(|(k, v)| format!("{k}={v}")),
        );
        format!("{} (mirrors {})", parts.join(" "), self.mirrors)
    }
}

/// The build plan that mirrors `facts` (a plugin's or a host's build info).
pub fn plan_from(facts: &GoFacts, mirrors: String) -> Result<BuildPlan> {
    let Some(v) = &facts.parsed_version else {
        bail!("Go version {:?} not understood", facts.version);
    };
    if v.devel || v.pre.is_some() {
        bail!(
            "{} is a development or pre-release toolchain: plugctl can only install releases",
            facts.version
        );
    }
    let mut plan = BuildPlan {
        go_version: format!("{}.{}.{}", v.major, v.minor, v.patch),
        flags: Vec::new(),
        env: Vec::new(),
        mirrors,
        notes: Vec::new(),
        modules: Vec::new(),
    };
    let mut cgo = "1".to_string();
    for s in &facts.settings {
        let (k, val) = (s.key.as_str(), s.value.as_str());
        match k {
            "-trimpath" | "-race" | "-msan" | "-asan" if val == "true" => {
                plan.flags.push(k.to_string())
            }
            "-gcflags" | "-asmflags" | "-tags" if !val.is_empty() => {
                plan.flags.push(format!("{k}={val}"))
            }
            "-compiler" if val != "gc" => {
                bail!("built with -compiler={val}: plugctl builds harnesses with gc only")
            }
            "-ldflags" => plan
                .notes
                .push(format!("-ldflags={val} not mirrored (link-time only)")),
            "-pgo" => plan.notes.push(format!("-pgo={val} not mirrored")),
            "CGO_ENABLED" => cgo = val.to_string(),
            "GOARCH"
                if val
                    != std::env::consts::ARCH
                        .replace("x86_64", "amd64")
                        .replace("aarch64", "arm64") =>
            {
                bail!(
                    "built for GOARCH={val}: cannot run here ({})",
                    std::env::consts::ARCH
                )
            }
            "GOOS" if val != "linux" => bail!("built for GOOS={val}: cannot run here"),
            "GOAMD64" | "GOEXPERIMENT" | "GOARM64" | "GO386" | "GOARM" | "GORISCV64" => {
                plan.env.push((k.to_string(), val.to_string()))
            }
            _ => {}
        }
    }
    plan.env.push(("CGO_ENABLED".into(), cgo));
    Ok(plan)
}

/// A plan for `--go VERSION` with the flags of `facts` (when known).
pub fn plan_for_version(version: &str, facts: Option<&GoFacts>) -> Result<BuildPlan> {
    let version = toolchain::normalize_version(version)?;
    let mut plan = match facts {
        Some(f) => {
            let mut p = plan_from(f, String::new()).unwrap_or_else(|_| empty_plan(&version));
            p.go_version = version.clone();
            p
        }
        None => empty_plan(&version),
    };
    plan.mirrors = format!(
        "--go {version}{}",
        if facts.is_some() {
            " with the plugin's flags"
        } else {
            ""
        }
    );
    Ok(plan)
}

fn empty_plan(version: &str) -> BuildPlan {
    BuildPlan {
        go_version: version.to_string(),
        flags: Vec::new(),
        env: vec![("CGO_ENABLED".into(), "1".into())],
        mirrors: String::new(),
        notes: Vec::new(),
        modules: Vec::new(),
    }
}

/// Whether another module's `main` may import `path` (and whether that is useful: the
/// plugin's own module and `main` never bind to the host's copy).
pub fn importable(path: &str, plugin_module: Option<&str>) -> bool {
    let internal = path.split('/').any(|e| e == "internal");
    let own = plugin_module.is_some_and(|m| path == m || path.starts_with(&format!("{m}/")));
    !(internal
        || own
        || path.starts_with("vendor/")
        || path.starts_with("cmd/")
        || path.contains(".test")
        || ["main", "unsafe", "C"].contains(&path)
        || path.starts_with("go.shape"))
}

/// Adds to `plan` every non-standard module whose packages the host and one of
/// `plugins` both link, from the directory the host compiled it from. A module the
/// harness cannot reproduce (a `-trimpath` host records no directory; a module cache
/// this machine does not have) is named in `plan.notes` instead.
pub fn link_host_modules(
    plan: &mut BuildPlan,
    host: &GoFacts,
    host_artifact: &Artifact,
    plugins: &[&GoFacts],
) {
    let mut by_module: std::collections::BTreeMap<&str, (&Module, Vec<String>)> =
        std::collections::BTreeMap::new();
    for plugin in plugins {
        let own = plugin.main_module.as_ref().map(|m| m.path.as_str());
        for package in &plugin.package_hashes {
            let path = package.path.as_str();
            if is_std_package(path) || !importable(path, own) || host.package_hash(path).is_none() {
                continue;
            }
            let Some(module) = module_of(&host.deps, path) else {
                // A package of the host's own main module: no version to require.
                let note = format!(
                    "package {path} of the host's own module is not linked (a harness cannot require a main module); a mismatch in it is inspect's to predict"
                );
                if !plan.notes.contains(&note) {
                    plan.notes.push(note);
                }
                continue;
            };
            let entry = by_module
                .entry(module.path.as_str())
                .or_insert_with(|| (module, Vec::new()));
            if !entry.1.iter().any(|p| p == path) {
                entry.1.push(path.to_string());
            }
        }
    }
    if by_module.is_empty() {
        return;
    }
    let files = FileTable::read(host_artifact);
    for (path, (module, packages)) in by_module {
        let names: Vec<&str> = packages.iter().map(String::as_str).collect();
        let dir = match &module.replace {
            Some(r) => files.module_dir(path, &names, Some(&r.path)),
            None => files
                .module_cache(path, &module.version)
                .map(|cache| {
                    cache.join(format!(
                        "{}@{}",
                        crate::golang::sources::escape_module_path(path),
                        module.version
                    ))
                })
                .filter(|d| d.is_dir()),
        };
        let Some(dir) = dir.filter(|d| d.is_dir()) else {
            plan.notes.push(format!(
                "module {path} ({}) is not linked: the host records no source directory for it that exists here{}; a mismatch in it is inspect's to predict",
                packages.join(", "),
                if files.has_absolute_paths() { "" } else { " (built with -trimpath)" }
            ));
            continue;
        };
        let tree_hash = crate::digest::hash_tree(&dir, &[])
            .map(|(hash, _)| hash)
            .unwrap_or_default();
        plan.modules.push(LinkedModule {
            path: path.to_string(),
            version: module.version.clone(),
            dir,
            packages,
            tree_hash,
        });
    }
}

/// The harness's `go.mod`: the host's linked modules required and replaced by directory.
fn go_mod(plan: &BuildPlan) -> String {
    let mut text = GO_MOD.to_string();
    for m in &plan.modules {
        text.push_str(&format!(
            "\nrequire {} {}\nreplace {} => {}\n",
            m.path,
            m.version,
            m.path,
            m.dir.display()
        ));
    }
    text
}

/// `linked.go`: blank imports of the linked packages (none: no file).
fn linked_source(plan: &BuildPlan) -> Option<String> {
    let packages: Vec<&String> = plan.modules.iter().flat_map(|m| &m.packages).collect();
    if packages.is_empty() {
        return None;
    }
    Some(format!(
        "// Code generated by plugctl: the host's shared modules, linked as the host links them.\npackage main\n\nimport (\n{})\n",
        blank_imports(packages.iter().map(|p| p.as_str()))
    ))
}

/// Lines of an `import (…)` block that link `packages` without using them (`_ "path"`):
/// how both harnesses (this one and `build --load`'s) make `plugin.Open` compare the
/// host's copies of the packages it shares with a plugin.
pub fn blank_imports<'a>(packages: impl IntoIterator<Item = &'a str>) -> String {
    packages
        .into_iter()
        .map(|p| format!("\t_ {p:?}\n"))
        .collect()
}

/// A built harness.
#[derive(Debug, Clone, Serialize)]
pub struct Harness {
    pub path: PathBuf,
    pub key: String,
    /// Found in the cache (no build).
    pub cached: bool,
    /// Time to find or build it.
    pub ms: u64,
    pub toolchain: Toolchain,
    pub plan: BuildPlan,
}

/// The cache key: the harness source, the build scheme, the toolchain and the plan.
pub fn cache_key(plan: &BuildPlan, go: &Path) -> String {
    let mut h = Sha256::new();
    for part in [
        BUILD_SCHEME,
        SOURCE,
        GO_MOD,
        &plan.go_version,
        &go.display().to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for f in &plan.flags {
        h.update(f.as_bytes());
        h.update([1]);
    }
    for (k, v) in &plan.env {
        h.update(k.as_bytes());
        h.update([2]);
        h.update(v.as_bytes());
        h.update([3]);
    }
    for m in &plan.modules {
        for part in [
            &m.path,
            &m.version,
            &m.dir.display().to_string(),
            &m.tree_hash,
        ] {
            h.update(part.as_bytes());
            h.update([4]);
        }
        for p in &m.packages {
            h.update(p.as_bytes());
            h.update([5]);
        }
    }
    hex(&h.finalize()[..16])
}

/// The environment plugctl builds Go code in: the caller's, minus every `GO*`/`CGO_*`
/// setting, plus a fixed, offline, local-toolchain configuration and plugctl's shared
/// build cache.
pub fn go_build_command(tc: &Toolchain, env: &[(String, String)]) -> Command {
    let mut c = tc.command();
    for (k, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
        if k.starts_with("GO") || k.starts_with("CGO_") {
            c.env_remove(&k);
        }
    }
    let cache = toolchain::cache_dir();
    c.env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOWORK", "off")
        .env("GOENV", "off")
        .env("GOCACHE", cache.join("gocache"))
        .env("GOPATH", cache.join("gopath"));
    if std::env::var_os("CC").is_none() {
        c.env("CC", "gcc");
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Finds the harness for `plan` in the cache or builds it (installing the toolchain from
/// PyPI if needed).
pub fn ensure(plan: &BuildPlan, progress: &dyn Fn(&str)) -> Result<Harness> {
    let started = Instant::now();
    let tc = toolchain::ensure(&plan.go_version, progress)
        .with_context(|| format!("Go {} for the harness", plan.go_version))?;
    let key = cache_key(plan, &tc.go);
    let dir = toolchain::cache_dir().join("harness").join(&key);
    let binary = dir.join("harness");
    if binary.is_file() {
        return Ok(Harness {
            path: binary,
            key,
            cached: true,
            ms: started.elapsed().as_millis() as u64,
            toolchain: tc,
            plan: plan.clone(),
        });
    }
    progress(&format!("building the Go harness with {}", plan.describe()));
    let parent = dir.parent().expect("harness dir has a parent");
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    // Unique per call: threads of one plugctl (matrix rows) may build the same harness.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".build-{key}-"))
        .tempdir_in(parent)
        .with_context(|| format!("creating a build directory in {}", parent.display()))?
        .keep();
    std::fs::write(staging.join("main.go"), SOURCE)?;
    std::fs::write(staging.join("go.mod"), go_mod(plan))?;
    if let Some(linked) = linked_source(plan) {
        std::fs::write(staging.join("linked.go"), linked)?;
    }
    let mut cmd = go_build_command(&tc, &plan.env);
    cmd.current_dir(&staging)
        .arg("build")
        // The cache may sit inside someone's git work tree (a project's target/, run as
        // another user): VCS stamping would ask git, which refuses a tree it does not
        // own. The harness has no version to stamp, and stamping changes no package hash.
        .arg("-buildvcs=false")
        .args(&plan.flags)
        .arg("-o")
        .arg(staging.join("harness"))
        .arg(".");
    let output = cmd
        .output()
        .with_context(|| format!("running {}", tc.go.display()))?;
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        let text = String::from_utf8_lossy(&output.stderr);
        bail!(
            "building the harness with {} failed:\n{}",
            plan.describe(),
            text.trim()
        );
    }
    // What was built, for whoever looks into the cache (keys in the order they always had).
    #[derive(Serialize)]
    struct Meta<'a> {
        go: &'a Path,
        key: &'a str,
        plan: &'a BuildPlan,
    }
    let meta = Meta {
        go: &tc.go,
        key: &key,
        plan,
    };
    std::fs::write(
        staging.join("build.json"),
        serde_json::to_vec_pretty(&meta)?,
    )?;
    if std::fs::rename(&staging, &dir).is_err() {
        // Another plugctl built the same harness meanwhile: use theirs.
        let _ = std::fs::remove_dir_all(&staging);
    }
    if !binary.is_file() {
        bail!("the harness is not at {} after building", binary.display());
    }
    Ok(Harness {
        path: binary,
        key,
        cached: false,
        ms: started.elapsed().as_millis() as u64,
        toolchain: tc,
        plan: plan.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_follow_the_plan() {
        let mut a = empty_plan("1.26.6");
        let go = Path::new("/x/go");
        let k1 = cache_key(&a, go);
        assert_eq!(k1, cache_key(&a, go));
        a.flags.push("-trimpath".into());
        assert_ne!(k1, cache_key(&a, go));
        assert_eq!(k1.len(), 32);
    }
}

/// What the Go harness is asked to do: its stdin (the `spec` type in `harness/main.go`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct HarnessSpec {
    pub plugins: Vec<PluginSpec>,
    pub expect: Vec<super::Expect>,
    pub init: String,
    pub run: String,
    pub close: String,
    pub phase_timeout_ms: u64,
    pub run_for_ms: u64,
    /// `NAME`, `value` pairs set after the first `plugin.Open` (`--env-after-open`).
    pub env_after_open: Vec<[String; 2]>,
    /// Variables whose values the harness looks for in the plugin's exported variables.
    pub watch: Vec<String>,
    /// Hot-reload copies, opened after the plugins.
    pub reload: Vec<PluginSpec>,
    pub settle_ms: u64,
    /// `--lifecycle-check`: the call order, instead of the normal lifecycle.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sequence: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_timeout_ms: Option<u64>,
}

/// One plugin the harness opens.
#[derive(Debug, Clone, Serialize)]
pub struct PluginSpec {
    pub path: PathBuf,
    pub exports: Vec<ExportSpec>,
    /// Not opened (a C object that a C-less host would not open either).
    pub skip: bool,
}

/// One exported symbol, for the contract and env layers.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSpec {
    pub name: String,
    /// `func`, `var` or `unknown`.
    pub kind: &'static str,
}

impl ExportSpec {
    /// The exports `GoFacts` found statically (none for a non-Go object).
    pub fn of(go: Option<&GoFacts>) -> Vec<ExportSpec> {
        go.map(|g| {
            g.exports
                .iter()
                .map(|e| ExportSpec {
                    name: e.name.clone(),
                    kind: match e.kind {
                        crate::golang::ExportKind::Func => "func",
                        crate::golang::ExportKind::Var => "var",
                        crate::golang::ExportKind::Unknown => "unknown",
                    },
                })
                .collect()
        })
        .unwrap_or_default()
    }
}
