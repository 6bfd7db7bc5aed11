//! What a sandboxed child sees of the file system: the loader's directories, the inputs
//! and the libraries they resolve to, the programs it runs, and one private writable
//! working directory. The same view is given to bubblewrap ([`super::bwrap`]) and to
//! gVisor ([`super::runsc`]).

use std::path::{Path, PathBuf};

/// Top-level system directories: bound read-only when they are directories, recreated as
/// the same symlink when they are links (merged /usr).
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin",
];

/// The loader's configuration files.
pub const LOADER_FILES: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ld.so.preload",
];

/// Where plugctl's own executable appears inside the sandbox.
pub const EXE_INSIDE: &str = "/run/plugctl/plugctl";

#[derive(Debug, Clone, Default)]
pub struct View {
    /// Bound read-only at the same path (files or directories).
    pub read_only: Vec<PathBuf>,
    /// `(link, target)` symlinks recreated inside.
    pub symlinks: Vec<(PathBuf, PathBuf)>,
    /// plugctl's executable on the host (bound at [`EXE_INSIDE`]).
    pub exe: PathBuf,
    /// The private writable directory.
    pub workdir: PathBuf,
    /// Share plugctl's network (`--network host`).
    pub host_network: bool,
    /// The whole file system writable (`--writable`).
    pub writable_root: bool,
}

impl View {
    /// The system part of the view plus `extra` inputs (plugins, libraries, harness).
    pub fn new(extra: &[PathBuf], exe: PathBuf, workdir: PathBuf) -> View {
        let mut view = View {
            exe,
            workdir,
            ..View::default()
        };
        for dir in SYSTEM_DIRS {
            let p = Path::new(dir);
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(p) {
                        view.symlinks.push((p.to_path_buf(), target));
                    }
                }
                Ok(m) if m.is_dir() => view.read_only.push(p.to_path_buf()),
                _ => {}
            }
        }
        for f in LOADER_FILES {
            if Path::new(f).exists() {
                view.read_only.push(PathBuf::from(f));
            }
        }
        for p in extra {
            view.add(p);
        }
        view
    }

    fn covers(&self, p: &Path) -> bool {
        self.read_only.iter().any(|r| p.starts_with(r))
            || self.symlinks.iter().any(|(l, _)| p.starts_with(l))
    }

    /// Adds a path unless an already bound directory covers it.
    pub fn add(&mut self, path: &Path) {
        let Ok(abs) = std::path::absolute(path) else {
            return;
        };
        if !abs.exists() {
            return;
        }
        if !self.covers(&abs) {
            self.read_only.push(abs.clone());
        }
        // A symlinked input: its target must be there too.
        if let Ok(real) = std::fs::canonicalize(&abs)
            && real != abs
            && !self.covers(&real)
        {
            self.read_only.push(real);
        }
    }
}
