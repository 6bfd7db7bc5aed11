//! Aligning the plugin's modules with the host's: for every module both use, the
//! plugin must compile the host's version from the host's source, or `plugin.Open`
//! reports a different version of its packages.
//!
//! The user's `go.mod` is never touched (unless `--write`): `go.mod` and `go.sum` are
//! copied into a temporary directory, edited there with `go mod edit`, and the build
//! uses them through `-modfile`. Relative replacements are made absolute in the copy
//! (Go resolves them against the module root, so nothing changes for this build, and
//! the copy works from any directory, as `--verify-repro` needs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

use super::gocmd::GoEnv;
use crate::golang::sources::{FileTable, clean};
use crate::golang::{GoFacts, Module};

/// The parts of a `go.mod` that alignment reads (from `go mod edit -json`).
#[derive(Debug, Clone, Default)]
pub struct ModFile {
    pub module: String,
    pub go: Option<String>,
    pub require: Vec<(String, String)>,
    pub replace: Vec<Replace>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    pub old_path: String,
    pub old_version: Option<String>,
    pub new_path: String,
    pub new_version: Option<String>,
}

impl ModFile {
    pub fn parse_json(text: &str) -> Result<ModFile> {
        let v: Value = serde_json::from_str(text).context("parsing `go mod edit -json`")?;
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let module = v
            .get("Module")
            .and_then(|m| s(m, "Path"))
            .unwrap_or_default();
        let require = v
            .get("Require")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| Some((s(r, "Path")?, s(r, "Version")?)))
                    .collect()
            })
            .unwrap_or_default();
        let replace = v
            .get("Replace")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| {
                        let old = r.get("Old")?;
                        let new = r.get("New")?;
                        Some(Replace {
                            old_path: s(old, "Path")?,
                            old_version: s(old, "Version"),
                            new_path: s(new, "Path")?,
                            new_version: s(new, "Version"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(ModFile {
            module,
            go: s(&v, "Go"),
            require,
            replace,
        })
    }

    pub fn read(go: &GoEnv, gomod: &Path) -> Result<ModFile> {
        let dir = gomod.parent().unwrap_or(Path::new("."));
        let text = go.output(
            dir,
            &[
                "mod".into(),
                "edit".into(),
                "-json".into(),
                gomod.display().to_string(),
            ],
        )?;
        Self::parse_json(&text)
    }

    fn required(&self, module: &str) -> Option<&str> {
        self.require
            .iter()
            .find(|(p, _)| p == module)
            .map(|(_, v)| v.as_str())
    }

    fn replacement(&self, module: &str) -> Option<&Replace> {
        self.replace.iter().find(|r| r.old_path == module)
    }
}

pub use crate::golang::sources::is_local_path;

/// What alignment did for one module both builds use.
#[derive(Debug, Clone, Serialize)]
pub struct Alignment {
    pub module: String,
    /// The host's view: `v1.2.3`, `v0.0.0 => ../shared-v1 (/abs/shared-v1)`.
    pub host: String,
    /// The plugin's `go.mod` before alignment.
    pub plugin_before: String,
    /// What the build uses.
    pub plugin_after: String,
    pub status: AlignStatus,
    /// How the host's source was found, or why it could not be.
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlignStatus {
    /// The plugin's go.mod already selects the host's version and source.
    Same,
    /// A requirement or replacement was changed to the host's.
    Aligned,
    /// A replacement was added (e.g. to pin a version another requirement raises).
    Added,
    /// The host's source cannot be reproduced here.
    Unsatisfied,
}

/// Inputs of alignment beyond the host's build info.
#[derive(Debug, Clone, Default)]
pub struct AlignOptions {
    /// `--replace MODULE=DIR|PATH@VERSION`: the host's source of a module, given.
    pub replaces: Vec<(String, String)>,
    /// `--host-src DIR`: the host's module directory (relative replacements of the host
    /// resolve against it).
    pub host_src: Option<PathBuf>,
}

/// The outcome of alignment: the edits made to the temporary `go.mod`, per module.
#[derive(Debug, Clone, Serialize)]
pub struct AlignReport {
    pub entries: Vec<Alignment>,
    /// `go mod edit` arguments, in order (what `--write` applies to the real go.mod).
    pub edits: Vec<String>,
    pub warnings: Vec<String>,
    /// Environment the build needs (e.g. `GOMODCACHE` at the host's path).
    pub env: BTreeMap<String, String>,
}

impl AlignReport {
    pub fn unsatisfied(&self) -> Vec<&Alignment> {
        self.entries
            .iter()
            .filter(|a| a.status == AlignStatus::Unsatisfied)
            .collect()
    }
}

/// The temporary `go.mod` and `go.sum` the build uses.
pub struct TempModFile {
    pub dir: tempfile::TempDir,
    pub gomod: PathBuf,
}

impl TempModFile {
    /// Copies `go.mod` and `go.sum` of `module_root` into a new temporary directory,
    /// with relative replacements made absolute.
    pub fn create(go: &GoEnv, module_root: &Path, modfile: &ModFile) -> Result<TempModFile> {
        let dir = tempfile::Builder::new()
            .prefix("plugctl-modfile-")
            .tempdir()
            .context("creating a temporary directory")?;
        let gomod = dir.path().join("go.mod");
        std::fs::copy(module_root.join("go.mod"), &gomod).context("copying go.mod")?;
        let sum = module_root.join("go.sum");
        if sum.is_file() {
            std::fs::copy(&sum, dir.path().join("go.sum")).context("copying go.sum")?;
        }
        let edits: Vec<String> = modfile
            .replace
            .iter()
            .filter(|r| is_local_path(&r.new_path) && !r.new_path.starts_with('/'))
            .map(|r| {
                let old = match &r.old_version {
                    Some(v) => format!("{}@{v}", r.old_path),
                    None => r.old_path.clone(),
                };
                format!(
                    "-replace={old}={}",
                    clean(&module_root.join(&r.new_path)).display()
                )
            })
            .collect();
        let temp = TempModFile { dir, gomod };
        temp.edit(go, &edits)?;
        Ok(temp)
    }

    pub fn edit(&self, go: &GoEnv, edits: &[String]) -> Result<()> {
        if edits.is_empty() {
            return Ok(());
        }
        let mut args = vec!["mod".to_string(), "edit".to_string()];
        args.extend(edits.iter().cloned());
        args.push(self.gomod.display().to_string());
        go.output(self.dir.path(), &args)?;
        Ok(())
    }

    pub fn gosum(&self) -> PathBuf {
        self.dir.path().join("go.sum")
    }
}

/// The host side of alignment: its modules, its packages, where its sources were.
pub struct HostModules<'a> {
    pub facts: &'a GoFacts,
    pub files: &'a FileTable,
}

impl HostModules<'_> {
    fn dep(&self, module: &str) -> Option<&Module> {
        self.facts.deps.iter().find(|d| d.path == module)
    }

    fn is_main(&self, module: &str) -> bool {
        self.facts
            .main_module
            .as_ref()
            .is_some_and(|m| m.path == module)
    }

    /// Import paths of the host's packages that belong to `module` (longest module prefix).
    fn packages_of(&self, module: &str) -> Vec<&str> {
        let mut modules: Vec<&str> = self.facts.deps.iter().map(|d| d.path.as_str()).collect();
        if let Some(m) = &self.facts.main_module {
            modules.push(m.path.as_str());
        }
        self.facts
            .package_hashes
            .iter()
            .map(|p| p.path.as_str())
            .chain(self.facts.main_path.as_deref())
            .filter(|p| {
                let owner = modules
                    .iter()
                    .filter(|m| p == *m || p.starts_with(&format!("{m}/")))
                    .max_by_key(|m| m.len());
                owner == Some(&module)
            })
            .collect::<BTreeSet<&str>>()
            .into_iter()
            .collect()
    }
}

fn describe_host(dep: &Module, dir: Option<&Path>) -> String {
    match &dep.replace {
        None => dep.version.clone(),
        Some(r) => {
            let mut text = format!("{} => {}", dep.version, r.path);
            if !r.version.is_empty() && r.version != "(devel)" {
                text.push_str(&format!(" {}", r.version));
            }
            if let Some(dir) = dir.filter(|d| d != &Path::new(&r.path)) {
                text.push_str(&format!(" ({})", dir.display()));
            }
            text
        }
    }
}

fn describe_plugin(modfile: &ModFile, module: &str, root: &Path) -> String {
    let version = modfile.required(module);
    let mut text = match version {
        Some(v) => v.to_string(),
        None => "not required directly".to_string(),
    };
    if let Some(r) = modfile.replacement(module) {
        text.push_str(&format!(" => {}", r.new_path));
        if let Some(v) = &r.new_version {
            text.push_str(&format!(" {v}"));
        }
        if is_local_path(&r.new_path) && !r.new_path.starts_with('/') {
            text.push_str(&format!(" ({})", clean(&root.join(&r.new_path)).display()));
        }
    }
    text
}

/// Decides, for every module both builds use, what the plugin's go.mod must say, and
/// applies it to `temp`. `module_root` is the plugin's module directory.
pub fn align(
    go: &GoEnv,
    module_root: &Path,
    modfile: &ModFile,
    temp: &TempModFile,
    host: &HostModules,
    options: &AlignOptions,
) -> Result<AlignReport> {
    let mut report = AlignReport {
        entries: Vec::new(),
        edits: Vec::new(),
        warnings: Vec::new(),
        env: BTreeMap::new(),
    };
    let mut done: BTreeSet<String> = BTreeSet::new();
    for (module, _) in &options.replaces {
        if host.dep(module).is_none() && !host.is_main(module) {
            report.warnings.push(format!(
                "--replace {module}=…: the host does not use {module}; applied anyway"
            ));
        }
    }
    // Round 1: modules the plugin's go.mod names.
    let named: BTreeSet<String> = modfile
        .require
        .iter()
        .map(|(p, _)| p.clone())
        .chain(modfile.replace.iter().map(|r| r.old_path.clone()))
        .chain(options.replaces.iter().map(|(m, _)| m.clone()))
        .collect();
    let round: Vec<String> = named
        .into_iter()
        .filter(|m| host.dep(m).is_some() || host.is_main(m))
        .collect();
    let edits = align_modules(&round, module_root, modfile, host, options, &mut report);
    done.extend(round);
    temp.edit(go, &edits)?;
    report.edits.extend(edits);
    if !report.unsatisfied().is_empty() {
        return Ok(report);
    }
    // Round 2: modules the plugin's build graph reaches indirectly; then check that the
    // selected versions are the host's (another requirement may raise one).
    for pass in 0..2 {
        let graph = match list_modules(go, module_root, &temp.gomod) {
            Ok(graph) => graph,
            Err(err) => {
                report.warnings.push(format!(
                    "could not list the plugin's module graph, so only modules its go.mod names were aligned: {}",
                    first_line(&format!("{err:#}"))
                ));
                break;
            }
        };
        let mut edits = Vec::new();
        if pass == 0 {
            let more: Vec<String> = graph
                .keys()
                .filter(|m| !done.contains(*m) && *m != &modfile.module && host.dep(m).is_some())
                .cloned()
                .collect();
            edits.extend(align_modules(
                &more,
                module_root,
                modfile,
                host,
                options,
                &mut report,
            ));
            done.extend(more);
        }
        for entry in report.entries.iter_mut() {
            let Some(dep) = host.dep(&entry.module) else {
                continue;
            };
            if dep.replace.is_some() || entry.status == AlignStatus::Unsatisfied {
                continue;
            }
            if options.replaces.iter().any(|(m, _)| m == &entry.module) {
                continue;
            }
            let Some(selected) = graph.get(&entry.module) else {
                continue;
            };
            if selected.version != dep.version && selected.replace.is_none() {
                edits.push(format!(
                    "-replace={}={}@{}",
                    dep.path, dep.path, dep.version
                ));
                entry.plugin_after = format!("{} => {} {}", dep.version, dep.path, dep.version);
                entry.status = AlignStatus::Added;
                entry.note = format!(
                    "another requirement selects {}; added the replacement {} => {} {} to pin the host's version",
                    selected.version, dep.path, dep.path, dep.version
                );
            }
        }
        if edits.is_empty() {
            break;
        }
        temp.edit(go, &edits)?;
        report.edits.extend(edits);
        if !report.unsatisfied().is_empty() {
            return Ok(report);
        }
    }
    module_cache_location(go, module_root, host, &report.entries.clone(), &mut report);
    Ok(report)
}

fn first_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// A module of `go list -m -json all`.
#[derive(Debug, Clone)]
struct Listed {
    version: String,
    replace: Option<String>,
}

fn list_modules(go: &GoEnv, module_root: &Path, gomod: &Path) -> Result<BTreeMap<String, Listed>> {
    let text = go.output(
        module_root,
        &[
            "list".into(),
            format!("-modfile={}", gomod.display()),
            "-m".into(),
            "-json".into(),
            "all".into(),
        ],
    )?;
    let mut out = BTreeMap::new();
    for value in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        let value = value.context("parsing `go list -m -json all`")?;
        let Some(path) = value.get("Path").and_then(Value::as_str) else {
            continue;
        };
        let version = value
            .get("Version")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let replace = value
            .get("Replace")
            .and_then(|r| r.get("Path"))
            .and_then(Value::as_str)
            .map(str::to_string);
        out.insert(path.to_string(), Listed { version, replace });
    }
    Ok(out)
}

