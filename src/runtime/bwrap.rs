//! The native backend: bubblewrap (`bwrap`, the sandbox behind Flatpak) builds the
//! sandbox; plugctl only chooses its arguments. New user, PID, mount, IPC, UTS, cgroup
//! and network namespaces, no nested user namespaces, every capability dropped, a new
//! session, a fresh `/proc` of its own PID namespace, a minimal `/dev`, a read-only
//! root holding only the [`View`]; bwrap dies with plugctl and takes the whole PID
//! namespace with it.

use std::path::Path;

use anyhow::{Context, Result};

use super::view::{EXE_INSIDE, View};

/// Where the sandbox finds plugctl's executable.
pub fn exe_inside(view: &View) -> String {
    if view.writable_root {
        s(&view.exe)
    } else {
        EXE_INSIDE.to_string()
    }
}

/// `bwrap` on PATH.
pub fn find() -> Result<std::path::PathBuf> {
    which::which("bwrap").context(
        "the native sandbox needs bubblewrap (`bwrap`): install it (Debian: apt-get install bubblewrap)",
    )
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// bwrap's arguments up to and including `--`; the command follows.
pub fn args(view: &View) -> Vec<String> {
    let mut a: Vec<String> = [
        "--unshare-user",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "plugctl",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    if !view.host_network {
        a.push("--unshare-net".into());
    }
    if view.writable_root {
        a.extend(["--bind".into(), "/".into(), "/".into()]);
    }
    for (link, target) in &view.symlinks {
        if !view.writable_root {
            a.extend(["--symlink".into(), s(target), s(link)]);
        }
    }
    for p in &view.read_only {
        if !view.writable_root {
            a.extend(["--ro-bind".into(), s(p), s(p)]);
        }
    }
    // bwrap 0.8 leaves /proc/sys writable; for root (uid 0 in the user namespace is uid 0
    // outside) that would be every global sysctl, core_pattern included.
    a.extend(
        [
            "--proc",
            "/proc",
            "--ro-bind",
            "/proc/sys",
            "/proc/sys",
            "--dev",
            "/dev",
        ]
        .map(String::from),
    );
    if !view.writable_root {
        a.extend(["--ro-bind".into(), s(&view.exe), EXE_INSIDE.into()]);
    }
    a.extend(["--bind".into(), s(&view.workdir), s(&view.workdir)]);
    a.extend(["--chdir".into(), s(&view.workdir)]);
    if !view.writable_root {
        a.extend(["--remount-ro".into(), "/".into()]);
    }
    a.push("--".into());
    a
}

/// `bubblewrap 0.8.0`, for the report.
pub fn version(bwrap: &Path) -> String {
    // Asked once per plugctl process (every child reports it).
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            std::process::Command::new(bwrap)
                .arg("--version")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "bubblewrap".into())
        })
        .clone()
}
