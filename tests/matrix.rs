//! `plugctl matrix`: the default matrix built and loaded for real from an empty matrix
//! cache (toolchains and the Go build cache are the ones the fixture build installs and
//! warms), every prediction compared with reality, every seed claim judged; then the
//! cache, shards and merge, the formats, the selection flags and a user's own file.

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;

use common::{fixtures, plugctl};
use serde_json::Value;

/// CI runs every row of the default matrix: the arm64, arm, ppc64le, s390x and riscv64 rows' hosts run
/// under qemu-user (Debian qemu-user-static and the cross compilers, installed by
/// `.ci/run`) and the 386 rows' hosts natively.
const CI_SKIP: &[&str] = &[];

struct Run {
    cache: tempfile::TempDir,
    report: Value,
}

fn matrix(args: &[&str], cache: &Path) -> Output {
    let out = plugctl()
        .arg("matrix")
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .output()
        .expect("run plugctl matrix");
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "plugctl matrix {args:?} crashed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The default matrix, run once per test process from an empty matrix cache.
fn full_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        fixtures(); // installs the toolchains and compilers, warms the Go build cache
        let cache = tempfile::tempdir().expect("temp dir");
        let mut args = vec!["--format", "json", "-j", "2"];
        let skip = CI_SKIP.join(",");
        if !skip.is_empty() {
            args.extend(["--skip", &skip]);
        }
        let started = std::time::Instant::now();
        let out = matrix(&args, cache.path());
        eprintln!(
            "default matrix, empty matrix cache: {:.1} s",
            started.elapsed().as_secs_f64()
        );
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        let report = json(&out);
        Run { cache, report }
    })
}

fn rows(report: &Value) -> &Vec<Value> {
    report["rows"].as_array().expect("rows")
}

fn claim_verdict<'a>(report: &'a Value, id: &str) -> &'a str {
    report["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no claim {id}"))["verdict"]
        .as_str()
        .unwrap()
}

