//! `--help` of plugctl and of every (visible) subcommand, as insta snapshots in
//! tests/snapshots/. A new or changed subcommand fails here until its snapshot is
//! reviewed: `INSTA_UPDATE=always INSTA_FORCE_PASS=1 cargo test --test help`, then read
//! the diff (or `cargo insta review`).

mod common;

use clap::CommandFactory;
use plugctl::commands::Cli;

use common::plugctl;

/// Help text as a user with a 100-column terminal sees it, with no colour.
fn help(args: &[&str]) -> String {
    let output = plugctl()
        .args(args)
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .output()
        .expect("run plugctl");
    assert!(
        output.status.success(),
        "plugctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&env!("CARGO_PKG_VERSION").replace('.', r"\."), "[VERSION]");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// The visible subcommands, from the clap definition (hidden ones have no help to keep).
fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

#[test]
fn help_of_plugctl() {
    settings().bind(|| {
        insta::assert_snapshot!("help", help(&["--help"]));
        insta::assert_snapshot!("version", help(&["--version"]));
    });
}

#[test]
fn help_of_every_subcommand() {
    let names = subcommands();
    for expected in ["inspect", "doctor", "explain"] {
        assert!(
            names.iter().any(|n| n == expected),
            "no {expected} subcommand in {names:?}"
        );
    }
    settings().bind(|| {
        for name in &names {
            let text = help(&[name, "--help"]);
            assert!(
                text.contains("Examples:"),
                "`plugctl {name} --help` has no examples:\n{text}"
            );
            insta::assert_snapshot!(format!("help-{name}"), text);
        }
    });
}

#[test]
fn short_help_points_to_examples_too() {
    for name in subcommands() {
        let text = help(&[&name, "-h"]);
        assert!(
            text.contains("Examples:"),
            "`plugctl {name} -h` has no examples:\n{text}"
        );
    }
}
