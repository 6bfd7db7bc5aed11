//! `plugctl build` against the fixture hosts: the plugins it builds really load into
//! hosts built with other flags and toolchains (checked by running the host), while a
//! naive `go build -buildmode=plugin` of the same source does not.
//!
//! Go builds share plugctl's build cache (`<cache>/gocache`), except `--verify-repro`,
//! whose second build uses an empty cache on purpose (a cold standard-library build,
//! 15-40 s on 2 cores).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{fixtures, plugctl, run_with_timeout};
use serde_json::Value;

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLUGCTL_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    base.join("plugctl")
}

fn go_bin(version: &str) -> PathBuf {
    cache_dir()
        .join("toolchains")
        .join(format!("go{version}"))
        .join("go/bin/go")
}

/// The Go environment of the tests: offline, local toolchain, the shared build cache.
fn go_env(command: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("GO") || key.starts_with("CGO_") || key == "CC" {
            command.env_remove(key);
        }
    }
    command
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOCACHE", cache_dir().join("gocache"))
}

fn src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/src")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A temporary copy of the greeter plugin (and, if asked, of `shared-v1` beside it, so
/// its `replace example.com/shared => ../shared-v1` resolves).
fn greeter_copy(with_shared: bool) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("plugctl-test-greeter-")
        .tempdir()
        .unwrap();
    copy_dir(&src("greeter"), &dir.path().join("greeter"));
    if with_shared {
        copy_dir(&src("shared-v1"), &dir.path().join("shared-v1"));
    }
    dir
}

fn host(id: &str) -> PathBuf {
    let f = fixtures();
    f.path(&f.rel(id))
}

/// `plugctl build ARGS --format json`: (exit code, JSON, stderr).
fn build(args: &[&str]) -> (i32, Value, String) {
    let mut command = plugctl();
    go_env(&mut command)
        .arg("build")
        .args(args)
        .args(["--format", "json"]);
    let done = run_with_timeout(command, Duration::from_secs(600));
    assert!(!done.timed_out, "plugctl build timed out: {args:?}");
    let json = serde_json::from_str(&done.stdout).unwrap_or(Value::Null);
    (done.code().unwrap_or(-1), json, done.stderr)
}

/// Runs the fixture host on a plugin: `OK <path>` or `ERR <path>: <error>`.
fn load(host: &Path, plugin: &Path) -> String {
    let done = run_with_timeout(
        {
            let mut c = Command::new(host);
            c.arg(plugin);
            c
        },
        Duration::from_secs(60),
    );
    let line = done.stdout.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        format!(
            "no output (exit {:?}, signal {:?}): {}",
            done.code(),
            done.signal(),
            done.stderr
        )
    } else {
        line
    }
}

fn naive_build(dir: &Path, out: &Path) {
    let mut command = Command::new(go_bin("1.26.6"));
    go_env(&mut command)
        .env("CGO_ENABLED", "1")
        .args(["build", "-buildmode=plugin", "-o"])
        .arg(out)
        .arg(".")
        .current_dir(dir);
    let output = command.output().expect("go build runs");
    assert!(
        output.status.success(),
        "naive build failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn built_plugins_load_into_hosts_built_with_other_flags_and_toolchains() {
    let work = greeter_copy(true);
    let greeter = work.path().join("greeter");
    let naive = work.path().join("naive.so");
    naive_build(&greeter, &naive);
    let cases = [
        ("go/host/1.26.6/trimpath", "-trimpath"),
        ("go/host/1.26.6/race", "-race"),
        ("go/host/1.26.5/default", "go1.26.5"),
        ("go/host/1.26.6/shared-v2", "example.com/shared"),
    ];
    let mut summary = Vec::new();
    for (id, what) in cases {
        let host = host(id);
        let naive_load = load(&host, &naive);
        assert!(
            naive_load.starts_with("ERR")
                && naive_load.contains("plugin was built with a different version of package"),
            "{id}: the naive plugin was expected to fail: {naive_load}"
        );
        let out = work
            .path()
            .join("out")
            .join(format!("{}.so", id.replace('/', "-")));
        let started = Instant::now();
        let (code, json, stderr) = build(&[
            "--host",
            host.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            greeter.to_str().unwrap(),
        ]);
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(code, 0, "{id}: plugctl build failed: {stderr}\n{json:#}");
        assert_eq!(json["status"], "ok", "{id}: {json:#}");
        assert_eq!(
            json["verification"]["static"]["load"]["outcome"], "ok",
            "{id}"
        );
        let real = load(&host, &out);
        assert_eq!(
            real,
            format!("OK {}", out.display()),
            "{id}: the built plugin must load into its host"
        );
        // The manifest: next to the output, matched to the host, with the output's hash.
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{}.plugctl.json", out.display())).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["output"]["sha256"], json["output"]["sha256"]);
        assert_eq!(
            manifest["host"]["path"],
            Value::String(std::path::absolute(&host).unwrap().display().to_string())
        );
        assert!(
            manifest["host"]["sha256"]
                .as_str()
                .is_some_and(|s| s.len() == 64)
        );
        assert!(
            manifest["source"]["sha256"]
                .as_str()
                .is_some_and(|s| s.len() == 64)
        );
        assert!(manifest["toolchain"]["version"].is_string() && manifest["command"].is_array());
        assert!(
            manifest["modules"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["path"] == "example.com/shared"))
        );
        let text = serde_json::to_string(&json).unwrap();
        assert!(
            text.contains(what),
            "{id}: the result should mention {what}"
        );
        summary.push(format!(
            "{id}: naive `{}` -> plugctl build ({:.1} s, toolchain go{}, flags {}) -> `{real}`",
            naive_load
                .split(": ")
                .skip(1)
                .collect::<Vec<_>>()
                .join(": "),
            seconds,
            json["toolchain"]["version"].as_str().unwrap_or("?"),
            json["target"]["flags"]
        ));
    }
    eprintln!("{}", summary.join("\n"));
}

