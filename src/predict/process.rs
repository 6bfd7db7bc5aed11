//! One host process opening the artifacts in order: the dynamic loader first (every
//! artifact, as `dlopen` would), then — for a Go host — Go's `plugin.Open` around it:
//! the cgo stub, the realpath cache, the loader's verdict, then the runtime's checks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::elf::{Artifact, ReadError};
use crate::findings::{Code, Finding};
use crate::golang::{self, Earlier, GoFacts, GoRole, OpenOutcome};
use crate::loader::process::Plugin;
use crate::loader::{self, DepTree, Environment, HostSetup, LoaderPrediction, OpenMode};
use crate::verdict::{LoadVerdict, Outcome};

use super::gohost::{self, EarlierPlugin};

/// The prediction for one artifact, before the artifact's own findings are added.
pub struct Predicted {
    pub verdict: LoadVerdict,
    pub basis: Vec<String>,
    pub tree: DepTree,
    pub findings: Vec<Finding>,
}

/// Opens `read` (the artifacts at `paths`) in order in one process of `host`. The
/// `loader` keeps the files it has parsed, so a caller simulating many processes
/// reuses one loader for them.
pub fn simulate<'a>(
    loader: &mut loader::Loader<'a>,
    host: Option<&'a Artifact>,
    host_go: Option<&GoFacts>,
    paths: &[PathBuf],
    read: &'a [(Result<Artifact, ReadError>, Option<GoFacts>)],
    lazy: bool,
) -> (HostSetup, Vec<Predicted>) {
    let env = loader.environment();
    let go_host = host_go.filter(|g| g.role != GoRole::Plugin);
    let mode = if go_host.is_some() {
        OpenMode::GO_PLUGIN_OPEN
    } else {
        // `plugctl inspect libx.so` means that file, not a library search.
        OpenMode {
            lazy,
            bare_name_is_file: true,
            ..OpenMode::C_HOST
        }
    };
    let plugins: Vec<Plugin> = read
        .iter()
        .zip(paths)
        .map(|((artifact, _), path)| match artifact {
            Ok(artifact) => Plugin::Artifact(artifact),
            Err(_) => Plugin::Name(path.to_string_lossy().into_owned()),
        })
        .collect();
    let simulation = loader.simulate_plugins(host, &plugins, mode);
    let loader_basis = loader_basis(host, go_host.is_some(), mode, env);
    let predictions = match go_host {
        Some(host_go) => {
            GoProcess::new(host_go, host).run(paths, read, simulation.plugins, &loader_basis)
        }
        None => simulation
            .plugins
            .into_iter()
            .zip(paths)
            .map(|(prediction, path)| loader_only(path, prediction, host, &loader_basis))
            .collect(),
    };
    (simulation.host, predictions)
}

fn loader_basis(
    host: Option<&Artifact>,
    go_host: bool,
    mode: OpenMode,
    env: &Environment,
) -> String {
    let who = match host {
        Some(h) if go_host => format!(
            "Go host {}: dlopen(realpath, RTLD_NOW|RTLD_GLOBAL)",
            h.path.display()
        ),
        Some(h) => format!(
            "host {}: dlopen(path, {})",
            h.path.display(),
            if mode.lazy { "RTLD_LAZY" } else { "RTLD_NOW" }
        ),
        None => format!(
            "a minimal C program linked with libc: dlopen(path, {})",
            if mode.lazy { "RTLD_LAZY" } else { "RTLD_NOW" }
        ),
    };
    format!(
        "ld.so emulation ({}, glibc {}, static TLS surplus {} bytes) for {who}",
        env.interpreter,
        env.glibc_version.as_deref().unwrap_or("unknown"),
        env.static_tls.surplus
    )
}

/// A C host (or none): the loader's verdict is the whole story.
fn loader_only(
    path: &Path,
    prediction: LoaderPrediction,
    host: Option<&Artifact>,
    basis: &str,
) -> Predicted {
    let mut findings = Vec::new();
    if let Some(finding) = loader_finding(path, &prediction.verdict) {
        findings.push(finding);
    }
    if let Some(host) = host {
        findings.push(Finding::new(
            Code::HostNotGo,
            format!(
                "host {} has no Go build info: loader checks only",
                host.path.display()
            ),
            "Go's plugin checks (package hashes, plugin path) apply only to Go hosts",
            "",
        ));
    }
    Predicted {
        verdict: prediction.verdict,
        basis: vec![basis.to_string()],
        tree: prediction.tree,
        findings,
    }
}

/// A finding for a loader-level failure, with the loader's own cause and fix.
fn loader_finding(path: &Path, verdict: &LoadVerdict) -> Option<Finding> {
    let code = verdict.outcome.failure_code()?;
    let error = verdict.error.as_deref().unwrap_or("");
    Some(Finding::new(
        code,
        format!("{}: {}", path.display(), verdict.cause),
        format!("dlopen fails: {error}"),
        verdict.fix.clone(),
    ))
}

/// A `plugin.Open` that returned an error, as Go's plugin cache remembers it.
struct Failed {
    outcome: Outcome,
    package: Option<String>,
    /// Go's error text, without the `plugin.Open("...")` prefix.
    message: String,
}

/// What one Go process has seen so far.
struct GoProcess<'h> {
    host: &'h GoFacts,
    host_artifact: Option<&'h Artifact>,
    /// realpath → the Go error it failed with (`None`: it opened fine).
    opened: HashMap<PathBuf, Option<Failed>>,
    /// Go plugins whose dlopen succeeded, in order, and whether they passed Go's checks.
    modules: Vec<EarlierPlugin<'h>>,
    /// The host died at this artifact; the rest never run.
    crashed_at: Option<String>,
}

