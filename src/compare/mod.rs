//! `plugctl diff A B`: what differs between two artifacts' build facts (plugin vs
//! plugin, host vs plugin, build vs rebuild), and which difference explains the others.
//!
//! Compared: Go version, build settings, module versions and sums, the package hash
//! table (in the plugin's check order), plugin path, the source file names a build
//! without `-trimpath` records, the dynamic section, symbol versions and section sizes.
//! Package hash differences are attributed to the first cause that accounts for them:
//! toolchain, a setting that changes every package, a module difference, a source
//! directory difference, `-tags`; what is left is reported as different source.

mod elf;
mod go;
mod verdict;

use elf::{dynamic_diff, section_diff, version_diff};
use go::go_diff;
use verdict::verdict;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::digest::sha256_file;
use crate::elf::{Artifact, ObjectKind};
use crate::golang::sources::FileTable;
use crate::golang::{self, GoFacts, GoRole};

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

impl Diff {
    /// The differing source directories as `A vs B, ...`.
    fn source_dir_pairs(&self) -> String {
        self.source_dirs
            .iter()
            .map(|d| format!("{} vs {}", d.a, d.b))
            .collect::<Vec<_>>()
            .join(", ")
    }
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