#[test]
fn trimpath_host_needs_to_be_told_where_its_local_module_is() {
    // Only the plugin is copied: its own `../shared-v1` does not exist, and the
    // -trimpath host records no directory for its `=> ../shared-v1`.
    let work = greeter_copy(false);
    let greeter = work.path().join("greeter");
    let host = host("go/host/1.26.6/trimpath");
    let out = work.path().join("g.so");
    let args = [
        "--host",
        host.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        greeter.to_str().unwrap(),
    ];
    let (code, _, stderr) = build(&args);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("example.com/shared") && stderr.contains("-trimpath"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--replace example.com/shared=DIR") && stderr.contains("--host-src"),
        "{stderr}"
    );
    assert!(!out.exists());

    // The host's module directory: its relative replacement resolves against it.
    let host_src = fixtures().dir.join("work/src/loadhost");
    let mut with_src = args.to_vec();
    with_src.extend(["--host-src", host_src.to_str().unwrap()]);
    let (code, json, stderr) = build(&with_src);
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    assert_eq!(json["alignment"]["entries"][0]["status"], "aligned");
    assert_eq!(load(&host, &out), format!("OK {}", out.display()));

    // Or the module's directory itself.
    let shared = fixtures().dir.join("work/src/shared-v1");
    let replace = format!("example.com/shared={}", shared.display());
    let mut with_replace = args.to_vec();
    with_replace.extend(["--replace", &replace]);
    let (code, json, stderr) = build(&with_replace);
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    assert_eq!(load(&host, &out), format!("OK {}", out.display()));
}

