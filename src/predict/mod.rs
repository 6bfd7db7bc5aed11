//! `predict`: combines the ELF model, Go facts and loader emulation into a verdict and
//! findings per artifact. Never prints, never exits.

mod elf_findings;
mod go_findings;
mod gohost;
mod mismatch;
mod process;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;

pub use elf_findings::TargetFacts;
pub use gohost::rebuild_command;

use crate::elf::{Arch, Artifact, ReadError, parse_dotted};
use crate::findings::{Finding, Severity};
use crate::golang::{self, GoFacts};
use crate::loader::{DepTree, Environment, HostSetup, Loader, ProcessEnv};
use crate::verdict::LoadVerdict;

/// What the user asked `inspect` to check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub host: Option<PathBuf>,
    pub ld_library_path: Option<String>,
    pub sysroot: Option<PathBuf>,
    pub lazy: bool,
    /// `None`: [`ProcessMode::Sequence`] for a Go host, else [`ProcessMode::Each`].
    pub mode: Option<ProcessMode>,
    /// The host process's working directory and loader variables; `None`: this
    /// process's own.
    pub process: Option<ProcessEnv>,
}

/// How the artifacts of one run relate to host processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessMode {
    /// One process opens them all, in order: each sees what the earlier ones left.
    Sequence,
    /// Each artifact in a fresh process of its own.
    Each,
}

impl ProcessMode {
    fn default_for(host_go: Option<&GoFacts>) -> ProcessMode {
        match host_go {
            Some(go) if go.role != golang::GoRole::Plugin => ProcessMode::Sequence,
            _ => ProcessMode::Each,
        }
    }
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
    pub mode: ProcessMode,
    pub artifacts: Vec<ArtifactReport>,
}

/// What a run was checked against, known before the first artifact is reported.
pub struct Setting {
    pub host: Option<Host>,
    pub environment: Environment,
    pub mode: ProcessMode,
}

/// Reads every artifact and predicts how it loads; the report keeps the input order.
pub fn inspect(paths: &[PathBuf], options: &Options) -> Result<Report> {
    let mut items = Vec::with_capacity(paths.len());
    let setting = inspect_each(paths, options, |index, item| items.push((index, item)))?;
    items.sort_by_key(|(index, _)| *index);
    let artifacts = items.into_iter().map(|(_, item)| item).collect();
    Ok(Report {
        host: setting.host,
        environment: setting.environment,
        mode: setting.mode,
        artifacts,
    })
}

/// Calls `emit(index, report)` for every artifact as soon as its prediction is ready.
///
/// In [`ProcessMode::Sequence`] the artifacts are opened in order by one process, so
/// each depends on the ones before it (static TLS, plugin paths, bound hashes). In
/// [`ProcessMode::Each`] every artifact gets a fresh process: they are independent and
/// analysed in parallel, and `emit` sees them in completion order.
pub fn inspect_each(
    paths: &[PathBuf],
    options: &Options,
    mut emit: impl FnMut(usize, ArtifactReport),
) -> Result<Setting> {
    // The loader's environment (ld.so, its cache, libc) and the host (often as big as the
    // plugin) are read on other threads while this one reads the inputs of a small run;
    // a large batch reads its inputs batch by batch.
    let (environment, host, read) = std::thread::scope(|scope| {
        let environment = scope.spawn(|| {
            let arch = target_arch(options.host.as_deref(), paths, options.sysroot.is_some());
            let (ld_library_path, sysroot) =
                (options.ld_library_path.clone(), options.sysroot.clone());
            match &options.process {
                Some(process) => Environment::of_process(process, ld_library_path, sysroot, arch),
                None => Environment::detect_for(ld_library_path, sysroot, arch),
            }
        });
        let host = options
            .host
            .as_deref()
            .map(|path| scope.spawn(move || read_one(path)));
        let read = (paths.len() <= BATCH).then(|| read_all(paths));
        let host = host.map(|h| h.join().expect("the host reader does not panic"));
        let environment = environment
            .join()
            .expect("the environment reader does not panic");
        (environment, host, read)
    });
    let target = TargetFacts {
        glibc: environment
            .glibc_version
            .as_deref()
            .map(|v| parse_dotted(v.trim_start_matches("GLIBC_"))),
    };
    let host = match (host, &options.host) {
        (Some((artifact, go)), Some(path)) => Some((
            artifact
                .map_err(anyhow::Error::from)
                .with_context(|| format!("host {}", path.display()))?,
            go,
        )),
        _ => None,
    };
    let host_go = host.as_ref().and_then(|(_, go)| go.as_ref());
    let mode = options
        .mode
        .unwrap_or_else(|| ProcessMode::default_for(host_go));
    let process = Process {
        host: host.as_ref().map(|(artifact, _)| artifact),
        host_go,
        lazy: options.lazy,
    };
    let run = Run {
        environment: &environment,
        target: &target,
        process: &process,
    };
    let setup = match mode {
        ProcessMode::Each => run.each_alone(paths, read, &mut emit),
        ProcessMode::Sequence => {
            run.one_process(paths, read.unwrap_or_else(|| read_all(paths)), &mut emit)
        }
    };
    let host = host.map(|(artifact, go)| Host {
        artifact,
        go,
        setup: setup.expect("a process with a host has its start-up"),
    });
    Ok(Setting {
        host,
        environment,
        mode,
    })
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

type Read = (Result<Artifact, ReadError>, Option<GoFacts>);

fn read_one(path: &Path) -> Read {
    let artifact = Artifact::read(path);
    let go = artifact.as_ref().ok().and_then(golang::read);
    (artifact, go)
}

/// Every input, in order; one input on this thread (a pool costs more than it saves).
fn read_all(paths: &[PathBuf]) -> Vec<Read> {
    if paths.len() > 1 {
        paths.par_iter().map(|path| read_one(path)).collect()
    } else {
        paths.iter().map(|path| read_one(path)).collect()
    }
}

/// How many artifacts share one loader (and so its parsed libraries) in batch mode:
/// large enough that libc and friends are parsed once per batch, small enough that
/// memory stays bounded on thousands of files.
const BATCH: usize = 64;

/// The program that opens the artifacts.
struct Process<'h> {
    host: Option<&'h Artifact>,
    host_go: Option<&'h GoFacts>,
    lazy: bool,
}

