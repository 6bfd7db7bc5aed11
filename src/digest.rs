//! Digests shared by the engines: lower-case hex, SHA-256 of a file and of a source tree.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// SHA-256 of a file, as lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of `bytes` (digests, hashes). One allocation: the JSON of a big plugin
/// writes 200 package hashes, and a `format!` per byte was 1.1 million instructions of a
/// 34-million-instruction `inspect`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

/// SHA-256 over a directory tree: for each regular file in sorted relative-path order,
/// its path, a NUL, its length, a NUL, its bytes. Hidden directories (`.git`) and `skip`
/// are left out. Returns the hash and the number of files.
pub fn hash_tree(root: &Path, skip: &[PathBuf]) -> Result<(String, usize)> {
    fn walk(dir: &Path, root: &Path, skip: &[PathBuf], out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if skip.contains(&path) {
                continue;
            }
            if kind.is_dir() {
                if !entry.file_name().to_string_lossy().starts_with('.') {
                    walk(&path, root, skip, out)?;
                }
            } else if kind.is_file() {
                out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(root, root, skip, &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    for rel in &files {
        let data =
            std::fs::read(root.join(rel)).with_context(|| format!("reading {}", rel.display()))?;
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(data.len().to_string().as_bytes());
        hasher.update([0]);
        hasher.update(&data);
    }
    Ok((hex(&hasher.finalize()), files.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lower_case_digits_per_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff, 0x7b]), "000fa0ff7b");
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), expected);
    }

    #[test]
    fn tree_hash_ignores_hidden_dirs_and_skipped_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.go"), "package a").unwrap();
        let (h1, n1) = hash_tree(dir.path(), &[]).unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "x").unwrap();
        std::fs::write(dir.path().join("out.so"), "elf").unwrap();
        let (h2, n2) = hash_tree(dir.path(), &[dir.path().join("out.so")]).unwrap();
        assert_eq!((h1.as_str(), n1), (h2.as_str(), n2));
        std::fs::write(dir.path().join("a.go"), "package b").unwrap();
        assert_ne!(hash_tree(dir.path(), &[]).unwrap().0, h1);
    }
}
