//! Cross-architecture pairs of the fixture corpus (`cross_pairs`: arm64, arm, ppc64le,
//! s390x and riscv64 hosts run under `qemu-<arch>-static -L /usr/<triplet>`, 386 hosts
//! natively, plus foreign plugins into each) loaded for real and compared with `plugctl
//! inspect --host`: outcome and exact message. Each pair of a qemu-run host is predicted
//! twice: with `--sysroot` (the libraries checked) and without (Go-level prediction, with
//! the stated assumption).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::loads::{Observed, clear_loader_env, disagreement, observe};
use common::{Fixtures, fixtures, plugctl, run_with_timeout};
use serde_json::Value;

/// The architectures of the cross corpus (plugctl's names) and the qemu-user program that
/// runs their hosts here (`None`: this machine's kernel does). Each must be there.
const ARCHES: &[(&str, Option<&str>)] = &[
    ("aarch64", Some("qemu-aarch64-static")),
    ("i386", None),
    ("arm", Some("qemu-arm-static")),
    ("ppc64le", Some("qemu-ppc64le-static")),
    ("s390x", Some("qemu-s390x-static")),
    ("riscv64", Some("qemu-riscv64-static")),
];

/// Real loads each architecture's prediction run must have compared, at least.
const MIN_LOADS: usize = 20;

/// How `basis` starts when a prediction for an `arch` host assumed its libraries.
fn assumption(arch: &str) -> String {
    format!("assumption: {arch} target, no --sysroot")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Runs the pair's host for real (through its runner, e.g. qemu-user).
fn run_host(fx: &Fixtures, pair: &Value, plugins: &[String]) -> Vec<Option<Observed>> {
    let dir = &fx.dir;
    let host = fx.artifact(pair["host"].as_str().unwrap());
    let runner = strings(&pair["runner"]);
    let host_path = host["path"].as_str().unwrap();
    let mut command = match runner.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(dir.join(host_path));
            c
        }
        None => Command::new(dir.join(host_path)),
    };
    command.current_dir(dir).args(plugins);
    clear_loader_env(&mut command);
    let finished = run_with_timeout(command, Duration::from_secs(120));
    observe(&finished, plugins)
}

/// `plugctl inspect --format json --host HOST [--sysroot DIR] PLUGIN...`: each plugin's
/// `load` and `basis`.
fn predict(
    dir: &Path,
    host: &str,
    sysroot: Option<&str>,
    plugins: &[String],
) -> Vec<(Value, Value)> {
    let mut command = plugctl();
    command.current_dir(dir);
    for var in ["LD_LIBRARY_PATH", "LD_PRELOAD", "GLIBC_TUNABLES"] {
        command.env_remove(var);
    }
    command.args(["inspect", "--format", "json", "--host", host]);
    if let Some(sysroot) = sysroot {
        command.args(["--sysroot", sysroot]);
    }
    command.args(plugins);
    let finished = run_with_timeout(command, Duration::from_secs(60));
    assert!(
        !finished.timed_out && matches!(finished.code(), Some(0..=2)),
        "plugctl failed on {host} {plugins:?}: {finished:?}"
    );
    let doc: Value = serde_json::from_str(&finished.stdout)
        .unwrap_or_else(|e| panic!("plugctl JSON: {e}\n{}", finished.stderr));
    doc["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["load"].clone(), a["basis"].clone()))
        .collect()
}

fn require_qemu(program: &str) {
    let found = Command::new(program).arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "{program} is needed to run the cross hosts (Debian package qemu-user-static; \
         tests/fixtures/build.py installs it)"
    );
}

/// Sums `(agree, total)` over the categories of each prediction run (`aarch64`,
/// `aarch64-no-sysroot`, ...).
fn per_run(
    per_category: &BTreeMap<(String, String), (usize, usize)>,
) -> BTreeMap<&str, (usize, usize)> {
    let mut runs: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for ((label, _), (agree, total)) in per_category {
        let entry = runs.entry(label.as_str()).or_default();
        entry.0 += agree;
        entry.1 += total;
    }
    runs
}

