//! `plugctl diff A B`: what differs between two artifacts' build facts (plugin vs
//! plugin, host vs plugin, build vs rebuild), and which difference explains the others.
//!
//! Compared: Go version, build settings, module versions and sums, the package hash
//! table (in the plugin's check order), plugin path, the source file names a build
//! without `-trimpath` records, the dynamic section, symbol versions and section sizes.
//! Package hash differences are attributed to the first cause that accounts for them:
//! toolchain, a setting that changes every package, a module difference, a source
//! directory difference, `-tags`; what is left is reported as different source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::digest::sha256_file;
use crate::elf::{Artifact, ObjectKind};
use crate::golang::sources::FileTable;
use crate::golang::{self, GoFacts, GoRole, Module};

/// Settings that change the compiled form of every package they apply to.
pub const HASH_SETTINGS: &[&str] = &[
    "-trimpath",
    "-race",
    "-msan",
    "-asan",
    "-gcflags",
    "-asmflags",
    "GOEXPERIMENT",
    "-cover",
    "-covermode",
    "-pgo",
    "GOOS",
    "GOARCH",
    "-compiler",
];

/// One input of the comparison.
pub struct Side {
    pub path: PathBuf,
    pub artifact: Artifact,
    pub go: Option<GoFacts>,
    pub files: FileTable,
    pub sha256: String,
}

impl Side {
    pub fn read(path: &Path) -> Result<Side> {
        let artifact = Artifact::read(path)
            .map_err(anyhow::Error::from)
            .with_context(|| path.display().to_string())?;
        let go = golang::read(&artifact);
        let files = FileTable::read(&artifact);
        let sha256 = sha256_file(path)?;
        Ok(Side {
            path: path.to_path_buf(),
            artifact,
            go,
            files,
            sha256,
        })
    }

