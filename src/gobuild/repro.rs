//! `--verify-repro`: builds the plugin a second time, from a copy of its module in
//! another directory and with an empty Go build cache, and compares the SHA-256 of the
//! two files. On a difference, `diff` says what differs and why.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::gocmd::{GoEnv, failure_text};
use super::sha256_file;
use crate::compare::{self, Diff};

#[derive(Debug, Clone, Serialize)]
pub struct ReproCheck {
    pub identical: bool,
    pub sha256_first: String,
    pub sha256_second: String,
    /// Where the second build's sources were (removed afterwards).
    pub rebuild_dir: PathBuf,
    /// The second build used an empty GOCACHE.
    pub clean_cache: bool,
    /// What differs and why, when the files differ.
    pub differences: Vec<String>,
    pub verdict: Option<String>,
    pub seconds: f64,
    #[serde(skip)]
    pub diff: Option<Diff>,
}

/// What the second build needs from the first.
pub struct Rebuild<'a> {
    pub module_root: &'a Path,
    /// The package directory relative to the module root.
    pub package_rel: &'a Path,
    pub aligned_gomod: &'a Path,
    /// `go build` arguments after `build` and before `-o`, without `-modfile`.
    pub flags: &'a [String],
    pub first: &'a Path,
    /// Files of the module tree not to copy (the output and its manifest).
    pub skip: &'a [PathBuf],
}

pub fn verify(go: &GoEnv, r: &Rebuild) -> Result<ReproCheck> {
    let start = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("plugctl-repro-")
        .tempdir()
        .context("creating the rebuild directory")?;
    let name = r
        .module_root
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "module".into());
    let src = work.path().join("src").join(name);
    copy_tree(r.module_root, &src, r.skip)?;
    let modfile_dir = work.path().join("modfile");
    std::fs::create_dir_all(&modfile_dir)?;
    std::fs::copy(r.aligned_gomod, modfile_dir.join("go.mod"))
        .context("copying the aligned go.mod")?;
    let sum = r.aligned_gomod.with_extension("sum");
    if sum.is_file() {
        std::fs::copy(&sum, modfile_dir.join("go.sum"))?;
    }
    let mut clean = go.clone();
    clean.env.insert(
        "GOCACHE".into(),
        work.path().join("gocache").display().to_string(),
    );
    let second = work.path().join("rebuild.so");
    let mut args = vec!["build".to_string(), "-buildmode=plugin".to_string()];
    args.push(format!("-modfile={}", modfile_dir.join("go.mod").display()));
    args.extend(r.flags.iter().cloned());
    args.extend([
        "-o".to_string(),
        second.display().to_string(),
        ".".to_string(),
    ]);
    let output = clean.run(&src.join(r.package_rel), &args)?;
    if !output.status.success() {
        bail!(
            "the rebuild failed: {}",
            failure_text(&clean.display(&args), &output)
        );
    }
    let (a, b) = (sha256_file(r.first)?, sha256_file(&second)?);
    let mut check = ReproCheck {
        identical: a == b,
        sha256_first: a,
        sha256_second: b,
        rebuild_dir: src.clone(),
        clean_cache: true,
        differences: Vec::new(),
        verdict: None,
        seconds: 0.0,
        diff: None,
    };
    if !check.identical {
        let d = compare::compare_paths(r.first, &second)?;
        check.differences = d
            .explanations
            .iter()
            .filter(|e| e.packages > 0)
            .map(|e| e.text.clone())
            .collect();
        for dir in &d.source_dirs {
            check.differences.push(format!(
                "recorded source directory {} vs {} ({} files)",
                dir.a, dir.b, dir.files
            ));
        }
        for s in d.sections.iter().take(5) {
            check.differences.push(format!(
                "section {}: {} vs {} bytes",
                s.name,
                s.a.map_or("-".into(), |v| v.to_string()),
                s.b.map_or("-".into(), |v| v.to_string())
            ));
        }
        check.verdict = Some(d.verdict.clone());
        check.diff = Some(d);
    }
    check.seconds = start.elapsed().as_secs_f64();
    Ok(check)
}

/// Copies a directory tree (regular files and directories; symbolic links as links),
/// leaving out hidden directories such as `.git` and the files in `skip`.
pub fn copy_tree(from: &Path, to: &Path, skip: &[PathBuf]) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let kind = entry.file_type()?;
        if skip.iter().any(|s| s == &path) {
            continue;
        }
        let target = to.join(&name);
        if kind.is_dir() {
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            copy_tree(&path, &target, skip)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&path)?;
            std::os::unix::fs::symlink(link, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&path, &target).with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}
