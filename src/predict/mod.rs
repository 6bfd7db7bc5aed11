//! `predict`: combines the ELF model, Go facts and loader emulation into a verdict and
//! findings per artifact. Never prints, never exits.

mod elf_findings;
mod go_findings;
mod gohost;
mod process;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;

pub use elf_findings::TargetFacts;
pub use gohost::rebuild_command;

use crate::elf::{Arch, Artifact, ReadError, parse_dotted};
use crate::findings::{Finding, Severity};
use crate::golang::{self, GoFacts};
use crate::loader::{DepTree, Environment, HostSetup, Loader};
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

/// Reads every artifact and predicts how it loads; the report keeps the input order.
pub fn inspect(paths: &[PathBuf], options: &Options) -> Result<Report> {
    let mut items = Vec::with_capacity(paths.len());
    let (host, environment) =
        inspect_each(paths, options, |index, item| items.push((index, item)))?;
    items.sort_by_key(|(index, _)| *index);
    let artifacts = items.into_iter().map(|(_, item)| item).collect();
    Ok(Report {
        host,
        environment,
        artifacts,
    })
}

/// Calls `emit(index, report)` for every artifact as soon as its prediction is ready.
///
/// With a host, the artifacts are opened in order by one host process, so each depends
/// on the ones before it (static TLS, plugin paths, bound hashes). Without one, each is
/// dlopened by its own minimal C program: they are independent and analysed in
/// parallel, and `emit` sees them in completion order.
pub fn inspect_each(
    paths: &[PathBuf],
    options: &Options,
    mut emit: impl FnMut(usize, ArtifactReport),
) -> Result<(Option<Host>, Environment)> {
    let environment = Environment::detect_for(
        options.ld_library_path.clone(),
        options.sysroot.clone(),
        target_arch(options.host.as_deref(), paths, options.sysroot.is_some()),
    );
    let target = TargetFacts {
        glibc: environment
            .glibc_version
            .as_deref()
            .map(|v| parse_dotted(v.trim_start_matches("GLIBC_"))),
    };
    let Some(host_path) = &options.host else {
        each_alone(paths, &environment, &target, options.lazy, &mut emit);
        return Ok((None, environment));
    };
    // The host (often as big as the plugin) is read on a second thread while this one
    // reads the inputs; one input is read here directly (a pool costs more than it saves).
    let (host_read, read) = std::thread::scope(|scope| {
        let host = scope.spawn(|| read_one(host_path));
        let read: Vec<(Result<Artifact, ReadError>, Option<GoFacts>)> = if paths.len() > 1 {
            paths.par_iter().map(|path| read_one(path)).collect()
        } else {
            paths.iter().map(|path| read_one(path)).collect()
        };
        (host.join(), read)
    });
    let (host_artifact, host_go) = host_read.expect("the host reader does not panic");
    let host_artifact = host_artifact
        .map_err(anyhow::Error::from)
        .with_context(|| format!("host {}", host_path.display()))?;
    let mut loader = Loader::new(&environment);
    let (setup, outcomes) = process::simulate(
        &mut loader,
        Some(&host_artifact),
        host_go.as_ref(),
        paths,
        &read,
        options.lazy,
    );
    drop(loader);
    for (index, ((path, (artifact, go)), outcome)) in
        paths.iter().zip(read).zip(outcomes).enumerate()
    {
        let mut report = assemble(path, artifact, go, outcome, &target);
        report.basis.extend(environment.assumption());
        emit(index, report);
    }
    let host = Host {
        artifact: host_artifact,
        go: host_go,
        setup,
    };
    Ok((Some(host), environment))
}

/// The target whose loader is emulated: the host's architecture; without a host, the
/// first input's when a sysroot says where that target's files are; else this machine's
/// (a lone foreign object is then reported as not loading here).
fn target_arch(host: Option<&Path>, paths: &[PathBuf], sysroot: bool) -> &'static Arch {
    let first = paths.first().map(PathBuf::as_path).filter(|_| sysroot);
    host.or(first)
        .and_then(Arch::of_file)
        .unwrap_or_else(Arch::native)
}

