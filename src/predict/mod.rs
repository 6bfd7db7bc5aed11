//! `predict`: combines the ELF model, Go facts and loader emulation into a verdict and
//! findings per artifact. Never prints, never exits.

mod elf_findings;
mod go_findings;
mod gohost;
mod process;

use std::path::PathBuf;

use anyhow::{Context, Result};
use rayon::prelude::*;

pub use elf_findings::TargetFacts;
pub use gohost::rebuild_command;

use crate::elf::{Artifact, ReadError, parse_dotted};
use crate::findings::{Finding, Severity};
use crate::golang::{self, GoFacts};
use crate::loader::{DepTree, Environment, HostSetup};
use crate::verdict::LoadVerdict;

/// What the user asked `inspect` to check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub host: Option<PathBuf>,
    pub ld_library_path: Option<String>,
    pub sysroot: Option<PathBuf>,
    pub lazy: bool,
}

/// The host every artifact is checked against.
pub struct Host {
    pub artifact: Artifact,
    pub go: Option<GoFacts>,
    /// The host's own start-up (its dependency tree), as ld.so would do it.
    pub setup: HostSetup,
}

/// One input: its facts (when readable), the predicted load and the findings.
pub struct ArtifactReport {
    pub path: PathBuf,
    pub artifact: Result<Artifact, ReadError>,
    pub go: Option<GoFacts>,
    pub load: LoadVerdict,
    /// How the load verdict was reached, in words (which checks ran, on what data).
    pub basis: Vec<String>,
    pub tree: DepTree,
    pub findings: Vec<Finding>,
}

impl ArtifactReport {
    pub fn worst_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

pub struct Report {
    pub host: Option<Host>,
    pub environment: Environment,
    pub artifacts: Vec<ArtifactReport>,
}

/// Reads every artifact (in parallel), then predicts how they load, in order, into one
/// process of the host (or of a minimal C program when there is none).
pub fn inspect(paths: &[PathBuf], options: &Options) -> Result<Report> {
    let environment = Environment::detect(options.ld_library_path.clone(), options.sysroot.clone());
    let host_artifact = match &options.host {
        Some(path) => Some(
            Artifact::read(path)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("host {}", path.display()))?,
        ),
        None => None,
    };
    let host_go = host_artifact.as_ref().and_then(golang::read);
    let read: Vec<(Result<Artifact, ReadError>, Option<GoFacts>)> = paths
        .par_iter()
        .map(|path| {
            let artifact = Artifact::read(path);
            let go = artifact.as_ref().ok().and_then(golang::read);
            (artifact, go)
        })
        .collect();
    let target = TargetFacts {
        glibc: environment.glibc_version.as_deref().map(|v| parse_dotted(v.trim_start_matches("GLIBC_"))),
    };
    let (setup, outcomes) =
        process::simulate(host_artifact.as_ref(), host_go.as_ref(), paths, &read, &environment, options.lazy);
    let artifacts = paths
        .iter()
        .zip(read)
        .zip(outcomes)
        .map(|((path, (artifact, go)), outcome)| {
            let mut findings = Vec::new();
            if let Ok(artifact) = &artifact {
                findings.extend(elf_findings::findings(artifact, &target));
            }
            if let Some(go) = &go {
                findings.extend(go_findings::findings(path, go));
            }
            findings.extend(outcome.findings);
            ArtifactReport {
                path: path.clone(),
                artifact,
                go,
                load: outcome.verdict,
                basis: outcome.basis,
                tree: outcome.tree,
                findings,
            }
        })
        .collect();
    let host = host_artifact.map(|artifact| Host { artifact, go: host_go, setup });
    Ok(Report { host, environment, artifacts })
}
