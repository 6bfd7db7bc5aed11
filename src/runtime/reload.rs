//! Hot-reload copies: N rebuilds of the plugin's source, each with a distinct plugin
//! path, as a hot-reloading server produces them.
//!
//! Go identifies a plugin by its plugin path (the main package's import path): a second
//! build of the same package is "already loaded". `-ldflags=-pluginpath=` cannot help:
//! the compiler has already named the exported symbols after the import path, so
//! `plugin.Open` then fails with `could not find symbol`. So each copy is built from
//! the package's file list (plugin path `plugin/unnamed-<hash>`, the hash covering the
//! build ID) with one file replaced through `go build -overlay` by itself plus a unique
//! `const _ = "plugctl reload copy N"`: the user's directory is never written to.
//! Copies are cached by a hash of the module's files, the flags and N.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::harness::{self, BuildPlan};
use crate::golang::GoFacts;
use crate::toolchain::{self, cache_dir};

#[derive(Debug, Clone, Serialize)]
pub struct Copies {
    pub paths: Vec<PathBuf>,
    pub built: usize,
    pub cached: usize,
    pub ms: u64,
    pub plan: BuildPlan,
    pub method: String,
}

/// The directory holding go.mod, from `dir` upwards.
fn module_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join("go.mod").is_file())
        .map(Path::to_path_buf)
}

fn hash_tree(root: &Path, h: &mut Sha256) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)
            .with_context(|| format!("reading {}", d.display()))?
            .flatten()
        {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    for f in files {
        let meta = std::fs::metadata(&f)?;
        if meta.len() > 64 << 20 {
            continue;
        }
        h.update(
            f.strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .as_bytes(),
        );
        h.update([0]);
        h.update(std::fs::read(&f)?);
        h.update([1]);
    }
    Ok(())
}

/// Builds (or finds) `n` copies of the plugin whose source is `source` (the plugin's main
/// package directory), with the build settings of `facts`.
pub fn copies(source: &Path, facts: &GoFacts, n: usize, progress: &dyn Fn(&str)) -> Result<Copies> {
    let started = Instant::now();
    let source =
        std::fs::canonicalize(source).with_context(|| format!("--source {}", source.display()))?;
    let root = module_root(&source)
        .with_context(|| format!("--source {}: no go.mod here or above", source.display()))?;
    let mut plan = harness::plan_from(facts, "the plugin".into())?;
    // The copies are plugins: mirror the plugin's link flags too.
    if let Some(ld) = facts.setting("-ldflags").filter(|v| !v.is_empty()) {
        plan.flags.push(format!("-ldflags={ld}"));
    }
    plan.notes.clear();
    let tc = toolchain::ensure(&plan.go_version, progress)?;
    // The package's files, as go itself selects them.
    let mut list = harness::go_build_command(&tc, &plan.env);
    list.current_dir(&source)
        .args([
            "list",
            "-f",
            "{{range .GoFiles}}{{.}}\n{{end}}{{range .CgoFiles}}{{.}}\n{{end}}",
        ])
        .args(plan.flags.iter().filter(|f| f.starts_with("-tags=")))
        .arg(".");
    let out = list.output().context("go list")?;
    if !out.status.success() {
        bail!(
            "go list in {} failed: {}",
            source.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let files: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let Some(first) = files.first().cloned() else {
        bail!("--source {}: no Go files", source.display())
    };
    let original = std::fs::read_to_string(source.join(&first))?;

    let mut h = Sha256::new();
    h.update(b"plugctl-reload-1\0");
    hash_tree(&root, &mut h)?;
    h.update(source.to_string_lossy().as_bytes());
    h.update(format!("{:?}{:?}{}", plan.flags, plan.env, tc.go.display()).as_bytes());
    let key: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = cache_dir().join("reload").join(&key);
    std::fs::create_dir_all(&dir)?;
    let (mut built, mut cached) = (0, 0);
    let mut paths = Vec::new();
    for i in 1..=n {
        let out = dir.join(format!("copy-{i}.so"));
        if out.is_file() {
            cached += 1;
            paths.push(out);
            continue;
        }
        progress(&format!(
            "building hot-reload copy {i}/{n} of {}",
            source.display()
        ));
        let replacement = dir.join(format!("copy-{i}.{first}"));
        std::fs::write(
            &replacement,
            format!(
                "{original}\n\n// plugctl hot-reload copy {i}\nconst _ = \"plugctl reload copy {i}\"\n"
            ),
        )?;
        let overlay = dir.join(format!("copy-{i}.overlay.json"));
        let json = Overlay {
            replace: [(
                source.join(&first).display().to_string(),
                replacement.display().to_string(),
            )]
            .into(),
        };
        std::fs::write(&overlay, serde_json::to_vec(&json)?)?;
        let partial = dir.join(format!(".copy-{i}.so.{}", std::process::id()));
        let mut cmd = harness::go_build_command(&tc, &plan.env);
        cmd.current_dir(&source)
            .args(["build", "-buildmode=plugin"])
            .args(&plan.flags)
            .arg(format!("-overlay={}", overlay.display()))
            .arg("-o")
            .arg(&partial)
            .args(&files);
        let output = cmd.output().context("go build (reload copy)")?;
        let _ = std::fs::remove_file(&overlay);
        let _ = std::fs::remove_file(&replacement);
        if !output.status.success() {
            let _ = std::fs::remove_file(&partial);
            bail!(
                "building reload copy {i} failed:\n{}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        std::fs::rename(&partial, &out)?;
        built += 1;
        paths.push(out);
    }
    Ok(Copies {
        paths,
        built,
        cached,
        ms: started.elapsed().as_millis() as u64,
        plan,
        method: format!(
            "rebuilt from the file list of {} with an -overlay of {first} (plugin path plugin/unnamed-<hash>, distinct per copy)",
            source.display()
        ),
    })
}

/// A `go build -overlay` file: source files replaced by others.
#[derive(serde::Serialize)]
struct Overlay {
    #[serde(rename = "Replace")]
    replace: std::collections::BTreeMap<String, String>,
}