/// Alignment entries and `go mod edit` arguments for `modules`.
fn align_modules(
    modules: &[String],
    root: &Path,
    modfile: &ModFile,
    host: &HostModules,
    options: &AlignOptions,
    report: &mut AlignReport,
) -> Vec<String> {
    let mut edits = Vec::new();
    for module in modules {
        let before = describe_plugin(modfile, module, root);
        let explicit = options
            .replaces
            .iter()
            .find(|(m, _)| m == module)
            .map(|(_, t)| t.as_str());
        let main = host.is_main(module) && host.dep(module).is_none();
        let dep = match host.dep(module) {
            Some(d) => d.clone(),
            None if main => host.facts.main_module.clone().expect("is_main"),
            None => {
                // Only an explicit replacement names a module the host does not use.
                if let Some(target) = explicit {
                    let (edit, after) = explicit_edit(module, target);
                    edits.push(edit);
                    report.entries.push(Alignment {
                        module: module.clone(),
                        host: "not used by the host".into(),
                        plugin_before: before,
                        plugin_after: after,
                        status: AlignStatus::Aligned,
                        note: "--replace".into(),
                    });
                }
                continue;
            }
        };
        let local = main || dep.replace.as_ref().is_some_and(|r| is_local_path(&r.path));
        let mut entry = Alignment {
            module: module.clone(),
            host: describe_host(&dep, None),
            plugin_before: before.clone(),
            plugin_after: before.clone(),
            status: AlignStatus::Same,
            note: String::new(),
        };
        if let Some(target) = explicit {
            let (edit, after) = explicit_edit(module, target);
            edits.push(edit);
            if !main {
                edits.push(format!("-require={}@{}", dep.path, dep.version));
            }
            let recorded = (local && host.files.has_absolute_paths())
                .then(|| host_local_dir(host, &dep, main))
                .flatten()
                .filter(|recorded| Path::new(&after) != recorded);
            if let Some(recorded) = recorded {
                report.warnings.push(format!(
                    "--replace {module}={target}: the host compiled {module} from {} and, built without -trimpath, hashed that directory into its packages; another directory will not match",
                    recorded.display()
                ));
            }
            entry.plugin_after = after;
            entry.status = AlignStatus::Aligned;
            entry.note = "given with --replace".into();
            report.entries.push(entry);
            continue;
        }
        if local {
            match resolve_local(host, &dep, main, root, modfile, options) {
                Ok((dir, how)) => {
                    entry.host = describe_host(&dep, Some(&dir));
                    let plugin_dir = plugin_local_dir(modfile, module, root);
                    if plugin_dir.as_deref() == Some(dir.as_path())
                        && modfile.required(module) == Some(&dep.version)
                    {
                        entry.note = format!("same directory ({how})");
                    } else {
                        edits.push(format!("-replace={module}={}", dir.display()));
                        if !main {
                            edits.push(format!("-require={module}@{}", dep.version));
                        }
                        entry.plugin_after = format!("{} => {}", dep.version, dir.display());
                        entry.status = AlignStatus::Aligned;
                        entry.note = how;
                    }
                }
                Err(why) => {
                    entry.plugin_after = "(not built)".into();
                    entry.status = AlignStatus::Unsatisfied;
                    entry.note = why;
                }
            }
            report.entries.push(entry);
            continue;
        }
        match &dep.replace {
            Some(r) => {
                let target = if r.version.is_empty() {
                    r.path.clone()
                } else {
                    format!("{}@{}", r.path, r.version)
                };
                let same = modfile.replacement(module).is_some_and(|p| {
                    p.new_path == r.path && p.new_version.as_deref().unwrap_or("") == r.version
                }) && modfile.required(module) == Some(&dep.version);
                if !same {
                    edits.push(format!("-replace={module}={target}"));
                    edits.push(format!("-require={module}@{}", dep.version));
                    entry.plugin_after = format!("{} => {}", dep.version, target.replace('@', " "));
                    entry.status = AlignStatus::Aligned;
                    entry.note = "the host's replacement".into();
                }
            }
            None => {
                let plugin_replace = modfile.replacement(module);
                if plugin_replace.is_none() && modfile.required(module) == Some(&dep.version) {
                    entry.note = "same version".into();
                } else {
                    if let Some(r) = plugin_replace {
                        edits.push(format!("-dropreplace={module}"));
                        entry.note = format!(
                            "dropped the plugin's replacement => {}: the host uses {module} {} from the module cache",
                            r.new_path, dep.version
                        );
                    } else {
                        entry.note = format!("required the host's version {}", dep.version);
                    }
                    edits.push(format!("-require={module}@{}", dep.version));
                    entry.plugin_after = dep.version.clone();
                    entry.status = AlignStatus::Aligned;
                }
            }
        }
        report.entries.push(entry);
    }
    edits
}

