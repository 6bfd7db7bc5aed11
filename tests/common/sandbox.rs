//! Helpers for tests of the sandboxed runtime: an unprivileged user, the check that a
//! load left nothing behind, and one `plugctl … --format json` load run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

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

/// `program` run as `uid`:`gid` with no supplementary groups and no inheritable
/// capabilities (`setpriv`, util-linux): a root caller dropped to an ordinary user.
pub fn as_user(uid: u32, gid: u32, program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ])
        .arg(program);
    command
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

/// One `plugctl … --format json` run of a command that loads in sandboxed children
/// (`load`, `load --wasm`): its document and how it ended.
pub struct LoadRun {
    pub json: Value,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl LoadRun {
    pub fn artifact(&self, i: usize) -> &Value {
        &self.json["artifacts"][i]
    }

    pub fn layer(&self, i: usize, name: &str) -> &Value {
        self.artifact(i)["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["layer"] == name)
            .unwrap_or_else(|| panic!("no {name} layer in {}", self.artifact(i)))
    }

    pub fn status(&self, i: usize, name: &str) -> &str {
        self.layer(i, name)["status"].as_str().unwrap()
    }

    pub fn reason(&self, i: usize, name: &str) -> &str {
        self.layer(i, name)["reason"].as_str().unwrap()
    }

    /// The child run labelled `label` (`loader`, `go`, …).
    pub fn run(&self, label: &str) -> &Value {
        self.json["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == label)
            .unwrap_or_else(|| panic!("no {label} run"))
    }

    /// Lifecycle phase `phase` of artifact `i`.
    pub fn phase(&self, i: usize, phase: &str) -> &Value {
        self.layer(i, "lifecycle")["details"]["phases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["phase"] == phase)
            .unwrap_or_else(|| panic!("no {phase} phase in {}", self.layer(i, "lifecycle")))
    }
}

/// Runs `plugctl ARGS --format json` with a private TMPDIR and a 300 s limit: it must not
/// hang, must print a JSON document and must leave nothing in its temp dir. (What each
/// child left is the caller's to check: see `runs` in the document.)
pub fn plugctl_json(args: &[&str]) -> LoadRun {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = super::plugctl();
    cmd.args(args)
        .args(["--format", "json"])
        .env("TMPDIR", tmp.path());
    let done = super::run_with_timeout(cmd, Duration::from_secs(300));
    assert!(!done.timed_out, "plugctl {args:?} hung\n{}", done.stderr);
    let json: Value = serde_json::from_str(&done.stdout).unwrap_or_else(|e| {
        panic!(
            "plugctl {args:?}: not JSON ({e}); exit {:?}\n{}\n{}",
            done.code(),
            done.stdout,
            done.stderr
        )
    });
    assert_nothing_left_in(tmp.path());
    LoadRun {
        json,
        code: done.code().expect("plugctl exited"),
        stdout: done.stdout,
        stderr: done.stderr,
        elapsed: done.elapsed,
    }
}
