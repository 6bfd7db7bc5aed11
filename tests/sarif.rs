//! `inspect --format sarif`, validated against the official SARIF 2.1.0 JSON schema.
//!
//! The schema is not kept in this repository. The test takes it from crates.io: the
//! `serde-sarif` crate ships the OASIS file `sarif-schema-2.1.0.json` as its
//! `src/schema.json` (its `$id` is the OASIS URL). `cargo metadata` on a throw-away
//! manifest under target/ downloads the crate into cargo's registry cache and says where
//! it is. The validator is Python's `jsonschema` (Draft 7, with format checks: `uri`,
//! `uri-reference`, `date-time`), installed from PyPI with pip into target/ the first time.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use common::{fixtures, plugctl};

/// The pinned crate that carries the schema, and the pinned validator.
const SCHEMA_CRATE: &str = "serde-sarif";
const SCHEMA_CRATE_VERSION: &str = "0.8.0";
const VALIDATOR: &str = "jsonschema[format-nongpl]==4.26.0";

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("sarif-schema")
}

fn run_ok(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The official schema, from the `serde-sarif` crate on crates.io.
fn schema_path() -> &'static Path {
    static SCHEMA: OnceLock<PathBuf> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let probe = cache_dir().join("probe");
        std::fs::create_dir_all(probe.join("src")).unwrap();
        std::fs::write(
            probe.join("Cargo.toml"),
            format!(
                "[package]\nname = \"sarif-schema-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
                 [dependencies]\n{SCHEMA_CRATE} = \"={SCHEMA_CRATE_VERSION}\"\n\n[workspace]\n"
            ),
        )
        .unwrap();
        std::fs::write(probe.join("src/lib.rs"), "").unwrap();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let metadata = run_ok(
            Command::new(cargo)
                .args(["metadata", "--format-version", "1", "--manifest-path"])
                .arg(probe.join("Cargo.toml"))
                .env_remove("CARGO_TARGET_DIR"),
            "cargo metadata (downloads serde-sarif from crates.io)",
        );
        let metadata: Value = serde_json::from_str(&metadata).expect("cargo metadata prints JSON");
        let package = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == SCHEMA_CRATE && p["version"] == SCHEMA_CRATE_VERSION)
            .expect("serde-sarif in the metadata");
        let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap());
        let schema = manifest.parent().unwrap().join("src/schema.json");
        let text = std::fs::read_to_string(&schema).unwrap_or_else(|e| panic!("{}: {e}", schema.display()));
        let parsed: Value = serde_json::from_str(&text).expect("the schema is JSON");
        assert_eq!(
            parsed["$id"], "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json",
            "{} is not the official SARIF 2.1.0 schema",
            schema.display()
        );
        assert_eq!(parsed["$schema"], "http://json-schema.org/draft-07/schema#");
        schema
    })
}

/// A directory with Python's `jsonschema` (from PyPI), for `PYTHONPATH`.
fn validator_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = cache_dir().join("python");
        if dir.join("jsonschema/__init__.py").is_file() {
            return dir;
        }
        let staging = cache_dir().join(format!("python.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        // pip may warn about unrelated packages of the system Python; success is the
        // package being there afterwards.
        let output = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-warn-script-location",
                "--target",
            ])
            .arg(&staging)
            .arg(VALIDATOR)
            .output()
            .expect("python3 -m pip runs");
        assert!(
            staging.join("jsonschema/__init__.py").is_file(),
            "pip install {VALIDATOR} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        if std::fs::rename(&staging, &dir).is_err() {
            // Another test process installed it meanwhile.
            let _ = std::fs::remove_dir_all(&staging);
        }
        dir
    })
}

const VALIDATE_PY: &str = r#"
import json, sys
from jsonschema import Draft7Validator
schema = json.load(open(sys.argv[1]))
document = json.load(open(sys.argv[2]))
Draft7Validator.check_schema(schema)
checker = Draft7Validator.FORMAT_CHECKER
missing = [f for f in ("uri", "uri-reference") if f not in checker.checkers]
if missing:
    print("format checkers missing: " + ", ".join(missing))
    sys.exit(2)
errors = sorted(Draft7Validator(schema, format_checker=checker).iter_errors(document), key=lambda e: list(e.absolute_path))
for e in errors:
    print("/".join(str(p) for p in e.absolute_path) + ": " + e.message[:300])
sys.exit(1 if errors else 0)
"#;

/// Validates a document; `Err` carries the schema errors.
fn validate(document: &Value) -> Result<(), String> {
    let file = cache_dir().join(format!(
        "doc-{}-{:?}.sarif",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(cache_dir()).unwrap();
    std::fs::write(&file, serde_json::to_string_pretty(document).unwrap()).unwrap();
    let output = Command::new("python3")
        .arg("-c")
        .arg(VALIDATE_PY)
        .arg(schema_path())
        .arg(&file)
        .env("PYTHONPATH", validator_dir())
        .env("PYTHONNOUSERSITE", "1")
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_file(&file);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(report),
        _ => panic!("the validator itself failed ({}):\n{report}", output.status),
    }
}

/// Runs `inspect --format sarif` from the repository root on real fixtures (a mismatching
/// host and plugins with errors, warnings and notes), plus a file name with a space and
/// a missing file.
fn sarif_of_fixtures() -> (Value, i32) {
    let f = fixtures();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shown = |p: PathBuf| p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p);
    let spaced_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sarif inputs");
    std::fs::create_dir_all(&spaced_dir).unwrap();
    let spaced = spaced_dir.join("exec stack.so");
    std::fs::copy(f.path(&f.rel("c/misc/libexecstack.so")), &spaced).unwrap();
    let mut command = plugctl();
    command
        .current_dir(root)
        .args(["inspect", "--format", "sarif", "--host"]);
    command.arg(shown(f.path(&f.rel("go/host/1.26.6/default"))));
    for id in [
        "go/plugin/1.26.6/trimpath",
        "go/plugin/1.26.6/race",
        "go/plugin/1.27.3/default",
        "c/arch/libsimple_musl.so",
    ] {
        command.arg(shown(f.path(&f.rel(id))));
    }
    command.arg(shown(spaced)).arg("no-such-plugin.so");
    let output = command.output().expect("run plugctl");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let document: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
    (document, output.status.code().unwrap_or(-1))
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let (document, code) = sarif_of_fixtures();
    assert_eq!(code, 2, "an unreadable input still exits 2");
    if let Err(errors) = validate(&document) {
        panic!("plugctl's SARIF does not validate against sarif-schema-2.1.0.json:\n{errors}");
    }
}