/// `--replace M=TARGET` as a `go mod edit` argument and the resulting description.
fn explicit_edit(module: &str, target: &str) -> (String, String) {
    if is_local_path(target) {
        let abs = std::path::absolute(target)
            .map(|p| clean(&p))
            .unwrap_or_else(|_| PathBuf::from(target));
        (
            format!("-replace={module}={}", abs.display()),
            abs.display().to_string(),
        )
    } else {
        (
            format!("-replace={module}={target}"),
            target.replace('@', " "),
        )
    }
}

fn plugin_local_dir(modfile: &ModFile, module: &str, root: &Path) -> Option<PathBuf> {
    let r = modfile.replacement(module)?;
    is_local_path(&r.new_path).then(|| clean(&root.join(&r.new_path)))
}

/// The directory the host's file names say it compiled a local module from.
fn host_local_dir(host: &HostModules, dep: &Module, main: bool) -> Option<PathBuf> {
    let packages = host.packages_of(&dep.path);
    if main {
        let others: Vec<PathBuf> = host
            .facts
            .deps
            .iter()
            .filter_map(|d| {
                let r = d.replace.as_ref().filter(|r| is_local_path(&r.path))?;
                host.files
                    .module_dir(&d.path, &host.packages_of(&d.path), Some(&r.path))
            })
            .collect();
        return host.files.main_module_dir(&dep.path, &packages, &others);
    }
    let replacement = dep.replace.as_ref().map(|r| r.path.as_str());
    host.files.module_dir(&dep.path, &packages, replacement)
}

