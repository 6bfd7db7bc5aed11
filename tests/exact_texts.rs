//! Predicted errors are byte-exact whatever way the plugin is named: Go prints the
//! string it was given to `plugin.Open` (less `.so` once dlopen succeeded), and the
//! dlopen error names the realpath. Each form is run for real by the fixture Go host,
//! from the same working directory and with the same argument as plugctl gets.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{fixtures, plugctl, run_with_timeout};
use serde_json::Value;

/// A way of naming a plugin: the working directory and the argument.
struct Naming {
    label: &'static str,
    cwd: PathBuf,
    arg: String,
}

/// Lays out `file` as `d/<name>` in a temp dir with a sibling `e/` and a symlink
/// `link.so -> d/<name>`, and returns every naming form of it.
fn namings(dir: &Path, file: &Path, name: &str) -> Vec<Naming> {
    let d = dir.join("d");
    let e = dir.join("e");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::create_dir_all(&e).unwrap();
    std::fs::copy(file, d.join(name)).unwrap();
    std::os::unix::fs::symlink(d.join(name), dir.join("link.so")).unwrap();
    let absolute = d.join(name).display().to_string();
    vec![
        Naming {
            label: "bare name",
            cwd: d.clone(),
            arg: name.to_string(),
        },
        Naming {
            label: "./name",
            cwd: d.clone(),
            arg: format!("./{name}"),
        },
        Naming {
            label: "../d/name",
            cwd: e,
            arg: format!("../d/{name}"),
        },
        Naming {
            label: "absolute",
            cwd: dir.to_path_buf(),
            arg: absolute,
        },
        Naming {
            label: "symlink",
            cwd: dir.to_path_buf(),
            arg: "link.so".to_string(),
        },
    ]
}

/// What the real Go host printed for one plugin: `OK` or the error text.
fn real_load(host: &Path, naming: &Naming) -> String {
    let mut command = std::process::Command::new(host);
    command.current_dir(&naming.cwd).arg(&naming.arg);
    let finished = run_with_timeout(command, Duration::from_secs(60));
    let line = finished
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    if line.starts_with("OK ") {
        return "OK".into();
    }
    line.strip_prefix(&format!("ERR {}: ", naming.arg))
        .unwrap_or_else(|| panic!("unexpected host output {finished:?}"))
        .to_string()
}

/// plugctl's artifact object for the same argument, from the same directory.
fn predicted(host: &Path, naming: &Naming) -> Value {
    let mut command = plugctl();
    command.current_dir(&naming.cwd).args([
        "inspect",
        "--format",
        "json",
        "--host",
        &host.display().to_string(),
        &naming.arg,
    ]);
    let finished = run_with_timeout(command, Duration::from_secs(30));
    let doc: Value = serde_json::from_str(&finished.stdout)
        .unwrap_or_else(|e| panic!("plugctl JSON: {e}: {finished:?}"));
    doc["artifacts"][0].clone()
}

fn check_every_naming(plugin_rel: &str, name: &str) -> usize {
    let fx = fixtures();
    let host = fx
        .path("go/hosts/loadhost-1.26.6-default")
        .canonicalize()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().canonicalize().unwrap();
    let mut failures = Vec::new();
    let forms = namings(&dir, &fx.path(plugin_rel), name);
    for naming in &forms {
        let real = real_load(&host, naming);
        let artifact = predicted(&host, naming);
        let error = artifact["load"]["error"].as_str().unwrap_or("OK");
        if artifact["path"] != naming.arg.as_str() {
            failures.push(format!(
                "{}: path shown as {}, given {}",
                naming.label, artifact["path"], naming.arg
            ));
        }
        if error != real {
            failures.push(format!(
                "{}: predicted {error:?}\n      real {real:?}",
                naming.label
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    forms.len()
}

#[test]
fn go_error_names_the_plugin_exactly_as_given() {
    // plugin.Open("NAME"): ... plugin was built with a different version of package ...
    let n = check_every_naming("go/plugins/greeter-1.26.6-trimpath.so", "plugin.so");
    assert_eq!(n, 5);
}

#[test]
fn go_error_keeps_a_name_without_so_suffix() {
    let n = check_every_naming("go/plugins/greeter-1.26.6-trimpath.so", "greeter.plugin");
    assert_eq!(n, 5);
}

#[test]
fn dlopen_error_inside_plugin_open_names_the_realpath() {
    // plugin.Open("NAME.so"): /real/path/NAME.so: wrong ELF class: ELFCLASS32
    let n = check_every_naming("c/arch/libsimple_i386.so", "lib32.so");
    assert_eq!(n, 5);
}

#[test]
fn a_plugin_that_loads_loads_under_every_name() {
    let n = check_every_naming("go/plugins/greeter-1.26.6-default.so", "ok.so");
    assert_eq!(n, 5);
}

#[test]
fn earlier_plugin_that_bound_a_package_is_named_as_the_cause() {
    let fx = fixtures();
    let mut command = plugctl();
    command.current_dir(&fx.dir).args([
        "inspect",
        "--format",
        "json",
        "--host",
        "go/hosts/loadhost-1.26.6-default",
        "go/plugins/greeter-1.26.6-trimpath.so",
        "go/plugins/greeter-1.26.6-default.so",
    ]);
    let finished = run_with_timeout(command, Duration::from_secs(30));
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    let doc: Value = serde_json::from_str(&finished.stdout).unwrap();
    assert_eq!(doc["process_mode"], "sequence");
    let first = &doc["artifacts"][0]["load"];
    assert_eq!(first["cause"], "-trimpath: plugin true, host unset");
    let second = &doc["artifacts"][1]["load"];
    assert_eq!(
        second["error"],
        "plugin.Open(\"go/plugins/greeter-1.26.6-default\"): plugin was built with a different version of package example.com/greeter"
    );
    let cause = second["cause"].as_str().unwrap();
    assert!(
        cause.starts_with(
            "an earlier plugin in this process, go/plugins/greeter-1.26.6-trimpath.so, bound package example.com/greeter first"
        ) && cause.ends_with("on its own this plugin loads"),
        "{cause}"
    );
    // Alone (or with --each), the second plugin loads.
    let mut each = plugctl();
    each.current_dir(&fx.dir).args([
        "inspect",
        "--each",
        "--format",
        "json",
        "--host",
        "go/hosts/loadhost-1.26.6-default",
        "go/plugins/greeter-1.26.6-trimpath.so",
        "go/plugins/greeter-1.26.6-default.so",
    ]);
    let finished = run_with_timeout(each, Duration::from_secs(30));
    let doc: Value = serde_json::from_str(&finished.stdout).unwrap();
    assert_eq!(doc["process_mode"], "each");
    assert_eq!(doc["artifacts"][1]["load"]["outcome"], "ok");
    assert_eq!(doc["artifacts"][0]["load"]["outcome"], "package-mismatch");
}

#[test]
fn nodefaultlib_cause_says_the_search_was_skipped() {
    let fx = fixtures();
    let mut command = plugctl();
    command
        .current_dir(&fx.dir)
        .env_remove("LD_LIBRARY_PATH")
        .args(["inspect", "--format", "json", "c/misc/libnodeflib.so"]);
    let finished = run_with_timeout(command, Duration::from_secs(30));
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    let doc: Value = serde_json::from_str(&finished.stdout).unwrap();
    let load = &doc["artifacts"][0]["load"];
    assert_eq!(load["error"], "libz.so.1: cannot open shared object file");
    let cause = load["cause"].as_str().unwrap();
    assert!(
        cause.contains("never looked for") && cause.contains("-z nodefaultlib"),
        "{cause}"
    );
}