#[test]
fn every_prediction_agrees_with_reality_in_the_default_matrix() {
    let report = &full_run().report;
    let mut failures = Vec::new();
    for row in rows(report) {
        let id = row["id"].as_str().unwrap();
        match row["status"].as_str().unwrap() {
            "done" => {}
            other => failures.push(format!("{id}: {other}: {}", row["reason"])),
        }
        for d in row["agreement"]["disagreements"]
            .as_array()
            .into_iter()
            .flatten()
        {
            failures.push(format!("{id}: {d}"));
        }
        if row["expected_met"] == false {
            eprintln!(
                "note: {id} differs from its expected outcome on this machine: {}",
                row["expected"]
            );
        }
    }
    let s = &report["summary"];
    eprintln!("summary: {s}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(s["disagree"], 0);
    assert!(
        s["rows"].as_u64().unwrap() >= 28,
        "the default matrix has at least 28 rows"
    );
    assert!(
        s["compared"].as_u64().unwrap() >= 40,
        "at least 40 comparisons: {s}"
    );
    assert_eq!(s["agree"], s["compared"]);
}

#[test]
fn each_seed_claim_gets_the_verdict_reality_shows() {
    let report = &full_run().report;
    // Measured on Debian 12 (glibc 2.36, x86-64) with go1.21.13 ... go1.27.3.
    let expected = [
        ("seed-cgo-off-plugin", "refuted"), // CGO_ENABLED=0 -buildmode=plugin does not build
        ("seed-misleading-error", "refuted"), // a cgo-less host says `plugin: not implemented`
        ("seed-open-removed", "refuted"),   // 1.21, 1.22 and 1.27 load plugins
        ("seed-env-timing", "confirmed"),   // set after Open: the init-time read is empty
        ("seed-cross-abi-panic", "refuted"), // arm64 and musl objects fail with loader errors
        ("seed-reload-leak", "partly"),     // only a plugin that leaks goroutines leaks them
        ("control", "confirmed"),
        ("hash-flags", "confirmed"),
        ("harmless-flags", "confirmed"),
        ("minor-skew-crash", "partly"), // 1.22 host + 1.21 plugin: an error, not a crash
        ("duplicate-pluginpath", "confirmed"),
        ("missing-library", "confirmed"),
        ("static-tls", "confirmed"),
    ];
    let mut wrong = Vec::new();
    for (claim, verdict) in expected {
        let got = claim_verdict(report, claim);
        if got != verdict {
            let detail: Vec<String> = rows(report)
                .iter()
                .filter(|r| r["claim"] == claim)
                .map(|r| format!("  {} {}: {}", r["id"], r["verdict"], r["says"]))
                .collect();
            wrong.push(format!(
                "{claim}: {got}, expected {verdict}\n{}",
                detail.join("\n")
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Each row's verdict is the one its conditions give on what really happened.
    for row in rows(report) {
        let says = row["says"].as_array().unwrap();
        let holds = says.iter().filter(|c| c["holds"] == true).count();
        let want = if holds == says.len() {
            "confirmed"
        } else if holds == 0 {
            "refuted"
        } else {
            "partly"
        };
        assert_eq!(row["verdict"], want, "{}", row["id"]);
    }
    // Reality is read from what the loaders print: the seed's claimed outcomes are absent.
    let outcome = |id: &str| {
        rows(report).iter().find(|r| r["id"] == id).unwrap()["reality"]["facts"]["outcome"].clone()
    };
    assert_eq!(
        outcome("cgo-less-plugin"),
        serde_json::json!(["build-failed"])
    );
    assert_eq!(
        outcome("cgo-less-host"),
        serde_json::json!(["not-implemented"])
    );
    assert_eq!(
        outcome("arm64-plugin"),
        serde_json::json!(["wrong-machine"])
    );
    assert_eq!(outcome("open-newest"), serde_json::json!(["ok"]));
}

/// The cross-architecture rows ran for real: arm64 (and the arm/ppc64le/s390x/riscv64 static TLS) hosts
/// under qemu-user, predicted with the target's sysroot, 386 hosts natively, and their
/// predictions agree with what happened.
#[test]
fn arm64_and_386_rows_load_for_real_and_agree_with_their_predictions() {
    let report = &full_run().report;
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    let mut failures = Vec::new();
    for row in rows(report) {
        let id = row["id"].as_str().unwrap();
        let tags: Vec<&str> = row["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let Some(arch) = ["arm64", "386", "arm", "riscv64", "ppc64le", "s390x"]
            .into_iter()
            .find(|a| tags.contains(a))
        else {
            continue;
        };
        *seen.entry(arch).or_default() += 1;
        let command = row["reality"]["command"].as_str().unwrap_or("");
        let predicted = row["prediction"]["command"].as_str().unwrap_or("");
        if row["status"] != "done" {
            failures.push(format!("{id}: {} {}", row["status"], row["reason"]));
            continue;
        }
        if arch == "arm64"
            && !command.starts_with("qemu-aarch64-static -L /usr/aarch64-linux-gnu ./")
        {
            failures.push(format!("{id}: not run under qemu: {command}"));
        }
        if arch == "arm64" && !predicted.contains("--sysroot /usr/aarch64-linux-gnu") {
            failures.push(format!("{id}: predicted without the sysroot: {predicted}"));
        }
        if ["arm", "riscv64", "ppc64le", "s390x"].contains(&arch)
            && !(command.starts_with(&format!("qemu-{arch}-static -L /usr/"))
                && predicted.contains("--sysroot /usr/"))
        {
            failures.push(format!(
                "{id}: not run under qemu with its sysroot: {command}"
            ));
        }
        if arch == "386" && (command.contains("qemu") || !command.starts_with("./")) {
            failures.push(format!("{id}: a 386 host runs natively: {command}"));
        }
        if row["expected_met"] != true {
            failures.push(format!("{id}: expected {}", row["expected"]));
        }
        let a = &row["agreement"];
        if a["compared"].as_u64().unwrap_or(0) == 0 || a["agree"] != a["compared"] {
            failures.push(format!("{id}: agreement {a}"));
        }
        eprintln!(
            "{id}: real {} / predicted {} ({}/{})",
            row["reality"]["facts"]["outcome"],
            row["prediction"]["facts"]["outcome"],
            a["agree"],
            a["compared"]
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        seen.get("arm64").copied().unwrap_or(0) >= 3 && seen.get("386").copied().unwrap_or(0) >= 3,
        "the default matrix has arm64 and 386 rows: {seen:?}"
    );
}

#[test]
fn a_second_run_reuses_builds_and_loads_and_shards_merge_into_the_same_report() {
    let run = full_run();
    let started = std::time::Instant::now();
    let warm = json(&matrix(&["--format", "json"], run.cache.path()));
    let warm_seconds = started.elapsed().as_secs_f64();
    eprintln!("warm run: {warm_seconds:.1} s");
    let s = &warm["summary"];
    assert_eq!(s["errors"], 0);
    assert_eq!(s["disagree"], 0);
    for row in rows(&warm) {
        if row["reality"]["command"]
            .as_str()
            .is_some_and(|c| c.starts_with("(not loaded"))
        {
            continue;
        }
        assert_eq!(
            row["reality"]["cached"], true,
            "{} was loaded again",
            row["id"]
        );
        for b in row["builds"].as_array().unwrap() {
            assert_eq!(
                b["cached"], true,
                "{}: {} was built again",
                row["id"], b["name"]
            );
        }
    }
    assert!(warm_seconds < 30.0, "a warm run takes {warm_seconds:.1} s");

    // Three shards (from the warm cache), merged.
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut ids = Vec::new();
    for i in 1..=3 {
        let out = matrix(
            &["--format", "json", "--shard", &format!("{i}/3")],
            run.cache.path(),
        );
        let shard = json(&out);
        assert_eq!(shard["shards"], serde_json::json!([format!("{i}/3")]));
        assert_eq!(shard["matrix"]["hash"], warm["matrix"]["hash"]);
        ids.extend(
            rows(&shard)
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        let path = dir.path().join(format!("s{i}.json"));
        std::fs::write(&path, &out.stdout).unwrap();
        paths.push(path);
    }
    ids.sort();
    let mut all: Vec<String> = rows(&warm)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    all.sort();
    assert_eq!(ids, all, "the shards cover every row once");
    let out = plugctl()
        .args(["matrix", "merge", "--format", "json"])
        .args(&paths)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = json(&out);
    for key in [
        "rows",
        "done",
        "compared",
        "agree",
        "disagree",
        "claims_confirmed",
        "claims_refuted",
        "claims_partly",
    ] {
        assert_eq!(merged["summary"][key], warm["summary"][key], "{key}");
    }
    let order: Vec<&Value> = rows(&merged).iter().map(|r| &r["id"]).collect();
    let warm_order: Vec<&Value> = rows(&warm).iter().map(|r| &r["id"]).collect();
    assert_eq!(order, warm_order, "merged rows are in definition order");
    for c in warm["claims"].as_array().unwrap() {
        assert_eq!(
            claim_verdict(&merged, c["id"].as_str().unwrap()),
            c["verdict"].as_str().unwrap()
        );
    }

    // A missing shard is an error (exit 2) that names the rows.
    let out = plugctl()
        .args(["matrix", "merge"])
        .args(&paths[..2])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("missing rows:"));
    // The same shard twice is refused.
    let out = plugctl()
        .args(["matrix", "merge"])
        .arg(&paths[0])
        .arg(&paths[0])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than one input"));

    // A disagreement anywhere makes the exit code 1.
    let mut doctored: Value = serde_json::from_slice(&std::fs::read(&paths[0]).unwrap()).unwrap();
    doctored["rows"][0]["agreement"]["disagreements"] =
        serde_json::json!(["greeter.so: real ok, predicted crash"]);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&doctored).unwrap()).unwrap();
    let out = plugctl()
        .args(["matrix", "merge"])
        .arg(&bad)
        .args(&paths[1..])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("disagreement:"));
}

#[test]
fn table_and_markdown_show_rows_and_claims() {
    let run = full_run();
    let out = matrix(
        &["--only", "claim:seed-*", "--color", "never"],
        run.cache.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "open-go1.21",
        "seed-open-removed",
        "refuted",
        "confirmed",
        "partly",
        "predictions:",
    ] {
        assert!(table.contains(needle), "table lacks {needle}:\n{table}");
    }
    assert!(
        !table.contains("hash-flags"),
        "--only claim:seed-* keeps the seed's claims only"
    );
    // Not a terminal: plain progress lines, no bar drawing.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("open-go1.21: ok (cached); prediction agrees"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no escape sequences when stderr is not a terminal"
    );

    let out = matrix(
        &[
            "--format",
            "markdown",
            "--only",
            "patch-skew,env-after-open",
        ],
        run.cache.path(),
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("# "), "{md}");
    assert!(md.contains("## Claims") && md.contains("## Rows") && md.contains("## Details"));
    assert!(md.contains("| `patch-skew` host go1.26.6, plugin go1.26.5 | package-mismatch (cached) | agrees (1) |"), "{md}");
    assert!(
        md.contains("internal/godebugs"),
        "details carry the real message: {md}"
    );
}

#[test]
fn selection_flags_pick_rows_and_go_releases() {
    let cache = tempfile::tempdir().unwrap();
    let list = |args: &[&str]| {
        let out = matrix(&[&["--list"], args].concat(), cache.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let all = list(&[]);
    assert!(all.contains("arm64-plugin  [seed-cross-abi-panic]"));
    let some = list(&["--only", "tag:cross", "--skip", "musl-object"]);
    assert!(
        some.contains("arm64-plugin")
            && some.contains("musl-plugin")
            && !some.contains("musl-object")
    );
    assert!(some.ends_with("2 row(s)\n"), "{some}");
    // Rows naming no Go release run once per --go release; pinned rows are unchanged.
    let go = list(&[
        "--go",
        "1.26.6,1.27.3",
        "--only",
        "control-same-toolchain,patch-skew",
    ]);
    assert!(
        go.contains("control-same-toolchain@1.26.6")
            && go.contains("control-same-toolchain@1.27.3"),
        "{go}"
    );
    assert!(go.contains("plugin  greeter go1.27.3"));
    assert!(go.contains("patch-skew  [hash-flags]"));
    let shard = list(&["--shard", "2/2", "--only", "open-*"]);
    assert!(
        shard.contains("open-go1.22")
            && !shard.contains("open-go1.21")
            && !shard.contains("open-newest"),
        "{shard}"
    );
    for bad in [
        &["--only", "no-such-row"][..],
        &["--shard", "3/2"],
        &["--go", "latest"],
    ] {
        let out = matrix(&[&["--list"], bad].concat(), cache.path());
        assert_eq!(out.status.code(), Some(2), "{bad:?} should be refused");
    }
}

#[test]
fn a_users_own_matrix_file_runs_with_their_go_releases() {
    fixtures();
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/src");
    let file = dir.path().join("mine.toml");
    std::fs::write(
        &file,
        format!(
            r#"
schema = 1
title = "my matrix"
go = "1.26.6"
sources = "{}"

[[claim]]
id = "same-release-loads"
text = "A host and a plugin of the same release load"
source = "test"

[[row]]
id = "same"
title = "same release"
claim = "same-release-loads"
host = {{ kind = "go-host", dir = "loadhost", protocol = "loadhost" }}
plugins = [{{ kind = "go-plugin", dir = "greeter" }}, {{ kind = "go-plugin", files = ["main.go"], dir = "greeter", name = "unnamed.so" }}]
says = "ok"

[[row]]
id = "quota"
title = "under quotas, through plugctl load's runtime"
claim = "same-release-loads"
host = {{ kind = "go-host", dir = "loadhost", protocol = "loadhost", go = "1.26.6" }}
plugins = [{{ kind = "go-plugin", dir = "greeter", go = "1.26.6" }}]
load = {{ via = "runtime", memory = "512M", max_pids = 256, timeout = "30s" }}
says = "ok"
"#,
            src.display()
        ),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = plugctl()
        .args([
            "matrix",
            "--format",
            "json",
            "--go",
            "1.26.6,1.27.3",
            "--file",
        ])
        .arg(&file)
        .arg("--cache-dir")
        .arg(cache.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    let ids: Vec<&str> = rows(&report)
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["same@1.26.6", "same@1.27.3", "quota"]);
    let quota = &rows(&report)[2];
    assert_eq!(quota["reality"]["via"], "runtime", "{quota}");
    assert_eq!(
        quota["reality"]["facts"]["outcome"],
        serde_json::json!(["ok"])
    );
    assert!(quota["agreement"]["disagreements"].is_null(), "{quota}");
    for row in &rows(&report)[..2] {
        assert_eq!(
            row["reality"]["facts"]["outcome"],
            serde_json::json!(["ok", "ok"]),
            "{row}"
        );
        assert_eq!(row["verdict"], "confirmed");
        // A file list is not something `plugctl build` takes: plain `go build`.
        assert_eq!(row["builds"][2]["engine"], "go build");
        assert_eq!(row["builds"][1]["engine"], "plugctl build");
    }
    assert_eq!(claim_verdict(&report, "same-release-loads"), "confirmed");
}