impl<'h> GoProcess<'h> {
    fn new(host: &'h GoFacts, host_artifact: Option<&'h Artifact>) -> Self {
        GoProcess {
            host,
            host_artifact,
            opened: HashMap::new(),
            modules: Vec::new(),
            crashed_at: None,
        }
    }

    fn run(
        mut self,
        paths: &[PathBuf],
        read: &'h [(Result<Artifact, ReadError>, Option<GoFacts>)],
        loader: Vec<LoaderPrediction>,
        loader_basis: &str,
    ) -> Vec<Predicted> {
        loader
            .into_iter()
            .zip(paths.iter().zip(read))
            .map(|(prediction, (path, (artifact, go)))| {
                let mut predicted =
                    self.open(path, artifact.as_ref().ok(), go.as_ref(), prediction);
                predicted.basis.insert(0, loader_basis.to_string());
                predicted
            })
            .collect()
    }

    /// `plugin.Open(path)`, step by step as `plugin/plugin_dlopen.go` does it.
    fn open(
        &mut self,
        path: &Path,
        artifact: Option<&'h Artifact>,
        go: Option<&'h GoFacts>,
        loader: LoaderPrediction,
    ) -> Predicted {
        let name = path.display().to_string();
        let mut out = Predicted {
            verdict: LoadVerdict::ok(""),
            basis: Vec::new(),
            tree: loader.tree,
            findings: Vec::new(),
        };
        if let Some(previous) = &self.crashed_at {
            out.verdict = LoadVerdict::fail(
                Outcome::Crash,
                format!("(never opened: the host crashed while opening {previous})"),
                "an earlier plugin crashed the host process",
                "fix the earlier plugin first",
            );
            return out;
        }
        let gh = gohost::GoHostCheck::new(self.host, self.host_artifact);
        if let Some(stub) = gh.cgo_stub() {
            out.basis.push("host build info: CGO_ENABLED=0".into());
            out.findings.extend(stub.findings);
            out.verdict = stub.verdict;
            return out;
        }
        let Ok(real) = std::fs::canonicalize(path) else {
            out.verdict = LoadVerdict::fail(
                Outcome::NotElf,
                format!("plugin.Open(\"{name}\"): realpath failed"),
                "the file does not exist or a directory on its path is unreadable",
                "check the path",
            );
            return out;
        };
        if let Some(previous) = self.opened.get(&real) {
            out.basis
                .push("Go's plugin cache: this file was opened before in this process".into());
            out.verdict = match previous {
                None => LoadVerdict::ok("already open: plugin.Open returns the cached plugin"),
                Some(failed) => LoadVerdict {
                    outcome: failed.outcome,
                    error: Some(format!(
                        "plugin.Open(\"{name}\"): {} (previous failure)",
                        failed.message
                    )),
                    package: failed.package.clone(),
                    cause: "the first plugin.Open of this file failed; Go remembers the failure"
                        .into(),
                    fix: "fix the first failure".into(),
                },
            };
            return out;
        }
        if !loader.verdict.outcome.loads() {
            let mut verdict = loader.verdict;
            if let Some(finding) = loader_finding(path, &verdict) {
                out.findings.push(finding);
            }
            if verdict.outcome == Outcome::Crash {
                // ld.so itself faults: Go's signal handler prints the signal, not an error.
                verdict.error = verdict.error.as_deref().map(go_signal_line);
                self.crashed_at = Some(name.clone());
            } else {
                verdict.error = verdict
                    .error
                    .map(|e| format!("plugin.Open(\"{name}\"): {e}"));
            }
            out.verdict = verdict;
            return out;
        }
        let prediction = self.runtime_checks(go);
        out.basis.extend(prediction.steps.iter().cloned());
        let check = gh.verdict(path, artifact, go, &prediction, &self.modules);
        out.findings.extend(check.findings);
        out.verdict = check.verdict;
        let failed = |outcome, package| Failed {
            outcome,
            package,
            message: prediction.message.clone().unwrap_or_default(),
        };
        match &prediction.outcome {
            OpenOutcome::Passes => {
                self.opened.insert(real, None);
            }
            OpenOutcome::AlreadyLoaded => {
                self.opened
                    .insert(real, Some(failed(Outcome::AlreadyLoaded, None)));
            }
            OpenOutcome::PackageMismatch { package, .. } => {
                let remembered = failed(Outcome::PackageMismatch, Some(package.clone()));
                self.opened.insert(real, Some(remembered));
            }
            _ => self.crashed_at = Some(name.clone()),
        }
        if let Some(facts) = go.filter(|g| g.role == GoRole::Plugin) {
            self.modules.push(EarlierPlugin {
                name,
                facts,
                artifact,
                active: prediction.outcome == OpenOutcome::Passes,
            });
        }
        out
    }

    /// The runtime's `plugin_lastmoduleinit`, for a file the loader accepted.
    fn runtime_checks(&self, go: Option<&GoFacts>) -> golang::OpenPrediction {
        let earlier: Vec<Earlier> = self
            .modules
            .iter()
            .map(|m| Earlier {
                facts: m.facts,
                active: m.active,
            })
            .collect();
        match go.filter(|g| g.role == GoRole::Plugin) {
            Some(plugin) => golang::predict_open(self.host, plugin, &earlier),
            None => golang::predict_open_non_go(self.host, &earlier),
        }
    }
}

/// What Go's runtime prints first when a signal kills it inside cgo, from the C
/// `strsignal` text the loader emulation gives for a C host.
fn go_signal_line(c_text: &str) -> String {
    match c_text {
        "Bus error" => "SIGBUS: bus error".to_string(),
        "Segmentation fault" => "SIGSEGV: segmentation violation".to_string(),
        other => other.to_string(),
    }
}
