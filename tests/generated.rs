//! completions/ and man/ are generated from the clap definition and checked in. This
//! regenerates them into a temporary directory and fails when the checked-in files differ.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::plugctl;

const REFRESH: &str = plugctl::commands::generate::REFRESH;
const FOLDERS: &[&str] = &["completions", "man"];

/// Every file under `root/completions` and `root/man`, by relative path.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for folder in FOLDERS {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.path().is_file() {
                let name = format!("{folder}/{}", entry.file_name().to_string_lossy());
                out.insert(name, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

/// What differs between freshly generated files and checked-in ones, one line each.
fn stale(fresh: &Path, checked_in: &Path) -> Vec<String> {
    let fresh = files(fresh);
    let checked_in = files(checked_in);
    let mut problems = Vec::new();
    for (name, bytes) in &fresh {
        match checked_in.get(name) {
            None => problems.push(format!("{name}: missing")),
            Some(old) if old != bytes => problems.push(format!("{name}: out of date")),
            Some(_) => {}
        }
    }
    for name in checked_in.keys().filter(|n| !fresh.contains_key(*n)) {
        problems.push(format!("{name}: no longer generated"));
    }
    problems
}

fn generate_into(dir: &Path) {
    let output = plugctl()
        .args(["generate", "--quiet", "--out-dir"])
        .arg(dir)
        .output()
        .expect("run plugctl generate");
    assert!(
        output.status.success(),
        "plugctl generate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn checked_in_completions_and_man_pages_are_fresh() {
    let fresh = tempfile::tempdir().unwrap();
    generate_into(fresh.path());
    let generated = files(fresh.path());
    for expected in [
        "completions/plugctl.bash",
        "completions/_plugctl",
        "completions/plugctl.fish",
        "completions/plugctl.elv",
        "completions/_plugctl.ps1",
        "man/plugctl.1",
        "man/plugctl-inspect.1",
        "man/plugctl-doctor.1",
        "man/plugctl-explain.1",
    ] {
        assert!(
            generated.contains_key(expected),
            "{expected} was not generated: {:?}",
            generated.keys()
        );
    }
    let problems = stale(fresh.path(), Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        problems.is_empty(),
        "completions/ and man/ are stale; refresh them with `{REFRESH}` and commit the result:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn stale_completions_fail_the_check() {
    let fresh = tempfile::tempdir().unwrap();
    generate_into(fresh.path());
    let old = tempfile::tempdir().unwrap();
    generate_into(old.path());
    assert!(
        stale(fresh.path(), old.path()).is_empty(),
        "generation is deterministic"
    );
    // A completion script from before an option existed, a page of a removed command, and
    // a missing page.
    let bash = old.path().join("completions/plugctl.bash");
    let text = std::fs::read_to_string(&bash)
        .unwrap()
        .replace("--verbose", "");
    std::fs::write(&bash, text).unwrap();
    std::fs::write(
        old.path().join("man/plugctl-removed.1"),
        ".TH plugctl-removed 1\n",
    )
    .unwrap();
    std::fs::remove_file(old.path().join("man/plugctl-explain.1")).unwrap();
    let problems = stale(fresh.path(), old.path());
    assert_eq!(
        problems,
        [
            "completions/plugctl.bash: out of date",
            "man/plugctl-explain.1: missing",
            "man/plugctl-removed.1: no longer generated"
        ],
    );
}

#[test]
fn generating_again_removes_pages_of_removed_commands() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("man")).unwrap();
    std::fs::write(dir.path().join("man/plugctl-removed.1"), "old").unwrap();
    generate_into(dir.path());
    assert!(!dir.path().join("man/plugctl-removed.1").exists());
}