/// Prints the agreement per category and per prediction run, and checks that every
/// architecture's runs (with and without `--sysroot` for a qemu-run one) compared enough
/// loads.
fn report(per_category: &BTreeMap<(String, String), (usize, usize)>) -> usize {
    eprintln!("cross-architecture prediction agreement:");
    for ((label, category), (a, t)) in per_category {
        eprintln!("  {:<40} {a}/{t}", format!("{label} {category}"));
    }
    let runs = per_run(per_category);
    eprintln!("per architecture:");
    for (label, (a, t)) in &runs {
        eprintln!("  {label:<40} {a}/{t}");
    }
    let (agree, total) = runs
        .values()
        .fold((0, 0), |acc, v| (acc.0 + v.0, acc.1 + v.1));
    eprintln!("  {:<40} {agree}/{total}", "all");
    for (arch, qemu) in ARCHES {
        let mut labels = vec![arch.to_string()];
        if qemu.is_some() {
            labels.push(format!("{arch}-no-sysroot"));
        }
        for label in labels {
            let n = runs.get(label.as_str()).map_or(0, |v| v.1);
            assert!(
                n >= MIN_LOADS,
                "expected at least {MIN_LOADS} {label} loads, got {n}"
            );
        }
    }
    total
}

#[test]
fn cross_architecture_predictions_agree_with_real_loads() {
    ARCHES
        .iter()
        .filter_map(|(_, qemu)| *qemu)
        .for_each(require_qemu);
    let fx = fixtures();
    let manifest = &fx.manifest;
    let pairs = manifest["cross_pairs"]
        .as_array()
        .expect("the fixture manifest has cross_pairs (tests/fixtures/build.py cross_jobs)");
    let mut per_category: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for pair in pairs {
        let plugins: Vec<String> = strings(&pair["plugins"])
            .iter()
            .map(|id| fx.rel(id))
            .collect();
        let observed = run_host(fx, pair, &plugins);
        let host = fx.artifact(pair["host"].as_str().unwrap());
        let host_path = host["path"].as_str().unwrap();
        let arch = host["arch"].as_str().unwrap();
        let sysroot = pair["sysroot"].as_str();
        let mut runs = vec![(
            arch.to_string(),
            predict(&fx.dir, host_path, sysroot, &plugins),
        )];
        if sysroot.is_some() {
            runs.push((
                format!("{arch}-no-sysroot"),
                predict(&fx.dir, host_path, None, &plugins),
            ));
        }
        let category = pair["category"].as_str().unwrap();
        for (label, predicted) in &runs {
            for (index, (seen, (load, basis))) in observed.iter().zip(predicted).enumerate() {
                let Some(seen) = seen else { continue };
                let entry = per_category
                    .entry((label.clone(), category.to_string()))
                    .or_default();
                entry.1 += 1;
                let assumed = basis
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| b.as_str().unwrap().starts_with(&assumption(arch)));
                let why = disagreement(seen, load).or_else(|| {
                    (label.ends_with("-no-sysroot") && !assumed)
                        .then(|| format!("basis does not state the assumption: {basis}"))
                });
                match why {
                    None => entry.0 += 1,
                    Some(why) => failures.push(format!(
                        "{} [{label} {index}] {}: {why}",
                        pair["id"], plugins[index]
                    )),
                }
            }
        }
    }
    let total = report(&per_category);
    assert!(
        failures.is_empty(),
        "{} of {total} predictions disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A foreign host and no `--sysroot`: the libraries are not on this machine, so the
/// Go-level checks still run and `basis` says what was assumed.
#[test]
fn foreign_host_without_sysroot_gives_a_go_level_prediction_with_its_assumption() {
    let fx = fixtures();
    let host = fx.rel("cross/arm64/host/1.26.6/default");
    let good = fx.rel("cross/arm64/plugin/1.26.6/default");
    let trimpath = fx.rel("cross/arm64/plugin/1.26.6/trimpath");
    let mut predicted = predict(&fx.dir, &host, None, &[good]);
    predicted.extend(predict(
        &fx.dir,
        &host,
        None,
        std::slice::from_ref(&trimpath),
    ));
    assert_eq!(predicted[0].0["outcome"], "ok", "{:?}", predicted[0]);
    let name = trimpath.trim_end_matches(".so");
    assert_eq!(
        predicted[1].0["error"],
        format!(
            "plugin.Open(\"{name}\"): plugin was built with a different version of package internal/goarch"
        )
    );
    for (_, basis) in &predicted {
        let text = basis.to_string();
        assert!(text.contains(&assumption("aarch64")), "{text}");
        assert!(text.contains("--sysroot"), "{text}");
    }
}

/// An unpacked container-like root (merged /usr, multiarch directories, the interpreter
/// behind a symlink) works as `--sysroot`, agreeing with qemu-user run on the same root;
/// the inputs stay paths on this machine.
#[test]
fn unpacked_root_file_system_works_as_sysroot() {
    require_qemu("qemu-aarch64-static");
    let fx = fixtures();
    let cross = Path::new("/usr/aarch64-linux-gnu/lib");
    let root = tempfile::tempdir().unwrap();
    let libdir = root.path().join("usr/lib/aarch64-linux-gnu");
    std::fs::create_dir_all(&libdir).unwrap();
    for name in ["libc.so.6", "ld-linux-aarch64.so.1", "libm.so.6"] {
        std::fs::copy(cross.join(name), libdir.join(name)).unwrap();
    }
    std::os::unix::fs::symlink("usr/lib", root.path().join("lib")).unwrap();
    let host = fx.path(&fx.rel("cross/arm64/host/1.26.6/default"));
    let plugin = fx.path(&fx.rel("cross/arm64/plugin/1.26.6/default"));
    let root_arg = root.path().to_str().unwrap();
    let host_arg = host.to_str().unwrap();
    let plugin_arg = plugin.to_str().unwrap().to_string();
    // The interpreter is /lib/ld-linux-aarch64.so.1: in this root, /lib -> usr/lib and
    // the file is one directory further down; Debian links it.
    std::os::unix::fs::symlink(
        "aarch64-linux-gnu/ld-linux-aarch64.so.1",
        root.path().join("usr/lib/ld-linux-aarch64.so.1"),
    )
    .unwrap();
    let mut real = Command::new("qemu-aarch64-static");
    real.args(["-L", root_arg, host_arg, &plugin_arg]);
    let finished = run_with_timeout(real, Duration::from_secs(120));
    let observed = observe(&finished, std::slice::from_ref(&plugin_arg));
    assert_eq!(observed[0], Some(Observed::Ok), "{finished:?}");
    let predicted = predict(
        Path::new("/"),
        host_arg,
        Some(root_arg),
        std::slice::from_ref(&plugin_arg),
    );
    assert_eq!(disagreement(&Observed::Ok, &predicted[0].0), None);
    let text = predicted[0].1.to_string();
    assert!(!text.contains("assumption:"), "{text}");

    // No host: with --sysroot the target is the artifact's own architecture.
    let mut alone = plugctl();
    alone.args([
        "inspect",
        "--format",
        "json",
        "--sysroot",
        root_arg,
        &plugin_arg,
    ]);
    let alone = run_with_timeout(alone, Duration::from_secs(60));
    let doc: Value = serde_json::from_str(&alone.stdout).unwrap();
    let artifact = &doc["artifacts"][0];
    assert_eq!(artifact["load"]["outcome"], "ok", "{artifact}");
    assert!(
        artifact["basis"]
            .to_string()
            .contains("/lib/ld-linux-aarch64.so.1"),
        "{artifact}"
    );

    // Without libc.so.6 in the root the plugin's DT_NEEDED fails, for real and predicted.
    std::fs::remove_file(libdir.join("libc.so.6")).unwrap();
    let tree = run_with_timeout(
        {
            let mut c = plugctl();
            c.args([
                "inspect",
                "--format",
                "json",
                "--host",
                host_arg,
                "--sysroot",
                root_arg,
            ])
            .arg(PathBuf::from(&plugin_arg));
            c
        },
        Duration::from_secs(60),
    );
    let doc: Value = serde_json::from_str(&tree.stdout).unwrap();
    let problems = doc["host"].to_string();
    assert!(
        problems.contains("libc.so.6"),
        "the host cannot start without libc.so.6: {problems}"
    );
}
