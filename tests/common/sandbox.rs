//! Helpers for tests of the sandboxed runtime: an unprivileged user, and the check that a
//! load left nothing behind.

use std::path::Path;
use std::process::Command;

/// The uid and gid of the system user `name`, created (no home, no shell) when missing.
pub fn unprivileged_user(name: &str) -> (u32, u32) {
    let id = |flag: &str| -> Option<u32> {
        let o = Command::new("id").args([flag, name]).output().ok()?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    if id("-u").is_none() {
        let status = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .status()
            .expect("useradd");
        // Another test may have created it meanwhile.
        assert!(status.success() || id("-u").is_some(), "useradd {name}");
    }
    (id("-u").expect("uid"), id("-g").expect("gid"))
}

/// Asserts that `dir` (the TMPDIR a load ran with) is empty again.
pub fn assert_nothing_left_in(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}