/// Where the host's local module is on this machine, and how that was found; or why
/// it cannot be.
fn resolve_local(
    host: &HostModules,
    dep: &Module,
    main: bool,
    root: &Path,
    modfile: &ModFile,
    options: &AlignOptions,
) -> Result<(PathBuf, String), String> {
    let module = &dep.path;
    let rel = dep
        .replace
        .as_ref()
        .map(|r| r.path.clone())
        .unwrap_or_else(|| ".".into());
    let shown = if main {
        format!("{module} (the host's main module)")
    } else {
        format!("{module} => {rel}")
    };
    let hint = format!(
        "pass --replace {module}=DIR (the directory the host was built from) or --host-src DIR (the host's module directory)"
    );
    if host.files.has_absolute_paths() {
        return match host_local_dir(host, dep, main) {
            Some(dir) if has_module(&dir, module) => {
                Ok((dir, "the host's recorded source file names".into()))
            }
            Some(dir) => Err(format!(
                "the host was built without -trimpath from {} ({shown}), which does not exist here (or is not module {module}); without -trimpath the directory is part of the package hash, so the plugin must be built where that exact path exists",
                dir.display()
            )),
            None => Err(format!(
                "the host's file names do not show where {shown} was; {hint}"
            )),
        };
    }
    // A -trimpath host: only the content matters, the directory is ours to find.
    if let Some(src) = &options.host_src {
        let dir = clean(
            &std::path::absolute(src)
                .unwrap_or_else(|_| src.clone())
                .join(&rel),
        );
        return if has_module(&dir, module) {
            Ok((
                dir,
                format!("{rel} relative to --host-src {}", src.display()),
            ))
        } else {
            Err(format!(
                "{} (--host-src {} joined with {rel}) is not module {module}",
                dir.display(),
                src.display()
            ))
        };
    }
    if rel.starts_with('/') {
        let dir = clean(Path::new(&rel));
        if has_module(&dir, module) {
            return Ok((dir, "the host's absolute replacement path".into()));
        }
        return Err(format!(
            "the host used {shown}, which does not exist here; {hint}"
        ));
    }
    if let Some(r) = modfile
        .replacement(module)
        .filter(|r| !main && r.new_path == rel)
    {
        let dir = clean(&root.join(&r.new_path));
        if has_module(&dir, module) {
            return Ok((
                dir,
                format!(
                    "the plugin's own replacement has the host's relative path {rel}; assumed to be the same source (the -trimpath host records no directory), verified by the package hashes after the build"
                ),
            ));
        }
    }
    Err(format!(
        "the host was built with -trimpath and {shown}: relative to the host's module directory, which its build info does not record; {hint}"
    ))
}

