//! `inspect --format sarif`: a SARIF 2.1.0 log (OASIS) for code-scanning tools. One rule
//! per finding code (from [`crate::findings::Code`]), one result per finding, located at
//! the artifact it is about. Paths under the working directory are relative URIs against
//! the `CWD` base id; others are absolute `file://` URIs.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::findings::{Code, Finding, Severity};
use crate::predict::Report;

/// The official schema location (the tests validate against this schema).
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
const BASE_ID: &str = "CWD";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Percent-encodes a path for a URI: unreserved characters and `/` stay as they are.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `a/./b/../c` → `a/c`, without touching the file system (symlinks are not resolved).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The `file://` URI of a directory, ending in `/` as SARIF requires of base URIs.
fn directory_uri(dir: &Path) -> String {
    let mut text = encode_path(&normalize(dir).to_string_lossy());
    if !text.ends_with('/') {
        text.push('/');
    }
    format!("file://{text}")
}

/// An `artifactLocation` for `path`: relative to `cwd` with `uriBaseId` when under it.
fn artifact_location(path: &Path, cwd: &Path, index: Option<usize>) -> Value {
    let absolute = normalize(&cwd.join(path));
    let mut location = match absolute.strip_prefix(normalize(cwd)) {
        Ok(relative) if !relative.as_os_str().is_empty() => json!({
            "uri": encode_path(&relative.to_string_lossy()),
            "uriBaseId": BASE_ID,
        }),
        _ => json!({ "uri": format!("file://{}", encode_path(&absolute.to_string_lossy())) }),
    };
    if let Some(index) = index {
        location["index"] = json!(index);
    }
    location
}

fn rule(code: Code) -> Value {
    let mut text = String::from(code.explanation());
    let mut markdown = String::from(code.explanation());
    for (title, body) in [
        ("How plugctl detects it", code.detection()),
        ("Runtime error", code.runtime_error()),
        ("Fix", code.fix()),
    ] {
        if !body.is_empty() {
            text.push_str(&format!("\n\n{title}: {body}"));
            markdown.push_str(&format!("\n\n**{title}.** {body}"));
        }
    }
    if !code.docs().is_empty() {
        text.push_str(&format!("\n\nDocumentation: {}", code.docs().join(" ")));
        markdown.push_str("\n\n**Documentation.**");
        for link in code.docs() {
            markdown.push_str(&format!("\n- <{link}>"));
        }
    }
    let mut rule = json!({
        "id": code.id(),
        "name": code.name(),
        "shortDescription": { "text": code.title() },
        "fullDescription": { "text": code.explanation() },
        "help": { "text": text, "markdown": markdown },
        "defaultConfiguration": { "level": level(code.severity()) },
        "properties": { "tags": ["go-plugin", "elf", "dlopen"] },
    });
    if let Some(first) = code.docs().first() {
        rule["helpUri"] = json!(first);
    }
    rule
}

fn result(finding: &Finding, artifact_index: usize, path: &Path, cwd: &Path) -> Value {
    let rule_index = Code::ALL
        .iter()
        .position(|c| *c == finding.code)
        .expect("every code is in Code::ALL");
    let mut message = finding.message.clone();
    if !finding.why.is_empty() {
        message.push_str(&format!(". {}", finding.why));
    }
    if !finding.fix.is_empty() {
        message.push_str(&format!(". Fix: {}", finding.fix));
    }
    json!({
        "ruleId": finding.code.id(),
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": { "text": message },
        "locations": [{ "physicalLocation": { "artifactLocation": artifact_location(path, cwd, Some(artifact_index)) } }],
        "properties": { "why": finding.why, "fix": finding.fix },
    })
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Value>,
}

/// Renders the report as one SARIF 2.1.0 log with a single run.
pub fn render(report: &Report) -> String {
    let cwd = &report.environment.cwd;
    let mut artifacts = Vec::new();
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for item in &report.artifacts {
        let index = artifacts.len();
        let mut artifact = json!({
            "location": artifact_location(&item.path, cwd, None),
            "roles": ["analysisTarget"],
        });
        match &item.artifact {
            Ok(elf) => artifact["length"] = json!(elf.file_size),
            Err(err) => notifications.push(json!({
                "level": "error",
                "message": { "text": format!("{}: {err}", item.path.display()) },
                "locations": [{ "physicalLocation": { "artifactLocation": artifact_location(&item.path, cwd, Some(index)) } }],
            })),
        }
        artifacts.push(artifact);
        results.extend(
            item.findings
                .iter()
                .map(|f| result(f, index, &item.path, cwd)),
        );
    }
    if let Some(host) = &report.host {
        artifacts.push(json!({
            "location": artifact_location(&host.artifact.path, cwd, None),
            "roles": ["referencedOnCommandLine"],
            "length": host.artifact.file_size,
            "description": { "text": "the host program that loads the artifacts" },
        }));
    }
    let mut invocation = json!({
        "executionSuccessful": notifications.is_empty(),
        "workingDirectory": { "uri": directory_uri(cwd) },
    });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = json!(notifications);
    }
    let run = json!({
        "tool": { "driver": {
            "name": "plugctl",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "rules": Code::ALL.iter().copied().map(rule).collect::<Vec<_>>(),
        }},
        "invocations": [invocation],
        "originalUriBaseIds": { BASE_ID: { "uri": directory_uri(cwd) } },
        "artifacts": artifacts,
        "results": results,
    });
    let log = Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: vec![run],
    };
    let mut text = serde_json::to_string_pretty(&log).expect("SARIF values serialize infallibly");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_relative_under_the_working_directory() {
        let cwd = Path::new("/work/main");
        let inside = artifact_location(Path::new("target/x/plugin.so"), cwd, Some(2));
        assert_eq!(
            inside,
            json!({ "uri": "target/x/plugin.so", "uriBaseId": "CWD", "index": 2 })
        );
        let same = artifact_location(Path::new("/work/main/./a/../b.so"), cwd, None);
        assert_eq!(same, json!({ "uri": "b.so", "uriBaseId": "CWD" }));
        let outside = artifact_location(Path::new("../other/lib x.so"), cwd, None);
        assert_eq!(outside, json!({ "uri": "file:///work/other/lib%20x.so" }));
        assert_eq!(directory_uri(cwd), "file:///work/main/");
    }

    #[test]
    fn every_code_is_a_rule() {
        for (index, code) in Code::ALL.iter().enumerate() {
            let rule = rule(*code);
            assert_eq!(rule["id"], code.id());
            assert_eq!(Code::ALL[index], *code);
            assert!(!rule["help"]["text"].as_str().unwrap().is_empty());
        }
    }
}