#[test]
fn sarif_rules_results_and_locations() {
    let (document, _) = sarif_of_fixtures();
    assert_eq!(document["version"], "2.1.0");
    let run = &document["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(
        rules.len(),
        plugctl::findings::Code::ALL.len(),
        "one rule per finding code"
    );
    let results = run["results"].as_array().unwrap();
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    for expected in ["PC105", "PC101", "PC012", "PC015", "PC016"] {
        assert!(ids.contains(&expected), "no {expected} result in {ids:?}");
    }
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    for expected in ["error", "warning", "note"] {
        assert!(
            levels.contains(&expected),
            "no {expected} level in {levels:?}"
        );
    }
    let artifacts = run["artifacts"].as_array().unwrap();
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let location = &result["locations"][0]["physicalLocation"]["artifactLocation"];
        let artifact = &artifacts[location["index"].as_u64().unwrap() as usize];
        assert_eq!(artifact["location"]["uri"], location["uri"]);
    }
    // Paths under the working directory are relative to the CWD base id.
    let base = run["originalUriBaseIds"]["CWD"]["uri"].as_str().unwrap();
    assert!(
        base.starts_with("file:///") && base.ends_with('/'),
        "{base}"
    );
    let uris: Vec<&str> = artifacts
        .iter()
        .map(|a| a["location"]["uri"].as_str().unwrap())
        .collect();
    assert!(
        uris.iter()
            .any(|u| u.ends_with("sarif%20inputs/exec%20stack.so")),
        "{uris:?}"
    );
    assert!(uris.contains(&"no-such-plugin.so"), "{uris:?}");
    if fixtures().dir.starts_with(env!("CARGO_MANIFEST_DIR")) {
        assert!(
            artifacts
                .iter()
                .all(|a| a["location"]["uriBaseId"] == "CWD"),
            "{uris:?}"
        );
    }
    // The missing file is a tool notification, not a result.
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert!(
        notes[0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("no-such-plugin.so")
    );
}

/// The CI gate in SARIF: every artifact that will not load has an `error` result, and
/// the one-sided `-trimpath` mismatch (PC105) is one of them.
#[test]
fn sarif_levels_follow_the_load_verdict() {
    let f = fixtures();
    let host = f.path(&f.rel("go/host/1.26.6/default"));
    let plugins: Vec<PathBuf> = [
        "go/plugin/1.26.6/trimpath",
        "go/plugin/1.26.6/race",
        "go/plugin/1.26.6/default",
        "go/plugin/1.26.6/goamd64-v3",
        "go/plugin/1.27.3/default",
    ]
    .iter()
    .map(|id| f.path(&f.rel(id)))
    .collect();
    let run = |format: &str| -> Value {
        let output = plugctl()
            .args(["inspect", "--each", "--format", format, "--host"])
            .arg(&host)
            .args(&plugins)
            .output()
            .expect("run plugctl");
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let json = run("json");
    let sarif = run("sarif");
    let sarif_run = &sarif["runs"][0];
    let uris: Vec<&str> = sarif_run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["location"]["uri"].as_str().unwrap())
        .collect();
    let results = sarif_run["results"].as_array().unwrap();
    let mut failing = 0;
    for (index, artifact) in json["artifacts"].as_array().unwrap().iter().enumerate() {
        let errors: Vec<&str> = results
            .iter()
            .filter(|r| {
                r["locations"][0]["physicalLocation"]["artifactLocation"]["index"] == index
                    && r["level"] == "error"
            })
            .map(|r| r["ruleId"].as_str().unwrap())
            .collect();
        let loads = artifact["load"]["outcome"] == "ok";
        failing += usize::from(!loads);
        assert_eq!(
            loads,
            errors.is_empty(),
            "{}: outcome {}, SARIF error results {errors:?}",
            uris[index],
            artifact["load"]["outcome"]
        );
        if index == 0 {
            assert!(errors.contains(&"PC105"), "{errors:?}");
        }
    }
    assert_eq!(failing, 3, "trimpath, race and 1.27.3 do not load");
}

#[test]
fn the_validator_rejects_broken_sarif() {
    let (mut document, _) = sarif_of_fixtures();
    document["runs"][0]["results"][0]["level"] = Value::from("fatal");
    document["runs"][0]["artifacts"][0]["location"]["uri"] = Value::from("not a uri reference\\");
    document.as_object_mut().unwrap().remove("version");
    let errors = validate(&document).expect_err("a broken document must not validate");
    assert!(
        errors.contains("'version' is a required property"),
        "{errors}"
    );
    assert!(errors.contains("'fatal' is not one of"), "{errors}");
    assert!(errors.contains("is not a 'uri-reference'"), "{errors}");
}
