//! The JSON document of `inspect` (schema_version 1). Field names are a contract: see
//! docs/json-schema.md.

use serde::Serialize;

use crate::elf::{Artifact, Dynamic, Identity, Segments, Tls, Versions};
use crate::findings::{Finding, Severity};
use crate::golang::GoFacts;
use crate::loader::{DepTree, HostSetup};
use crate::predict::{ArtifactReport, ProcessMode, Report};
use crate::verdict::LoadVerdict;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    plugctl_version: &'static str,
    host: Option<HostJson<'a>>,
    environment: EnvironmentJson<'a>,
    /// `sequence`: one process opened the artifacts in order; `each`: a fresh process each.
    process_mode: ProcessMode,
    artifacts: Vec<ArtifactJson<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct HostJson<'a> {
    path: String,
    elf: ElfJson<'a>,
    go: Option<&'a GoFacts>,
    /// The host's own start-up, as ld.so would do it.
    startup: &'a HostSetup,
}

#[derive(Serialize)]
struct EnvironmentJson<'a> {
    sysroot: Option<String>,
    ld_library_path: Option<&'a str>,
    glibc_version: Option<&'a str>,
    glibc_tunables: Option<&'a str>,
    static_tls_surplus: u64,
}

#[derive(Serialize)]
struct ArtifactJson<'a> {
    path: String,
    status: &'static str,
    error: Option<String>,
    elf: Option<ElfJson<'a>>,
    go: Option<&'a GoFacts>,
    load: &'a LoadVerdict,
    basis: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    tree: Option<&'a DepTree>,
    findings: &'a [Finding],
}

/// What to include beyond the default document.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detail {
    /// Undefined symbol names (`--symbols`).
    pub symbols: bool,
    /// Dependency trees (`--tree`).
    pub tree: bool,
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
        let mut summary = Summary::default();
        for item in &report.artifacts {
            summary.add(item);
        }
        summary
    }

    /// Counts one more artifact.
    pub fn add(&mut self, item: &ArtifactReport) {
        self.artifacts += 1;
        if item.artifact.is_err() {
            self.unreadable += 1;
        }
        if !item.load.outcome.loads() {
            self.would_not_load += 1;
        }
        for finding in &item.findings {
            match finding.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
                Severity::Info => self.infos += 1,
            }
        }
    }
}

fn elf_json(artifact: &Artifact, list_symbols: bool) -> ElfJson<'_> {
    let undefined = artifact.undefined_names();
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

fn artifact_json(item: &ArtifactReport, detail: Detail) -> ArtifactJson<'_> {
    let (status, error, elf) = match &item.artifact {
        Ok(artifact) => ("ok", None, Some(elf_json(artifact, detail.symbols))),
        Err(err) => ("error", Some(err.to_string()), None),
    };
    ArtifactJson {
        path: item.path.display().to_string(),
        status,
        error,
        elf,
        go: item.go.as_ref(),
        load: &item.load,
        basis: &item.basis,
        tree: detail.tree.then_some(&item.tree),
        findings: &item.findings,
    }
}

/// Renders the whole report as one pretty-printed JSON document.
pub fn render(report: &Report, detail: Detail) -> String {
    let env = &report.environment;
    let doc = Document {
        schema_version: SCHEMA_VERSION,
        plugctl_version: env!("CARGO_PKG_VERSION"),
        host: report.host.as_ref().map(|host| HostJson {
            path: host.artifact.path.display().to_string(),
            elf: elf_json(&host.artifact, detail.symbols),
            go: host.go.as_ref(),
            startup: &host.setup,
        }),
        environment: EnvironmentJson {
            sysroot: env.sysroot.as_ref().map(|p| p.display().to_string()),
            ld_library_path: env.ld_library_path.as_deref(),
            glibc_version: env.glibc_version.as_deref(),
            glibc_tunables: env.glibc_tunables.as_deref(),
            static_tls_surplus: env.static_tls.surplus,
        },
        process_mode: report.mode,
        artifacts: report
            .artifacts
            .iter()
            .map(|a| artifact_json(a, detail))
            .collect(),
        summary: Summary::of(report),
    };
    // Sized for a big plugin's report (about 40 kB) instead of grown from empty.
    let mut text = Vec::with_capacity(64 << 10);
    serde_json::to_writer_pretty(&mut text, &doc).expect("report types serialize infallibly");
    text.push(b'\n');
    String::from_utf8(text).expect("serde_json writes UTF-8")
}

/// One artifact as a single JSON line (`--format jsonl`).
pub fn line(item: &ArtifactReport, detail: Detail) -> String {
    let mut text = serde_json::to_string(&artifact_json(item, detail))
        .expect("report types serialize infallibly");
    text.push('\n');
    text
}

/// The closing line of `--format jsonl`.
pub fn summary_line(summary: &Summary, mode: ProcessMode) -> String {
    let mut text =
        serde_json::to_string(&serde_json::json!({ "summary": summary, "process_mode": mode }))
            .expect("summary serializes");
    text.push('\n');
    text
}
