//! The JSON document of `inspect` (schema_version 1). Field names are a contract: see
//! docs/json-schema.md.

use serde::Serialize;

use crate::elf::{Artifact, Dynamic, Identity, Segments, Tls, Versions};
use crate::findings::{Finding, Severity};
use crate::predict::{ArtifactReport, Report};
use crate::verdict::LoadVerdict;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    plugctl_version: &'static str,
    artifacts: Vec<ArtifactJson<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct ArtifactJson<'a> {
    path: String,
    status: &'static str,
    error: Option<String>,
    elf: Option<ElfJson<'a>>,
    load: Option<&'a LoadVerdict>,
    basis: &'a [String],
    findings: &'a [Finding],
}

#[derive(Serialize)]
struct ElfJson<'a> {
    file_size: u64,
    #[serde(flatten)]
    identity: &'a Identity,
    dynamic: &'a Dynamic,
    versions: &'a Versions,
    symbols: SymbolsJson<'a>,
    tls: &'a Tls,
    segments: &'a Segments,
    problems: &'a [String],
}

#[derive(Serialize)]
struct SymbolsJson<'a> {
    defined: usize,
    undefined: usize,
    /// Listed only with `--symbols`.
    #[serde(skip_serializing_if = "Option::is_none")]
    undefined_names: Option<Vec<&'a str>>,
}

#[derive(Serialize, Default)]
pub struct Summary {
    pub artifacts: usize,
    pub unreadable: usize,
    pub would_not_load: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Summary {
    pub fn of(report: &Report) -> Summary {
        let mut summary = Summary {
            artifacts: report.artifacts.len(),
            ..Summary::default()
        };
        for item in &report.artifacts {
            match &item.result {
                Err(_) => summary.unreadable += 1,
                Ok(analysis) => {
                    if analysis.load.as_ref().is_some_and(|l| !l.outcome.loads()) {
                        summary.would_not_load += 1;
                    }
                    for finding in &analysis.findings {
                        match finding.severity {
                            Severity::Error => summary.errors += 1,
                            Severity::Warning => summary.warnings += 1,
                            Severity::Info => summary.infos += 1,
                        }
                    }
                }
            }
        }
        summary
    }
}

fn elf_json(artifact: &Artifact, list_symbols: bool) -> ElfJson<'_> {
    let undefined: Vec<&str> = artifact
        .symbols
        .iter()
        .filter(|s| !s.defined && !s.name.is_empty())
        .map(|s| s.name.as_str())
        .collect();
    ElfJson {
        file_size: artifact.file_size,
        identity: &artifact.identity,
        dynamic: &artifact.dynamic,
        versions: &artifact.versions,
        symbols: SymbolsJson {
            defined: artifact.symbols.iter().filter(|s| s.defined).count(),
            undefined: undefined.len(),
            undefined_names: list_symbols.then_some(undefined),
        },
        tls: &artifact.tls,
        segments: &artifact.segments,
        problems: &artifact.problems,
    }
}

fn artifact_json(item: &ArtifactReport, list_symbols: bool) -> ArtifactJson<'_> {
    let path = item.path.display().to_string();
    match &item.result {
        Ok(analysis) => ArtifactJson {
            path,
            status: "ok",
            error: None,
            elf: Some(elf_json(&analysis.artifact, list_symbols)),
            load: analysis.load.as_ref(),
            basis: &analysis.basis,
            findings: &analysis.findings,
        },
        Err(err) => ArtifactJson {
            path,
            status: "error",
            error: Some(err.to_string()),
            elf: None,
            load: None,
            basis: &[],
            findings: &[],
        },
    }
}

/// Renders the whole report as one pretty-printed JSON document.
pub fn render(report: &Report, list_symbols: bool) -> String {
    let doc = Document {
        schema_version: SCHEMA_VERSION,
        plugctl_version: env!("CARGO_PKG_VERSION"),
        artifacts: report
            .artifacts
            .iter()
            .map(|a| artifact_json(a, list_symbols))
            .collect(),
        summary: Summary::of(report),
    };
    let mut text = serde_json::to_string_pretty(&doc).expect("report types serialize infallibly");
    text.push('\n');
    text
}
