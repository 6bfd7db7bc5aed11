//! Shared helpers for integration tests: the fixture corpus and running binaries.
#![allow(dead_code)]

pub mod loads;
pub mod sandbox;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

pub struct Fixtures {
    pub dir: PathBuf,
    pub manifest: Value,
}

impl Fixtures {
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// The manifest entry of an artifact by id.
    pub fn artifact(&self, id: &str) -> &Value {
        self.manifest["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("no fixture artifact {id}"))
    }

    pub fn artifacts_of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.manifest["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(move |a| a["kind"] == kind)
    }

    /// Relative path (to `dir`) of an artifact by id.
    pub fn rel(&self, id: &str) -> String {
        self.artifact(id)["path"].as_str().unwrap().to_string()
    }
}

/// Builds the corpus once per test process (the script is cached and takes a lock).
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::var_os("PLUGCTL_FIXTURE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/fixtures"));
        // PLUGCTL_FIXTURES_READY=1 skips the (cached, locked) build step when the corpus
        // is known to be in place, e.g. while the fixture script itself is being edited.
        let ready = std::env::var_os("PLUGCTL_FIXTURES_READY").is_some_and(|v| v == "1");
        let status = if ready {
            None
        } else {
            Some(
                Command::new("python3")
                    .arg(root.join("tests/fixtures/build.py"))
                    .arg("--out")
                    .arg(&dir)
                    .stdout(Stdio::inherit())
                    .stderr(Stdio::inherit())
                    .status()
                    .expect("python3 runs tests/fixtures/build.py"),
            )
        };
        if let Some(status) = status {
            assert!(status.success(), "tests/fixtures/build.py failed: {status}");
        }
        let manifest =
            std::fs::read_to_string(dir.join("manifest.json")).expect("fixture manifest");
        Fixtures {
            dir,
            manifest: serde_json::from_str(&manifest).expect("manifest is JSON"),
        }
    })
}

pub fn plugctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plugctl"))
}

pub use plugctl::process_run::Finished;

/// Runs a command with a wall-clock limit; a child still running then is killed.
pub fn run_with_timeout(mut command: Command, limit: Duration) -> Finished {
    plugctl::process_run::run_with_timeout(&mut command, limit).expect("spawn child")
}

/// Runs plugctl with arguments and returns its output.
pub fn run_plugctl(args: &[&str]) -> Output {
    plugctl().args(args).output().expect("run plugctl")
}