fn has_module(dir: &Path, module: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("go.mod")) else {
        return false;
    };
    text.lines().any(|l| {
        let l = l.trim();
        l.strip_prefix("module")
            .is_some_and(|rest| rest.trim().trim_matches('"') == module)
    })
}

/// Without -trimpath the host's module-cache directory is in its file names and hashes:
/// the plugin must read the cache at the same path.
fn module_cache_location(
    go: &GoEnv,
    root: &Path,
    host: &HostModules,
    entries: &[Alignment],
    report: &mut AlignReport,
) {
    if !host.files.has_absolute_paths() {
        return;
    }
    let mut host_caches: BTreeSet<PathBuf> = BTreeSet::new();
    for entry in entries {
        let Some(dep) = host.dep(&entry.module).filter(|d| d.replace.is_none()) else {
            continue;
        };
        if let Some(cache) = host.files.module_cache(&dep.path, &dep.version) {
            host_caches.insert(cache);
        }
    }
    let Some(host_cache) = host_caches.iter().next().cloned() else {
        return;
    };
    let ours = go.go_env(root, "GOMODCACHE").map(PathBuf::from).ok();
    if ours.as_deref() == Some(host_cache.as_path()) {
        return;
    }
    if host_cache.is_dir() {
        report
            .env
            .insert("GOMODCACHE".into(), host_cache.display().to_string());
        report.warnings.push(format!(
            "the host (built without -trimpath) read modules from {}: using that module cache, as its path is part of the package hashes",
            host_cache.display()
        ));
    } else {
        report.warnings.push(format!(
            "the host (built without -trimpath) read modules from {}, which does not exist here; without -trimpath that path is part of their package hashes, so the plugin's copies will differ (build where that path exists, or build the host with -trimpath)",
            host_cache.display()
        ));
    }
}

