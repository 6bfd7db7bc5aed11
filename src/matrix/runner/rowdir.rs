//! A row's load directory and environment: the cache key of a load, the directory of
//! hard links it runs in, the environment it runs with, and how its messages name files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::super::builder::Built;
use super::super::def::{Build, Row};
use super::{Ctx, LOAD_SCHEME};
use crate::runtime;

/// Variables removed from every load's environment (the row sets what it needs).
const CLEANED: &[&str] = &[
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "LD_BIND_NOW",
    "GLIBC_TUNABLES",
    "GODEBUG",
    "GOTRACEBACK",
    "DEEPSEEK_API_KEY",
    "DEEPSEEK_BASE_URL",
];

pub(super) fn load_key(
    ctx: &Ctx,
    row: &Row,
    host: Option<&Built>,
    plugins: &[(&Build, Built)],
    libs: &BTreeMap<String, Built>,
) -> String {
    let mut h = Sha256::new();
    for part in [
        LOAD_SCHEME,
        env!("CARGO_PKG_VERSION"),
        &ctx.machine.fingerprint(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(serde_json::to_vec(&row.load).unwrap_or_default());
    h.update(
        serde_json::to_vec(&row.host.as_ref().map(|b| (&b.name, b.protocol))).unwrap_or_default(),
    );
    h.update(host.map(|b| b.key.as_str()).unwrap_or("-").as_bytes());
    for (b, built) in plugins {
        h.update([1]);
        h.update(b.name.as_bytes());
        h.update([2]);
        h.update(built.key.as_bytes());
    }
    for (name, l) in libs {
        h.update([3]);
        h.update(name.as_bytes());
        h.update(l.key.as_bytes());
    }
    if row.load.options.reload > 0 {
        // Reload copies are rebuilt from the plugin's source.
        h.update(ctx.builder.src().display().to_string().as_bytes());
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The row's directory: the host and `plugins/NAME`, hard-linked from the build cache.
pub(super) fn prepare_dir(
    dir: &Path,
    host: Option<&(&Build, Built)>,
    plugins: &[(&Build, Built)],
) -> Result<PathBuf> {
    let ready = dir.join(".ready");
    let mut want: Vec<(PathBuf, &Path)> = Vec::new();
    if let Some((b, built)) = host {
        want.push((
            dir.join(&b.name),
            built.path.as_deref().context("host has no output")?,
        ));
    }
    for (b, built) in plugins {
        want.push((
            dir.join("plugins").join(&b.name),
            built.path.as_deref().context("plugin has no output")?,
        ));
    }
    if ready.is_file() && want.iter().all(|(to, _)| to.is_file()) {
        return Ok(dir.to_path_buf());
    }
    std::fs::create_dir_all(dir.join("plugins"))
        .with_context(|| format!("creating {}", dir.display()))?;
    for (to, from) in &want {
        let _ = std::fs::remove_file(to);
        match std::fs::hard_link(from, to) {
            Ok(()) => {}
            // Another row with the same load is preparing the same directory.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => {
                std::fs::copy(from, to)
                    .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            }
        }
    }
    std::fs::write(&ready, b"")?;
    Ok(dir.to_path_buf())
}

fn lib_dir(libs: &BTreeMap<String, Built>, name: &str) -> Option<PathBuf> {
    libs.get(name)?
        .path
        .as_ref()?
        .parent()
        .map(Path::to_path_buf)
}

/// The environment of a load (and of its prediction): cleaned, then the row's.
pub(super) fn load_env(
    row: &Row,
    dir: &Path,
    libs: &BTreeMap<String, Built>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = row
        .load
        .options
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !row.load.options.ld_library_path.is_empty() {
        let dirs: Vec<String> = row
            .load
            .options
            .ld_library_path
            .iter()
            .map(|d| match d.strip_prefix("lib:") {
                Some(l) => lib_dir(libs, l)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                None => dir.join(d).display().to_string(),
            })
            .collect();
        env.retain(|(k, _)| k != "LD_LIBRARY_PATH");
        env.push(("LD_LIBRARY_PATH".into(), dirs.join(":")));
    }
    env
}

pub(super) fn apply_env(command: &mut Command, env: &[(String, String)]) {
    for var in CLEANED {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
}

pub(super) fn plugin_args(row: &Row) -> Vec<String> {
    row.plugins
        .iter()
        .map(|b| format!("plugins/{}", b.name))
        .collect()
}

pub(super) fn timeout_of(row: &Row) -> Duration {
    row.load
        .options
        .timeout
        .as_deref()
        .and_then(|t| runtime::contract::parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60))
}

/// Messages name the row's files relative to its directory (Go dlopens the real path, so
/// glibc's messages carry it): results do not depend on where the cache is.
pub(super) fn strip_dir(text: &str, dir: &Path) -> String {
    let mut out = text.replace(&format!("{}/", dir.display()), "");
    if let Ok(real) = std::fs::canonicalize(dir)
        && real != dir
    {
        out = out.replace(&format!("{}/", real.display()), "");
    }
    out
}