impl Process<'_> {
    /// `read` (the artifacts at `paths`) opened in order by one process of this program.
    fn simulate<'a>(
        &self,
        loader: &mut Loader<'a>,
        paths: &[PathBuf],
        read: &'a [Read],
    ) -> (HostSetup, Vec<process::Predicted>)
    where
        Self: 'a,
    {
        process::simulate(loader, self.host, self.host_go, paths, read, self.lazy)
    }

    /// Each artifact in a fresh process of this program, sharing one loader (and so the
    /// libraries it parsed).
    fn each_in_one_loader(
        &self,
        paths: &[PathBuf],
        read: &[Read],
        environment: &Environment,
    ) -> Vec<process::Predicted> {
        let mut loader = Loader::new(environment);
        let mut outcomes = Vec::with_capacity(paths.len());
        for (offset, path) in paths.iter().enumerate() {
            let (_, mut predicted) = self.simulate(
                &mut loader,
                std::slice::from_ref(path),
                &read[offset..=offset],
            );
            outcomes.push(predicted.pop().expect("one prediction per artifact"));
        }
        outcomes
    }
}

/// What every prediction of one run shares.
struct Run<'r> {
    environment: &'r Environment,
    target: &'r TargetFacts,
    process: &'r Process<'r>,
}

impl Run<'_> {
    fn report(&self, path: &Path, read: Read, outcome: process::Predicted) -> ArtifactReport {
        let (artifact, go) = read;
        let mut item = assemble(path, artifact, go, outcome, self.target);
        item.basis.extend(self.environment.assumption());
        item
    }

    /// Every artifact opened in order by one process; returns the host's start-up.
    fn one_process(
        &self,
        paths: &[PathBuf],
        read: Vec<Read>,
        emit: &mut dyn FnMut(usize, ArtifactReport),
    ) -> Option<HostSetup> {
        let mut loader = Loader::new(self.environment);
        let (setup, outcomes) = self.process.simulate(&mut loader, paths, &read);
        drop(loader);
        for (index, ((path, read), outcome)) in paths.iter().zip(read).zip(outcomes).enumerate() {
            emit(index, self.report(path, read, outcome));
        }
        Some(setup)
    }

    /// Every artifact in a fresh process of its own, streamed to `emit`; returns the
    /// host's start-up (the same for every process). A small run stays on this thread
    /// (`read`: its inputs, already read); a large one runs in batches on the pool.
    fn each_alone(
        &self,
        paths: &[PathBuf],
        read: Option<Vec<Read>>,
        emit: &mut dyn FnMut(usize, ArtifactReport),
    ) -> Option<HostSetup> {
        let setup = || {
            self.process.host.map(|_| {
                let mut loader = Loader::new(self.environment);
                self.process.simulate(&mut loader, &[], &[]).0
            })
        };
        if let Some(read) = read {
            let outcomes = self
                .process
                .each_in_one_loader(paths, &read, self.environment);
            for (index, (read, outcome)) in read.into_iter().zip(outcomes).enumerate() {
                emit(index, self.report(&paths[index], read, outcome));
            }
            return setup();
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
                        let outcomes =
                            self.process
                                .each_in_one_loader(chunk, &read, self.environment);
                        for (offset, (read, outcome)) in read.into_iter().zip(outcomes).enumerate()
                        {
                            let item = self.report(&chunk[offset], read, outcome);
                            // The receiver lives until every sender is gone.
                            let _ = sender.send((first + offset, item));
                        }
                    });
            });
            for (index, item) in receiver {
                emit(index, item);
            }
        });
        setup()
    }
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
    if let Some(finding) = failing_load_finding(path, &outcome.verdict, &findings) {
        findings.push(finding);
    }
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

/// The rule CI gates rely on: an artifact that will not load carries at least one
/// error-level finding, so `--fail-on error` (the default) exits 1 and SARIF says
/// `error`. When no rule produced one (a cached earlier failure, a host that died on an
/// earlier plugin, a GOOS without plugins), the verdict's own code states it.
fn failing_load_finding(path: &Path, load: &LoadVerdict, findings: &[Finding]) -> Option<Finding> {
    let code = load.outcome.failure_code()?;
    if findings.iter().any(|f| f.severity == Severity::Error) {
        return None;
    }
    Some(Finding::new(
        code,
        format!("{}: {}", path.display(), load.cause),
        match &load.error {
            Some(error) => format!("the load fails: {error}"),
            None => "the load fails".to_string(),
        },
        load.fix.clone(),
    ))
}