fn read_one(path: &Path) -> (Result<Artifact, ReadError>, Option<GoFacts>) {
    let artifact = Artifact::read(path);
    let go = artifact.as_ref().ok().and_then(golang::read);
    (artifact, go)
}

/// How many artifacts share one loader (and so its parsed libraries) in batch mode:
/// large enough that libc and friends are parsed once per batch, small enough that
/// memory stays bounded on thousands of files.
const BATCH: usize = 64;

/// Every artifact in its own minimal C process, in parallel, streamed to `emit`.
fn each_alone(
    paths: &[PathBuf],
    environment: &Environment,
    target: &TargetFacts,
    lazy: bool,
    emit: &mut dyn FnMut(usize, ArtifactReport),
) {
    if paths.len() <= BATCH {
        // One batch: no thread, no pool (a single-file inspect stays single-threaded).
        let read: Vec<_> = paths.iter().map(|path| read_one(path)).collect();
        let outcomes = alone_in_one_loader(paths, &read, environment, lazy);
        for (index, ((artifact, go), outcome)) in read.into_iter().zip(outcomes).enumerate() {
            let mut item = assemble(&paths[index], artifact, go, outcome, target);
            item.basis.extend(environment.assumption());
            emit(index, item);
        }
        return;
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let batches: Vec<(usize, &[PathBuf])> = paths
                .chunks(BATCH)
                .enumerate()
                .map(|(i, chunk)| (i * BATCH, chunk))
                .collect();
            batches
                .into_par_iter()
                .for_each_with(sender, |sender, (first, chunk)| {
                    let read: Vec<_> = chunk.iter().map(|path| read_one(path)).collect();
                    let outcomes = alone_in_one_loader(chunk, &read, environment, lazy);
                    for (offset, ((artifact, go), outcome)) in
                        read.into_iter().zip(outcomes).enumerate()
                    {
                        let mut item = assemble(&chunk[offset], artifact, go, outcome, target);
                        item.basis.extend(environment.assumption());
                        // The receiver lives until every sender is gone.
                        let _ = sender.send((first + offset, item));
                    }
                });
        });
        for (index, item) in receiver {
            emit(index, item);
        }
    });
}

/// Each artifact dlopened by its own minimal C process, sharing one loader (and so the
/// libraries it parsed).
fn alone_in_one_loader(
    paths: &[PathBuf],
    read: &[(Result<Artifact, ReadError>, Option<GoFacts>)],
    environment: &Environment,
    lazy: bool,
) -> Vec<process::Predicted> {
    let mut loader = Loader::new(environment);
    let mut outcomes = Vec::with_capacity(paths.len());
    for (offset, path) in paths.iter().enumerate() {
        let one = &read[offset..=offset];
        let (_, mut predicted) = process::simulate(
            &mut loader,
            None,
            None,
            std::slice::from_ref(path),
            one,
            lazy,
        );
        outcomes.push(predicted.pop().expect("one prediction per artifact"));
    }
    outcomes
}

/// One artifact's report: its own findings, then the prediction's.
fn assemble(
    path: &Path,
    artifact: Result<Artifact, ReadError>,
    go: Option<GoFacts>,
    outcome: process::Predicted,
    target: &TargetFacts,
) -> ArtifactReport {
    let mut findings = Vec::new();
    if let Ok(artifact) = &artifact {
        findings.extend(elf_findings::findings(artifact, target));
    }
    if let Some(go) = &go {
        findings.extend(go_findings::findings(path, go));
    }
    findings.extend(outcome.findings);
    ArtifactReport {
        path: path.to_path_buf(),
        artifact,
        go,
        load: outcome.verdict,
        basis: outcome.basis,
        tree: outcome.tree,
        findings,
    }
}
