//! The built-in default matrix (`matrix/default.toml`, compiled in with the sources it
//! builds) and the source tree every build reads: copied first into a directory named by
//! its content hash, so host and plugins compile shared packages from the same paths (a
//! package's hash depends on its source paths unless `-trimpath`), nothing writes into
//! the user's tree, and identical sources give identical builds on every run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use super::def::{Definition, clean};

/// The default definition, as in the repository.
pub const DEFAULT_TOML: &str = include_str!("../../matrix/default.toml");

/// Where the built-in definition pretends to live (its `sources` resolve below it).
const BUILTIN_ROOT: &str = "/plugctl-builtin";

macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../", $path)))),*]
    };
}

/// The files the default matrix builds, by repository path.
const EMBEDDED: &[(&str, &str)] = embedded![
    "tests/fixtures/src/greeter/go.mod",
    "tests/fixtures/src/greeter/go.shared-v2.mod",
    "tests/fixtures/src/greeter/main.go",
    "tests/fixtures/src/greeter/fixssl/main.go",
    "tests/fixtures/src/greeter/ssl/main.go",
    "tests/fixtures/src/shared-v1/go.mod",
    "tests/fixtures/src/shared-v1/shared.go",
    "tests/fixtures/src/shared-v2/go.mod",
    "tests/fixtures/src/shared-v2/shared.go",
    "tests/fixtures/src/loadhost/go.mod",
    "tests/fixtures/src/loadhost/go.shared-v2.mod",
    "tests/fixtures/src/loadhost/main.go",
    "tests/fixtures/src/loadhost/big.go",
    "tests/fixtures/src/llmkit/go.mod",
    "tests/fixtures/src/llmkit/client.go",
    "tests/fixtures/src/llmkit/extras.go",
    "tests/fixtures/src/runtime/go.mod",
    "tests/fixtures/src/runtime/leaky/main.go",
    "tests/fixtures/src/c/dlhost.c",
    "tests/fixtures/src/c/simple.c",
    "tests/fixtures/src/c/fixssl.c",
    "tests/fixtures/src/c/tls_small.c",
];

/// The built-in default definition.
pub fn builtin() -> Result<Definition> {
    Definition::parse(
        DEFAULT_TOML,
        &Path::new(BUILTIN_ROOT).join("matrix"),
        "built-in matrix/default.toml",
    )
}

/// A source tree copied under its content hash.
#[derive(Debug, Clone)]
pub struct Tree {
    pub root: PathBuf,
    /// SHA-256 over sorted relative paths and contents.
    pub hash: String,
    pub files: usize,
}

fn read_dir_tree(root: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                if entry.metadata()?.len() > 16 << 20 {
                    bail!(
                        "{}: larger than 16 MiB; the source tree should hold sources only",
                        path.display()
                    );
                }
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                out.insert(
                    rel,
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
                );
            }
            if out.len() > 20_000 {
                bail!(
                    "{}: more than 20000 files; point `sources` at the build sources only",
                    root.display()
                );
            }
        }
    }
    Ok(out)
}

/// Reads `sources` (a directory, or the built-in tree) and copies it to
/// `<cache>/matrix/src/<hash>/` unless it is already there.
pub fn materialize(sources: &Path, cache: &Path) -> Result<Tree> {
    let files: BTreeMap<String, Vec<u8>> = match sources.strip_prefix(BUILTIN_ROOT) {
        Ok(rel) => {
            let prefix = format!("{}/", clean(rel).display());
            EMBEDDED
                .iter()
                .filter_map(|(p, text)| {
                    p.strip_prefix(&prefix)
                        .map(|r| (r.to_string(), text.as_bytes().to_vec()))
                })
                .collect()
        }
        Err(_) => {
            if !sources.is_dir() {
                bail!("sources: {} is not a directory", sources.display());
            }
            read_dir_tree(sources)?
        }
    };
    if files.is_empty() {
        bail!("sources: {} holds no files", sources.display());
    }
    let mut h = Sha256::new();
    h.update(b"plugctl-matrix-sources-1\0");
    for (rel, data) in &files {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(data.len().to_le_bytes());
        h.update(data);
    }
    let hash = crate::digest::hex(&h.finalize());
    let parent = cache.join("src");
    let root = parent.join(&hash[..16]);
    if !root.join(".complete").is_file() {
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        let staging = parent.join(format!(".tmp-{}-{}", &hash[..16], std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        for (rel, data) in &files {
            let dest = staging.join(rel);
            if let Some(d) = dest.parent() {
                std::fs::create_dir_all(d)?;
            }
            std::fs::write(&dest, data).with_context(|| format!("writing {}", dest.display()))?;
        }
        std::fs::write(staging.join(".complete"), &hash)?;
        if std::fs::rename(&staging, &root).is_err() {
            // Another run copied the same tree meanwhile (or a stale partial copy is in the way).
            let _ = std::fs::remove_dir_all(&staging);
            if !root.join(".complete").is_file() {
                let _ = std::fs::remove_dir_all(&root);
                bail!(
                    "could not place the source tree at {}; run again",
                    root.display()
                );
            }
        }
    }
    Ok(Tree {
        root,
        hash,
        files: files.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_default_parses_and_its_sources_are_embedded() {
        let def = builtin().unwrap();
        assert!(def.sources.starts_with(BUILTIN_ROOT));
        let dir = tempfile::tempdir().unwrap();
        let tree = materialize(&def.sources, dir.path()).unwrap();
        assert!(tree.root.join("greeter/main.go").is_file());
        assert!(tree.root.join("c/tls_small.c").is_file());
        let again = materialize(&def.sources, dir.path()).unwrap();
        assert_eq!((again.root, again.hash), (tree.root, tree.hash));
    }

    #[test]
    fn trees_are_named_by_content() {
        let src = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a.go"), "package a").unwrap();
        std::fs::create_dir(src.path().join(".git")).unwrap();
        std::fs::write(src.path().join(".git/x"), "ignored").unwrap();
        let one = materialize(src.path(), cache.path()).unwrap();
        assert_eq!(one.files, 1);
        std::fs::write(src.path().join("a.go"), "package b").unwrap();
        let two = materialize(src.path(), cache.path()).unwrap();
        assert_ne!(one.root, two.root);
    }
}
