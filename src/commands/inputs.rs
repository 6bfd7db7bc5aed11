//! Turning command-line artifact arguments into the list of files to inspect.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The files named by `args`. With `recursive`, a directory stands for every ELF file
/// below it (symlinks to directories are not followed, so loops cannot trap the walk);
/// without it a directory is kept and reported as unreadable. Names are kept exactly as
/// given: Go prints them that way (`plugin.Open("plugin")` for `plugin.so`).
pub fn expand(args: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        if recursive && arg.is_dir() {
            let mut found = Vec::new();
            walk(arg, &mut found).with_context(|| format!("walking {}", arg.display()))?;
            found.sort();
            out.extend(found);
        } else {
            out.push(arg.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            // An unreadable subdirectory is skipped, not fatal: one bad place never
            // stops the batch.
            let _ = walk(&path, found);
        } else if (file_type.is_file() || file_type.is_symlink() && path.is_file())
            && starts_with_elf_magic(&path)
        {
            found.push(path);
        }
    }
    Ok(())
}

fn starts_with_elf_magic(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursive_walk_keeps_only_elf_files_and_survives_symlink_loops() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/lib.so"), b"\x7fELF\x02\x01\x01").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"text").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/loop")).unwrap();
        let found = expand(&[dir.path().to_path_buf()], true).unwrap();
        assert_eq!(found, vec![dir.path().join("sub/lib.so")]);
    }
}
