//! `predict`: combines the ELF model, Go facts and loader emulation into a verdict and
//! findings per artifact. Never prints, never exits.

mod elf_findings;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use elf_findings::TargetFacts;

use crate::elf::{Artifact, ReadError};
use crate::findings::{Finding, Severity};
use crate::verdict::LoadVerdict;

/// What the user asked `inspect` to check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub host: Option<PathBuf>,
    pub ld_library_path: Option<String>,
    pub sysroot: Option<PathBuf>,
    pub lazy: bool,
}

/// The analysis of one artifact that could be read.
pub struct Analysis {
    pub artifact: Artifact,
    pub load: Option<LoadVerdict>,
    /// How the load verdict was reached, in words (which checks ran, on what data).
    pub basis: Vec<String>,
    pub findings: Vec<Finding>,
}

/// One input: analysed, or the one-line reason it could not be read.
pub struct ArtifactReport {
    pub path: PathBuf,
    pub result: Result<Analysis, ReadError>,
}

impl ArtifactReport {
    pub fn worst_severity(&self) -> Option<Severity> {
        match &self.result {
            Ok(analysis) => analysis.findings.iter().map(|f| f.severity).max(),
            Err(_) => Some(Severity::Error),
        }
    }
}

pub struct Report {
    pub artifacts: Vec<ArtifactReport>,
}

/// Reads every artifact (in parallel) and predicts how it loads.
pub fn inspect(paths: &[PathBuf], options: &Options) -> Report {
    let target = TargetFacts::default();
    let _ = options;
    let artifacts = paths
        .par_iter()
        .map(|path| analyse_one(path, &target))
        .collect();
    Report { artifacts }
}

fn analyse_one(path: &Path, target: &TargetFacts) -> ArtifactReport {
    let result = Artifact::read(path).map(|artifact| {
        let findings = elf_findings::findings(&artifact, target);
        Analysis {
            artifact,
            load: None,
            basis: Vec::new(),
            findings,
        }
    });
    ArtifactReport {
        path: path.to_path_buf(),
        result,
    }
}