/// Applies the alignment to the user's `go.mod` and `go.sum` (`--write`).
pub fn write_back(
    go: &GoEnv,
    module_root: &Path,
    temp: &TempModFile,
    edits: &[String],
) -> Result<()> {
    if edits.is_empty() {
        return Ok(());
    }
    let gomod = module_root.join("go.mod");
    let mut args = vec!["mod".to_string(), "edit".to_string()];
    args.extend(edits.iter().cloned());
    args.push(gomod.display().to_string());
    go.output(module_root, &args)
        .context("writing the alignment into go.mod")?;
    if temp.gosum().is_file() {
        std::fs::copy(temp.gosum(), module_root.join("go.sum")).context("writing go.sum")?;
    }
    Ok(())
}

/// The module root (directory of `go.mod`) of the package in `dir`.
pub fn module_root(go: &GoEnv, dir: &Path) -> Result<PathBuf> {
    let gomod = go.go_env(dir, "GOMOD")?;
    if gomod.is_empty() || gomod == "/dev/null" || gomod == "NUL" {
        bail!(
            "{} is not inside a Go module (no go.mod found); plugctl builds module-mode packages",
            dir.display()
        );
    }
    Ok(PathBuf::from(gomod)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_mod_edit_json() {
        let m = ModFile::parse_json(
            r#"{"Module":{"Path":"example.com/greeter"},"Go":"1.21","Require":[{"Path":"example.com/shared","Version":"v0.0.0"}],
            "Replace":[{"Old":{"Path":"example.com/shared"},"New":{"Path":"../shared-v1"}}]}"#,
        )
        .unwrap();
        assert_eq!(m.module, "example.com/greeter");
        assert_eq!(m.required("example.com/shared"), Some("v0.0.0"));
        assert_eq!(
            m.replacement("example.com/shared").unwrap().new_path,
            "../shared-v1"
        );
        assert_eq!(
            describe_plugin(&m, "example.com/shared", Path::new("/w/greeter")),
            "v0.0.0 => ../shared-v1 (/w/shared-v1)"
        );
    }

    #[test]
    fn local_paths() {
        assert!(is_local_path("../x") && is_local_path("./x") && is_local_path("/x"));
        assert!(!is_local_path("example.com/x"));
    }
}