#[test]
fn a_host_built_from_a_directory_that_is_gone_is_reported() {
    // A host built without -trimpath hashes its local module's directory: when that
    // directory no longer exists, no plugin built here can match, and plugctl says so.
    let work = tempfile::Builder::new()
        .prefix("plugctl-test-gone-")
        .tempdir()
        .unwrap();
    copy_dir(&src("loadhost"), &work.path().join("loadhost"));
    copy_dir(&src("shared-v1"), &work.path().join("shared-v1"));
    let gomod = work.path().join("loadhost/go.mod");
    // Only the shared module matters here (the fixture's bighost extra is not built).
    let text = std::fs::read_to_string(&gomod).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.contains("llmkit"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&gomod, text).unwrap();
    let host = work.path().join("host");
    let mut command = Command::new(go_bin("1.26.6"));
    go_env(&mut command)
        .env("CGO_ENABLED", "1")
        .args(["build", "-o"])
        .arg(&host)
        .arg(".")
        .current_dir(work.path().join("loadhost"));
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir_all(work.path().join("shared-v1")).unwrap();

    let plugin = greeter_copy(true);
    let out = plugin.path().join("g.so");
    let (code, _, stderr) = build(&[
        "--host",
        host.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        plugin.path().join("greeter").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    let gone = work.path().join("shared-v1");
    assert!(
        stderr.contains(&gone.display().to_string()) && stderr.contains("does not exist here"),
        "{stderr}"
    );
    assert!(stderr.contains("without -trimpath"), "{stderr}");
}

#[test]
fn load_harness_and_bit_identical_rebuild_with_trimpath() {
    let work = greeter_copy(true);
    let host = host("go/host/1.26.6/trimpath");
    let out = work.path().join("t.so");
    let started = Instant::now();
    let (code, json, stderr) = build(&[
        "--host",
        host.to_str().unwrap(),
        "--load",
        "--verify-repro",
        "-o",
        out.to_str().unwrap(),
        work.path().join("greeter").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    let v = &json["verification"];
    assert_eq!(v["load"]["outcome"], "ok", "{v:#}");
    assert!(v["load"]["shared_packages"].as_u64().unwrap() > 10, "{v:#}");
    assert_eq!(v["repro"]["identical"], true, "{v:#}");
    assert_eq!(v["repro"]["sha256_first"], v["repro"]["sha256_second"]);
    assert_eq!(v["repro"]["clean_cache"], true);
    assert_eq!(load(&host, &out), format!("OK {}", out.display()));
    eprintln!(
        "trimpath: --load {:.1} s, --verify-repro {:.1} s (clean cache), total {:.1} s",
        json["seconds"]["load"].as_f64().unwrap(),
        json["seconds"]["repro"].as_f64().unwrap(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn rebuild_without_trimpath_at_another_path_differs_and_says_why() {
    let work = greeter_copy(true);
    let host = host("go/host/1.26.6/default");
    let out = work.path().join("d.so");
    let (code, json, stderr) = build(&[
        "--host",
        host.to_str().unwrap(),
        "--verify-repro",
        "-o",
        out.to_str().unwrap(),
        work.path().join("greeter").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}\n{json:#}");
    assert_eq!(json["status"], "failed");
    // It loads (the static check passes), but a clean rebuild elsewhere is not identical.
    assert_eq!(json["verification"]["static"]["load"]["outcome"], "ok");
    let repro = &json["verification"]["repro"];
    assert_eq!(repro["identical"], false);
    let why = repro["verdict"].as_str().unwrap();
    assert!(
        why.contains("source directories differ") && why.contains("-trimpath"),
        "{why}"
    );
    assert!(why.contains(&work.path().display().to_string()), "{why}");
    assert_eq!(load(&host, &out), format!("OK {}", out.display()));
}

#[test]
fn the_users_go_mod_changes_only_with_write() {
    let work = greeter_copy(true);
    let greeter = work.path().join("greeter");
    let before = std::fs::read(greeter.join("go.mod")).unwrap();
    let host = host("go/host/1.26.6/shared-v2");
    let out = work.path().join("g.so");
    let args = [
        "--host",
        host.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        greeter.to_str().unwrap(),
    ];
    let (code, json, stderr) = build(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(greeter.join("go.mod")).unwrap(),
        before,
        "go.mod must not change without --write"
    );
    let entry = &json["alignment"]["entries"][0];
    assert_eq!(entry["module"], "example.com/shared");
    assert_eq!(entry["status"], "aligned");
    assert!(
        entry["note"]
            .as_str()
            .unwrap()
            .contains("recorded source file names"),
        "{entry:#}"
    );
    let shared_v2 = fixtures()
        .dir
        .join("work/src/shared-v2")
        .display()
        .to_string();
    assert!(
        entry["plugin_after"].as_str().unwrap().contains(&shared_v2),
        "{entry:#}"
    );

    let mut write = args.to_vec();
    write.push("--write");
    let (code, json, stderr) = build(&write);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["wrote_go_mod"], true);
    let after = std::fs::read_to_string(greeter.join("go.mod")).unwrap();
    assert!(
        after.contains(&format!("example.com/shared => {shared_v2}")),
        "{after}"
    );
    // The rewritten go.mod builds a loadable plugin with a plain go build.
    let plain = work.path().join("plain.so");
    naive_build(&greeter, &plain);
    assert_eq!(load(&host, &plain), format!("OK {}", plain.display()));
}

#[test]
fn explicit_toolchain_and_flags_without_a_host() {
    let work = greeter_copy(true);
    let out = work.path().join("t.so");
    let (code, json, stderr) = build(&[
        "--go",
        "1.26.6",
        "--trimpath",
        "-o",
        out.to_str().unwrap(),
        work.path().join("greeter").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    assert_eq!(json["host"], Value::Null);
    assert!(
        json["target"]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "-trimpath")
    );
    let host = host("go/host/1.26.6/trimpath");
    assert_eq!(load(&host, &out), format!("OK {}", out.display()));
}

#[test]
fn cross_builds_need_a_cross_compiler() {
    let work = greeter_copy(true);
    let greeter = work.path().join("greeter");
    let out = work.path().join("arm64.so");
    if which::which("aarch64-linux-gnu-gcc").is_ok() {
        let (code, json, stderr) = build(&[
            "--go",
            "1.26.6",
            "--goarch",
            "arm64",
            "-o",
            out.to_str().unwrap(),
            greeter.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stderr}\n{json:#}");
        assert_eq!(json["env"]["CC"], "aarch64-linux-gnu-gcc");
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(
            u16::from_le_bytes([bytes[18], bytes[19]]),
            183,
            "EM_AARCH64"
        );
        assert!(
            json["verification"]["static"]["skipped"]
                .as_str()
                .unwrap()
                .contains("cross build")
        );
    }
    // Debian's mips64el cross compiler is not installed here (CI installs the arm, riscv64,
    // ppc64le and s390x ones for the matrix): the build must name the missing compiler.
    assert!(
        which::which("mips64el-linux-gnuabi64-gcc").is_err(),
        "test premise: gcc-mips64el-linux-gnuabi64 must not be installed"
    );
    let (code, _, stderr) = build(&[
        "--go",
        "1.26.6",
        "--goarch",
        "mips64le",
        "-o",
        out.to_str().unwrap(),
        greeter.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no C cross compiler for linux/mips64le: mips64el-linux-gnuabi64-gcc"),
        "{stderr}"
    );
}

/// A cross build with an arm64 `--host`: the static check is `inspect --host` with the
/// host's architecture, and the plugin really loads into that host under qemu-user.
#[test]
fn cross_build_with_a_host_is_checked_against_it_and_loads_under_qemu() {
    let work = greeter_copy(true);
    let greeter = work.path().join("greeter");
    let out = work.path().join("arm64.so");
    let host = host("cross/arm64/host/1.26.6/default");
    let (code, json, stderr) = build(&[
        "--go",
        "1.26.6",
        "--goarch",
        "arm64",
        "--host",
        host.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        greeter.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    let check = &json["verification"]["static"];
    assert_eq!(
        check["against"],
        format!("inspect --host {}", host.display())
    );
    assert_eq!(check["load"]["outcome"], "ok", "{check:#}");
    let mut qemu = Command::new("qemu-aarch64-static");
    qemu.args(["-L", "/usr/aarch64-linux-gnu"])
        .arg(&host)
        .arg(&out);
    let done = run_with_timeout(qemu, Duration::from_secs(120));
    assert_eq!(
        done.stdout.trim(),
        format!("OK {}", out.display()),
        "{}",
        done.stderr
    );
}

#[test]
fn a_host_without_cgo_can_load_no_plugin() {
    let work = greeter_copy(true);
    let host = host("go/host/1.26.6/nocgo");
    let out = work.path().join("g.so");
    let (code, _, stderr) = build(&[
        "--host",
        host.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        work.path().join("greeter").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("CGO_ENABLED=0") && stderr.contains("plugin: not implemented"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let mut command = plugctl();
    command.args(["build", "-o", "/tmp/x.so", "."]);
    let done = run_with_timeout(command, Duration::from_secs(30));
    assert_eq!(done.code(), Some(2));
    assert!(
        done.stderr.contains("--host HOST") && done.stderr.contains("--go VERSION"),
        "{}",
        done.stderr
    );
}

#[test]
fn the_load_harness_reports_what_plugin_open_says() {
    // The harness alone, on a plugin that does not match it: built like the -trimpath
    // host, it must refuse the fixture's default (naive) plugin exactly as the host does.
    use plugctl::gobuild::{gocmd::GoEnv, harness};
    let f = fixtures();
    let toolchain = plugctl::toolchain::find("1.26.6")
        .unwrap()
        .expect("go1.26.6 is installed by the fixtures");
    let env = std::collections::BTreeMap::from([("CGO_ENABLED".to_string(), "1".to_string())]);
    let go = GoEnv::new(toolchain, &env);
    let dir = tempfile::tempdir().unwrap();
    let gomod = dir.path().join("go.mod");
    std::fs::write(
        &gomod,
        format!(
            "module example.com/greeter\n\ngo 1.21\n\nrequire example.com/shared v0.0.0\n\nreplace example.com/shared => {}\n",
            f.dir.join("work/src/shared-v1").display()
        ),
    )
    .unwrap();
    let facts = |id: &str| {
        let artifact = plugctl::elf::Artifact::read(&f.path(&f.rel(id))).unwrap();
        plugctl::golang::read(&artifact).unwrap()
    };
    let host_id = "go/host/1.26.6/trimpath";
    let (host_facts, plugin_facts) = (facts(host_id), facts("go/plugin/1.26.6/default"));
    let plugin = f.path(&f.rel("go/plugin/1.26.6/default"));
    let check = harness::check(
        &go,
        &["-trimpath".to_string()],
        &gomod,
        &host_facts,
        &plugin_facts,
        "example.com/greeter",
        &plugin,
        Duration::from_secs(120),
    )
    .unwrap();
    assert_eq!(check.outcome, "error", "{check:?}");
    let detail = check.detail.unwrap();
    assert!(
        detail.contains("plugin was built with a different version of package internal/goarch"),
        "{detail}"
    );
    assert_eq!(
        load(&host(host_id), &plugin).split(": ").last(),
        detail.split(": ").last()
    );
}