    fn role(&self) -> &'static str {
        match (&self.go, self.artifact.identity.kind) {
            (Some(g), _) if g.role == GoRole::Plugin => "plugin",
            (Some(g), _) if g.role == GoRole::Executable => "host",
            (Some(g), _) if g.role == GoRole::CShared => "c-shared",
            (None, ObjectKind::SharedObject) => "shared object",
            (None, ObjectKind::Executable | ObjectKind::PieExecutable) => "executable",
            _ => "object",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SideInfo {
    pub label: String,
    pub path: PathBuf,
    pub role: String,
    pub machine: String,
    pub go_version: Option<String>,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub a: Option<String>,
    pub b: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingDiff {
    pub key: String,
    pub a: Option<String>,
    pub b: Option<String>,
    /// Changes the compiled form (and hash) of packages.
    pub affects_hashes: bool,
    /// Counted as a difference of build facts (role-specific settings of a host vs
    /// plugin comparison are not).
    pub significant: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModuleDiff {
    pub path: String,
    pub a: Option<String>,
    pub b: Option<String>,
    /// Both use the module (so its packages can be shared).
    pub in_both: bool,
    pub significant: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackageHashDiff {
    pub path: String,
    pub a: String,
    pub b: String,
    /// The difference that explains it.
    pub cause: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackageDiff {
    /// How `differing` is ordered.
    pub order: String,
    /// Packages in both hash tables.
    pub shared: usize,
    pub equal: usize,
    pub differing: Vec<PackageHashDiff>,
    pub only_a: usize,
    pub only_b: usize,
}

/// A directory prefix of recorded source file names that differs (builds without
/// `-trimpath` at different paths).
#[derive(Debug, Clone, Serialize)]
pub struct DirChange {
    pub a: String,
    pub b: String,
    pub files: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldDiff {
    pub field: String,
    pub a: String,
    pub b: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionDiff {
    pub name: String,
    pub a: Option<u64>,
    pub b: Option<u64>,
    pub delta: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub text: String,
    /// How many differing package hashes it accounts for.
    pub packages: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub schema_version: u32,
    pub a: SideInfo,
    pub b: SideInfo,
    pub identical_bytes: bool,
    pub go_version: Option<Change>,
    pub settings: Vec<SettingDiff>,
    pub modules: Vec<ModuleDiff>,
    pub packages: PackageDiff,
    pub plugin_path: Option<Change>,
    /// GOROOT of the standard library sources, when both record it and it differs
    /// (harmless: package hashes do not include it).
    pub goroot: Option<Change>,
    pub source_dirs: Vec<DirChange>,
    pub dynamic: Vec<FieldDiff>,
    pub symbol_versions: Vec<FieldDiff>,
    /// The largest section size differences, largest first.
    pub sections: Vec<SectionDiff>,
    pub explanations: Vec<Explanation>,
    /// For a host and a plugin: the error `plugin.Open` stops at, from the hashes.
    pub first_mismatch: Option<String>,
    pub verdict: String,
    pub same_build_facts: bool,
    /// Between two Go plugins: the changes of their exported API (see `contract::drift`).
    pub contract: Option<crate::contract::drift::ContractDiff>,
}

pub fn compare_paths(a: &Path, b: &Path) -> Result<Diff> {
    let (a, b) = (Side::read(a)?, Side::read(b)?);
    Ok(compare(&a, &b))
}

pub fn compare(a: &Side, b: &Side) -> Diff {
    let (role_a, role_b) = (a.role(), b.role());
    let cross = role_a != role_b;
    let (label_a, label_b) = if cross {
        (role_a.to_string(), role_b.to_string())
    } else {
        ("A".to_string(), "B".to_string())
    };
    let info = |s: &Side, label: String| SideInfo {
        label,
        path: s.path.clone(),
        role: s.role().into(),
        machine: s.artifact.identity.machine.clone(),
        go_version: s.go.as_ref().map(|g| g.version.clone()),
        size: s.artifact.file_size,
        sha256: s.sha256.clone(),
    };
    let mut diff = Diff {
        schema_version: 1,
        a: info(a, label_a.clone()),
        b: info(b, label_b.clone()),
        identical_bytes: a.sha256 == b.sha256,
        go_version: None,
        settings: Vec::new(),
        modules: Vec::new(),
        packages: PackageDiff {
            order: String::new(),
            shared: 0,
            equal: 0,
            differing: Vec::new(),
            only_a: 0,
            only_b: 0,
        },
        plugin_path: None,
        goroot: None,
        source_dirs: Vec::new(),
        dynamic: dynamic_diff(&a.artifact, &b.artifact),
        symbol_versions: version_diff(&a.artifact, &b.artifact),
        sections: section_diff(&a.artifact, &b.artifact),
        explanations: Vec::new(),
        first_mismatch: None,
        verdict: String::new(),
        same_build_facts: true,
        contract: None,
    };
    if let (Some(ga), Some(gb)) = (&a.go, &b.go) {
        go_diff(&mut diff, ga, gb, a, b, cross, (&label_a, &label_b));
    } else if a.go.is_some() != b.go.is_some() {
        diff.go_version = Some(Change {
            a: a.go.as_ref().map(|g| g.version.clone()),
            b: b.go.as_ref().map(|g| g.version.clone()),
        });
    }
    if cross {
        // Between a host and a plugin what counts is what decides loading: the package
        // hashes, the toolchain, the machine. Other differences are shown, not counted.
        for s in diff.settings.iter_mut() {
            s.significant = s.significant && !diff.packages.differing.is_empty();
        }
    }
    let significant = diff.go_version.is_some()
        || diff.settings.iter().any(|s| s.significant)
        || diff.modules.iter().any(|m| m.significant)
        || !diff.packages.differing.is_empty()
        || (!cross && (diff.plugin_path.is_some() || !diff.source_dirs.is_empty()))
        || (!cross && (!diff.dynamic.is_empty() || !diff.symbol_versions.is_empty()))
        || a.artifact.identity.machine_id != b.artifact.identity.machine_id;
    diff.same_build_facts = !significant;
    diff.verdict = verdict(&diff, a, b);
    diff.contract = contract_diff(a, b);
    diff
}

/// The drift of the exported API between two Go plugins whose export types are readable.
fn contract_diff(a: &Side, b: &Side) -> Option<crate::contract::drift::ContractDiff> {
    let read = |s: &Side| {
        let go = s.go.as_ref().filter(|g| g.role == GoRole::Plugin)?;
        crate::contract::from_facts(go, &s.path.display().to_string()).ok()
    };
    Some(crate::contract::drift::compare(&read(a)?, &read(b)?))
}

fn normalized(key: &str, value: Option<&str>) -> Option<String> {
    match (key, value) {
        ("-trimpath" | "-race" | "-msan" | "-asan" | "-cover", Some("false")) => None,
        (_, Some(v)) => Some(v.to_string()),
        (_, None) => None,
    }
}

fn describe_module(m: &Module) -> String {
    let mut text = m.version.clone();
    if !m.sum.is_empty() {
        text.push_str(&format!(" {}", m.sum));
    }
    if let Some(r) = &m.replace {
        text.push_str(&format!(" => {}", r.path));
        if !r.version.is_empty() && r.version != "(devel)" {
            text.push_str(&format!(" {}", r.version));
        }
        if !r.sum.is_empty() {
            text.push_str(&format!(" {}", r.sum));
        }
    }
    text
}

fn go_diff(
    diff: &mut Diff,
    ga: &GoFacts,
    gb: &GoFacts,
    a: &Side,
    b: &Side,
    cross: bool,
    labels: (&str, &str),
) {
    let (la, lb) = labels;
    if ga.version != gb.version {
        diff.go_version = Some(Change {
            a: Some(ga.version.clone()),
            b: Some(gb.version.clone()),
        });
    }
    // Settings, in A's order then B's.
    let mut keys: Vec<&str> = ga.settings.iter().map(|s| s.key.as_str()).collect();
    for s in &gb.settings {
        if !keys.contains(&s.key.as_str()) {
            keys.push(&s.key);
        }
    }
    for key in keys {
        let (va, vb) = (
            normalized(key, ga.setting(key)),
            normalized(key, gb.setting(key)),
        );
        if va == vb {
            continue;
        }
        let affects = HASH_SETTINGS.contains(&key);
        diff.settings.push(SettingDiff {
            key: key.to_string(),
            a: va,
            b: vb,
            affects_hashes: affects,
            // A host and a plugin differ in role-specific settings (-buildmode,
            // -ldflags, DefaultGODEBUG, vcs.*) by nature; only what changes hashes counts.
            significant: !cross || affects || key == "-tags",
        });
    }
    // Modules: the main modules and the deps, by path.
    let all = |g: &GoFacts| -> Vec<Module> {
        g.deps
            .iter()
            .cloned()
            .chain(g.main_module.clone())
            .collect()
    };
    let (ma, mb) = (all(ga), all(gb));
    let paths: BTreeSet<&str> = ma
        .iter()
        .chain(mb.iter())
        .map(|m| m.path.as_str())
        .collect();
    for path in paths {
        let (x, y) = (
            ma.iter().find(|m| m.path == path),
            mb.iter().find(|m| m.path == path),
        );
        let (dx, dy) = (x.map(describe_module), y.map(describe_module));
        if dx == dy {
            continue;
        }
        let in_both = x.is_some() && y.is_some();
        let is_main = |g: &GoFacts| g.main_module.as_ref().is_some_and(|m| m.path == path);
        diff.modules.push(ModuleDiff {
            path: path.to_string(),
            a: dx,
            b: dy,
            in_both,
            significant: if cross {
                in_both && !is_main(ga) && !is_main(gb)
            } else {
                true
            },
        });
    }
    if ga.plugin_path != gb.plugin_path {
        diff.plugin_path = Some(Change {
            a: ga.plugin_path.clone(),
            b: gb.plugin_path.clone(),
        });
    }
    // Recorded source file names.
    if a.files.has_absolute_paths() && b.files.has_absolute_paths() {
        let (ra, rb) = (a.files.goroot(), b.files.goroot());
        if ra != rb {
            diff.goroot = Some(Change {
                a: ra.map(|p| p.display().to_string()),
                b: rb.map(|p| p.display().to_string()),
            });
        }
        diff.source_dirs = dir_changes(&a.files, &b.files);
    }
    package_diff(diff, ga, gb, cross, (la, lb), &ma, &mb);
}

/// Pairs recorded file names that exist on one side only by their longest common
/// suffix, and reports the differing prefixes (GOROOT excluded).
fn dir_changes(a: &FileTable, b: &FileTable) -> Vec<DirChange> {
    let strip_root = |t: &FileTable| -> BTreeSet<String> {
        let root = t.goroot().map(|g| format!("{}/src/", g.display()));
        t.files
            .iter()
            .filter(|f| f.starts_with('/'))
            .filter(|f| root.as_deref().is_none_or(|r| !f.starts_with(r)))
            .cloned()
            .collect()
    };
    let (fa, fb) = (strip_root(a), strip_root(b));
    let only_a: Vec<&String> = fa.difference(&fb).collect();
    let only_b: Vec<&String> = fb.difference(&fa).collect();
    let mut changes: BTreeMap<(String, String), usize> = BTreeMap::new();
    for x in &only_a {
        let best = only_b
            .iter()
            .map(|y| (common_suffix_len(x, y), *y))
            .filter(|(n, _)| *n > 0)
            .max_by_key(|(n, _)| *n);
        if let Some((n, y)) = best {
            let (px, py) = (&x[..x.len() - n], &y[..y.len() - n]);
            *changes
                .entry((
                    px.trim_end_matches('/').to_string(),
                    py.trim_end_matches('/').to_string(),
                ))
                .or_default() += 1;
        }
    }
    changes
        .into_iter()
        .map(|((a, b), files)| DirChange { a, b, files })
        .collect()
}

/// Length of the common suffix of two paths, in bytes, at a `/` boundary.
fn common_suffix_len(a: &str, b: &str) -> usize {
    let n = a
        .bytes()
        .rev()
        .zip(b.bytes().rev())
        .take_while(|(x, y)| x == y)
        .count();
    if n == a.len() && n == b.len() {
        return n;
    }
    // Back up to just after a separator so whole elements are compared.
    let tail = &a[a.len() - n..];
    match tail.find('/') {
        Some(i) => n - i,
        None => 0,
    }
}

/// Whether a cause applies to a package (by import path).
type Applies = Box<dyn Fn(&str) -> bool>;

fn package_diff(
    diff: &mut Diff,
    ga: &GoFacts,
    gb: &GoFacts,
    cross: bool,
    (la, lb): (&str, &str),
    ma: &[Module],
    mb: &[Module],
) {
    // The plugin's table order is the order plugin.Open checks.
    let (ordered, other, a_is_ordered, order) = if ga.role == GoRole::Plugin {
        (
            ga,
            gb,
            true,
            format!("the check order of {la}'s plugin table"),
        )
    } else if gb.role == GoRole::Plugin {
        (
            gb,
            ga,
            false,
            format!("the check order of {lb}'s plugin table"),
        )
    } else {
        (ga, gb, true, "sorted by import path".to_string())
    };
    diff.packages.order = order;
    let mut differing = Vec::new();
    for p in &ordered.package_hashes {
        let Some(q) = other.package_hash(&p.path) else {
            continue;
        };
        diff.packages.shared += 1;
        if p.hash == q.hash {
            diff.packages.equal += 1;
        } else {
            let (x, y) = if a_is_ordered {
                (p.hex(), q.hex())
            } else {
                (q.hex(), p.hex())
            };
            differing.push(PackageHashDiff {
                path: p.path.clone(),
                a: x,
                b: y,
                cause: String::new(),
            });
        }
    }
    let shared = diff.packages.shared;
    diff.packages.only_a = ga.package_hashes.len().saturating_sub(shared);
    diff.packages.only_b = gb.package_hashes.len().saturating_sub(shared);
    if cross && (ga.role == GoRole::Plugin) != (gb.role == GoRole::Plugin) {
        diff.first_mismatch = differing.first().map(|d| {
            format!(
                "plugin was built with a different version of package {}",
                d.path
            )
        });
    }
    // Attribute each differing hash to the first cause that accounts for it.
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unset".into());
    let mut causes: Vec<(String, Applies)> = Vec::new();
    // A different minor release changes every package; a patch release only those that
    // changed (and what depends on them), so more specific causes come first.
    let minor = ga.minor() != gb.minor();
    let toolchain = diff.go_version.as_ref().map(|v| {
        format!(
            "toolchain differs: {la} {}, {lb} {}{}",
            shown(&v.a),
            shown(&v.b),
            if minor {
                " (different minor releases: the runtime's layouts differ too, a host crashes)"
            } else {
                ""
            }
        )
    });
    if let Some(text) = toolchain.clone().filter(|_| minor) {
        causes.push((text, Box::new(|_| true)));
    }
    let hash_settings: Vec<&SettingDiff> =
        diff.settings.iter().filter(|s| s.affects_hashes).collect();
    if !hash_settings.is_empty() {
        let text = hash_settings
            .iter()
            .map(|s| {
                format!(
                    "{} differs: {la} {}, {lb} {}",
                    s.key,
                    shown(&s.a),
                    shown(&s.b)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        causes.push((text, Box::new(|_| true)));
    }
    for m in diff.modules.iter().filter(|m| m.in_both) {
        let path = m.path.clone();
        let (ma, mb) = (ma.to_vec(), mb.to_vec());
        causes.push((
            format!(
                "module {} differs: {la} {}, {lb} {}",
                m.path,
                shown(&m.a),
                shown(&m.b)
            ),
            Box::new(move |pkg: &str| {
                golang::module_of(&ma, pkg).is_some_and(|o| o.path == path)
                    || golang::module_of(&mb, pkg).is_some_and(|o| o.path == path)
            }),
        ));
    }
    if !diff.source_dirs.is_empty() {
        let pairs = diff
            .source_dirs
            .iter()
            .map(|d| format!("{} vs {}", d.a, d.b))
            .collect::<Vec<_>>()
            .join(", ");
        causes.push((
            format!(
                "source directories differ ({pairs}); without -trimpath the directory is recorded and hashed into each package compiled from it"
            ),
            // Standard-library packages come from GOROOT, whose path is not hashed.
            Box::new(|pkg: &str| !golang::is_std_package(pkg)),
        ));
    }
    if let Some(text) = toolchain.filter(|_| !minor) {
        causes.push((text, Box::new(|_| true)));
    }
    if let Some(tags) = diff.settings.iter().find(|s| s.key == "-tags") {
        causes.push((
            format!(
                "-tags differs: {la} {}, {lb} {} (packages with tag-constrained files)",
                shown(&tags.a),
                shown(&tags.b)
            ),
            Box::new(|_| true),
        ));
    }
    let mut counts: Vec<usize> = vec![0; causes.len()];
    let mut unexplained = 0;
    for d in differing.iter_mut() {
        match causes.iter().position(|(_, applies)| applies(&d.path)) {
            Some(i) => {
                counts[i] += 1;
                d.cause = causes[i].0.clone();
            }
            None => {
                unexplained += 1;
                d.cause = "no build-info difference: the package's source differs".into();
            }
        }
    }
    for ((text, _), n) in causes.iter().zip(&counts).filter(|(_, n)| **n > 0) {
        let packages = if *n == 1 {
            "1 differing package hash".to_string()
        } else {
            format!("{n} differing package hashes")
        };
        diff.explanations.push(Explanation {
            text: format!("{text} — explains {packages}"),
            packages: *n,
        });
    }
    if unexplained > 0 {
        diff.explanations.push(Explanation {
            text: format!(
                "{unexplained} package hash(es) differ with no difference in toolchain, settings, modules or recorded paths: the source differs (a replaced module at the same version, a local edit)"
            ),
            packages: unexplained,
        });
    }
    diff.packages.differing = differing;
    if cross {
        // Between a host and a plugin a module difference matters only through a shared
        // package whose hash it changes (a replacement path spelled differently does not).
        for m in diff.modules.iter_mut() {
            m.significant = m.in_both
                && diff.packages.differing.iter().any(|d| {
                    golang::module_of(ma, &d.path).is_some_and(|o| o.path == m.path)
                        || golang::module_of(mb, &d.path).is_some_and(|o| o.path == m.path)
                });
        }
    }
}

fn dynamic_diff(a: &Artifact, b: &Artifact) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(" ")
        }
    };
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            out.push(FieldDiff {
                field: name.into(),
                a: x,
                b: y,
            });
        }
    };
    field("NEEDED", list(&a.dynamic.needed), list(&b.dynamic.needed));
    field(
        "SONAME",
        a.dynamic.soname.clone().unwrap_or_default(),
        b.dynamic.soname.clone().unwrap_or_default(),
    );
    field(
        "RPATH",
        a.dynamic.rpath.join(":"),
        b.dynamic.rpath.join(":"),
    );
    field(
        "RUNPATH",
        a.dynamic.runpath.join(":"),
        b.dynamic.runpath.join(":"),
    );
    field(
        "FLAGS",
        list(&a.dynamic.flag_names),
        list(&b.dynamic.flag_names),
    );
    field(
        "interpreter",
        a.identity.interpreter.clone().unwrap_or_default(),
        b.identity.interpreter.clone().unwrap_or_default(),
    );
    field(
        "machine",
        a.identity.machine.clone(),
        b.identity.machine.clone(),
    );
    out
}

fn version_diff(a: &Artifact, b: &Artifact) -> Vec<FieldDiff> {
    let needs = |x: &Artifact| -> BTreeSet<String> {
        x.versions
            .needed
            .iter()
            .flat_map(|n| {
                n.versions
                    .iter()
                    .map(move |v| format!("{}:{}", n.library, v.name))
            })
            .collect()
    };
    let (na, nb) = (needs(a), needs(b));
    let mut out = Vec::new();
    if na != nb {
        let only = |x: &BTreeSet<String>, y: &BTreeSet<String>| {
            let v: Vec<&String> = x.difference(y).collect();
            if v.is_empty() {
                "-".to_string()
            } else {
                v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
            }
        };
        out.push(FieldDiff {
            field: "needed versions only here".into(),
            a: only(&na, &nb),
            b: only(&nb, &na),
        });
    }
    if a.versions.max_glibc != b.versions.max_glibc {
        out.push(FieldDiff {
            field: "highest GLIBC".into(),
            a: a.versions.max_glibc.clone().unwrap_or_else(|| "-".into()),
            b: b.versions.max_glibc.clone().unwrap_or_else(|| "-".into()),
        });
    }
    out
}

fn section_diff(a: &Artifact, b: &Artifact) -> Vec<SectionDiff> {
    let sizes = |x: &Artifact| -> BTreeMap<String, u64> {
        x.sections
            .iter()
            .filter(|s| !s.name.is_empty())
            .map(|s| (s.name.clone(), s.size))
            .collect()
    };
    let (sa, sb) = (sizes(a), sizes(b));
    let names: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
    let mut out: Vec<SectionDiff> = names
        .into_iter()
        .filter_map(|n| {
            let (x, y) = (sa.get(n).copied(), sb.get(n).copied());
            let delta = y.unwrap_or(0) as i64 - x.unwrap_or(0) as i64;
            (x != y).then(|| SectionDiff {
                name: n.clone(),
                a: x,
                b: y,
                delta,
            })
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.delta.unsigned_abs()));
    out.truncate(10);
    out
}

fn verdict(diff: &Diff, a: &Side, b: &Side) -> String {
    let cross = diff.a.role != diff.b.role;
    if diff.identical_bytes {
        return "identical files".into();
    }
    let mut parts: Vec<String> = Vec::new();
    if a.artifact.identity.machine_id != b.artifact.identity.machine_id {
        parts.push(format!(
            "different machines: {} vs {}",
            a.artifact.identity.machine, b.artifact.identity.machine
        ));
    }
    parts.extend(
        diff.explanations
            .iter()
            .filter(|e| e.packages > 0)
            .map(|e| e.text.clone()),
    );
    if diff.packages.differing.is_empty() {
        if let Some(v) = &diff.go_version {
            parts.push(format!(
                "Go version differs: {} vs {}",
                v.a.as_deref().unwrap_or("not Go"),
                v.b.as_deref().unwrap_or("not Go")
            ));
        }
        for s in diff.settings.iter().filter(|s| s.significant) {
            parts.push(format!(
                "{} differs: {} {}, {} {}",
                s.key,
                diff.a.label,
                s.a.as_deref().unwrap_or("unset"),
                diff.b.label,
                s.b.as_deref().unwrap_or("unset")
            ));
        }
        for m in diff.modules.iter().filter(|m| m.significant) {
            parts.push(format!("module {} differs", m.path));
        }
        if !diff.source_dirs.is_empty() && !cross {
            let pairs = diff
                .source_dirs
                .iter()
                .map(|d| format!("{} vs {}", d.a, d.b))
                .collect::<Vec<_>>()
                .join(", ");
            let trim = a.go.as_ref().and_then(|g| g.setting("-trimpath")) == Some("true");
            parts.push(format!(
                "recorded source directories differ ({pairs}){}",
                if trim { "" } else { ": -trimpath is unset, so the build directory is written into the binary (file names, DWARF)" }
            ));
        }
        if let Some(p) = diff.plugin_path.as_ref().filter(|_| !cross) {
            parts.push(format!(
                "plugin path differs: {} vs {}",
                p.a.as_deref().unwrap_or("none"),
                p.b.as_deref().unwrap_or("none")
            ));
        }
    }
    if let Some(first) = &diff.first_mismatch {
        parts.push(format!("plugin.Open would fail: {first}"));
    }
    if cross && diff.same_build_facts {
        return format!(
            "no difference that matters for loading: same toolchain, and the {} packages {} and {} share have equal hashes{}",
            diff.packages.shared,
            diff.a.label,
            diff.b.label,
            if diff
                .settings
                .iter()
                .any(|s| s.key == "-tags" || s.affects_hashes)
            {
                " (the settings that differ change none of them)"
            } else {
                ""
            }
        );
    }
    if parts.is_empty() || diff.same_build_facts {
        let mut text = "same build facts".to_string();
        if !diff.sections.is_empty() {
            text.push_str(&format!(
                "; the bytes differ ({} section(s) differ in size)",
                diff.sections.len()
            ));
        } else {
            text.push_str("; the bytes differ");
        }
        if !parts.is_empty() {
            text.push_str(&format!("; {}", parts.join("; ")));
        }
        return text;
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_at_separators() {
        assert_eq!(
            common_suffix_len("/tmp/a/greeter/main.go", "/tmp/b/greeter/main.go"),
            "/greeter/main.go".len()
        );
        assert_eq!(common_suffix_len("/x/amain.go", "/y/bmain.go"), 0);
    }

    #[test]
    fn dir_changes_pair_files() {
        let a = FileTable {
            files: vec![
                "/go/src/runtime/proc.go".into(),
                "/tmp/a/greeter/main.go".into(),
            ],
        };
        let b = FileTable {
            files: vec![
                "/go2/src/runtime/proc.go".into(),
                "/tmp/b/greeter/main.go".into(),
            ],
        };
        let changes = dir_changes(&a, &b);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].a.as_str(), changes[0].b.as_str()),
            ("/tmp/a", "/tmp/b")
        );
    }
}
