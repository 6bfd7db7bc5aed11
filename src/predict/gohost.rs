//! Go's own checks in `plugin.Open`, turned into a verdict with a cause and a fix.
//!
//! `golang::predict_open` simulates the host runtime (`plugin_lastmoduleinit`) on static
//! facts; this module says what that means for the user: the exact error Go prints
//! (`plugin.Open("NAME"): …`, NAME without a trailing `.so` once dlopen succeeded), why
//! (build info diffs), and the command that fixes it.

use std::path::Path;

use crate::elf::Artifact;
use crate::findings::{Code, Finding};
use crate::golang::{GoFacts, GoRole, OpenOutcome, OpenPrediction, open_error, predict_open};
use crate::shell::shell_quote;
use crate::verdict::{LoadVerdict, Outcome};

use super::mismatch::{self, Side};

pub struct GoCheck {
    pub verdict: LoadVerdict,
    pub findings: Vec<Finding>,
}

/// A plugin opened earlier in the same host process (it stays mapped even when Go
/// refused it, so its package hashes still bind first).
pub struct EarlierPlugin<'a> {
    /// The path as given to `plugin.Open`.
    pub name: String,
    pub facts: &'a GoFacts,
    pub artifact: Option<&'a Artifact>,
    /// It passed Go's checks (an active module).
    pub active: bool,
}

pub struct GoHostCheck<'h> {
    host: &'h GoFacts,
    host_artifact: Option<&'h Artifact>,
}

impl<'h> GoHostCheck<'h> {
    pub fn new(host: &'h GoFacts, host_artifact: Option<&'h Artifact>) -> Self {
        GoHostCheck {
            host,
            host_artifact,
        }
    }

    /// A host without cgo has the stub `plugin.Open`, whatever the file.
    pub fn cgo_stub(&self) -> Option<GoCheck> {
        if self.host.cgo_enabled() != Some(false) {
            return None;
        }
        let fix = "rebuild the host with CGO_ENABLED=1 (and a C compiler)".to_string();
        let finding = Finding::new(
            Code::HostWithoutCgo,
            format!(
                "host {} was built with CGO_ENABLED=0",
                host_label(self.host)
            ),
            "Go's plugin package needs cgo; without it plugin.Open is a stub that always fails",
            fix.clone(),
        );
        let verdict = LoadVerdict::fail(
            Outcome::NotImplemented,
            "plugin: not implemented",
            "the host has no cgo, so plugin.Open is the stub that always fails",
            fix,
        );
        Some(GoCheck {
            verdict,
            findings: vec![finding],
        })
    }

    /// The verdict for a file the loader accepted, from the runtime simulation.
    pub fn verdict(
        &self,
        path: &Path,
        artifact: Option<&Artifact>,
        plugin: Option<&GoFacts>,
        prediction: &OpenPrediction,
        earlier: &[EarlierPlugin],
    ) -> GoCheck {
        let host = self.host;
        let name = path.display().to_string();
        let shown = path.display();
        let is_plugin = plugin.is_some_and(|p| p.role == GoRole::Plugin);
        let error = prediction.message.as_deref().map(|m| {
            if m.starts_with("fatal error:") || m.starts_with("panic:") {
                m.to_string()
            } else {
                open_error(&name, m)
            }
        });
        match &prediction.outcome {
            OpenOutcome::Passes => {
                let plugin = plugin.expect("a passing plugin has Go facts");
                let shared = plugin
                    .package_hashes
                    .iter()
                    .filter(|p| host.package_hash(&p.path).is_some())
                    .count();
                GoCheck {
                    verdict: LoadVerdict::ok(format!(
                        "{} plugin in a {} host; the {shared} packages shared with the host have equal hashes",
                        plugin.version, host.version
                    )),
                    findings: Vec::new(),
                }
            }
            OpenOutcome::NotImplemented => {
                let fix = "build the host for linux, freebsd or darwin with cgo".to_string();
                GoCheck {
                    verdict: LoadVerdict::fail(
                        Outcome::NotImplemented,
                        "plugin: not implemented",
                        "the host's GOOS has no plugin support",
                        fix,
                    ),
                    findings: Vec::new(),
                }
            }
            _ if !is_plugin => not_a_plugin(&shown.to_string(), plugin, error, &prediction.outcome),
            OpenOutcome::AlreadyLoaded => {
                let fix = format!(
                    "load only one build of {} per process, or give each build its own package path",
                    plugin_path(plugin)
                );
                let finding = Finding::new(
                    Code::PluginPathCollision,
                    format!(
                        "{shown}: plugin path {} is already loaded in this process",
                        plugin_path(plugin)
                    ),
                    "Go identifies plugins by plugin path; a second, different file with the same path is refused",
                    fix.clone(),
                );
                GoCheck {
                    verdict: LoadVerdict {
                        outcome: Outcome::AlreadyLoaded,
                        error,
                        package: None,
                        cause: format!(
                            "an earlier plugin in this process has plugin path {}",
                            plugin_path(plugin)
                        ),
                        fix,
                    },
                    findings: vec![finding],
                }
            }
            OpenOutcome::PackageMismatch { package, bound_by } => {
                let plugin = plugin.expect("a mismatching plugin has Go facts");
                let this = Side {
                    facts: plugin,
                    artifact,
                };
                let (cause, fix) = match bound_by.and_then(|i| earlier.get(i)) {
                    None => {
                        let host_side = Side {
                            facts: host,
                            artifact: self.host_artifact,
                        };
                        let cause = mismatch::explain(host_side, "host", this, package);
                        let fix = cause
                            .fix
                            .clone()
                            .unwrap_or_else(|| rebuild_command(host, &name, plugin, artifact));
                        (cause, fix)
                    }
                    Some(first) => self.poisoned(first, this, package),
                };
                let finding = Finding::new(
                    cause.code,
                    format!("{shown}: package {package} differs ({})", cause.summary),
                    format!(
                        "plugin.Open fails: plugin was built with a different version of package {package}"
                    ),
                    fix.clone(),
                );
                GoCheck {
                    verdict: LoadVerdict {
                        outcome: Outcome::PackageMismatch,
                        error,
                        package: Some(package.clone()),
                        cause: cause.summary,
                        fix,
                    },
                    findings: vec![finding],
                }
            }
            OpenOutcome::NotRegistered
            | OpenOutcome::EmptyPluginPath
            | OpenOutcome::Crash
            | OpenOutcome::Unpredictable => {
                let plugin = plugin.expect("checked above");
                let fix = rebuild_command(host, &name, plugin, artifact);
                let same_minor = plugin.minor() == host.minor();
                let code = if same_minor {
                    Code::PackageMismatch
                } else {
                    Code::ToolchainMinorSkew
                };
                let why = match &prediction.outcome {
                    OpenOutcome::Unpredictable => "the host's runtime reads the plugin's module data with a different layout; what it does then cannot be told statically, most likely a crash".to_string(),
                    _ => "the host's runtime reads the plugin's module data with its own layout and aborts; Go returns no error value".to_string(),
                };
                let finding = Finding::new(
                    code,
                    format!(
                        "{shown}: built by {}, host by {}",
                        plugin.version, host.version
                    ),
                    why.clone(),
                    fix.clone(),
                );
                GoCheck {
                    verdict: LoadVerdict {
                        outcome: Outcome::Crash,
                        error,
                        package: None,
                        cause: why,
                        fix,
                    },
                    findings: vec![finding],
                }
            }
        }
    }
}

impl GoHostCheck<'_> {
    /// The package was bound first by an earlier plugin, not by the host: name it, say
    /// why the two plugins differ, and whether this plugin would load on its own.
    fn poisoned(
        &self,
        first: &EarlierPlugin,
        this: Side,
        package: &str,
    ) -> (mismatch::MismatchCause, String) {
        let first_side = Side {
            facts: first.facts,
            artifact: first.artifact,
        };
        let label = format!("earlier plugin {}", first.name);
        let between = mismatch::explain(first_side, &label, this, package);
        let alone = predict_open(self.host, this.facts, &[]).outcome == OpenOutcome::Passes;
        let summary = format!(
            "an earlier plugin in this process, {}, bound package {package} first (the host does not contain it) and its copy differs: {}{}",
            first.name,
            between.summary,
            if alone {
                "; on its own this plugin loads"
            } else {
                ""
            }
        );
        let fix = format!(
            "open only one of {} and this plugin per process, or build both alike ({})",
            first.name,
            between
                .fix
                .clone()
                .unwrap_or_else(|| "same toolchain, flags and module sources".to_string())
        );
        (
            mismatch::MismatchCause {
                code: between.code,
                summary,
                fix: Some(fix.clone()),
            },
            fix,
        )
    }
}

fn plugin_path(plugin: Option<&GoFacts>) -> String {
    plugin
        .and_then(|p| p.plugin_path.clone())
        .unwrap_or_else(|| "(unknown)".into())
}

fn host_label(host: &GoFacts) -> String {
    host.main_path
        .clone()
        .unwrap_or_else(|| "(unknown main package)".into())
}

fn not_a_plugin(
    path: &str,
    plugin: Option<&GoFacts>,
    error: Option<String>,
    outcome: &OpenOutcome,
) -> GoCheck {
    let what = match plugin {
        Some(facts) => format!(
            "a Go {:?} built by {}, not a plugin",
            facts.role, facts.version
        )
        .to_lowercase(),
        None => "not a Go program (no Go build info)".to_string(),
    };
    let fix = "build it with: go build -buildmode=plugin -o NAME.so ./PKG".to_string();
    let finding = Finding::new(
        Code::NotAGoPlugin,
        format!("{path}: {what}"),
        "dlopen succeeds, but no Go module registers with the host's runtime",
        fix.clone(),
    );
    let (result, cause) = match outcome {
        OpenOutcome::AlreadyLoaded => (
            Outcome::AlreadyLoaded,
            format!(
                "{what}; the runtime re-checks the last plugin it loaded and reports it as already loaded"
            ),
        ),
        _ => (
            Outcome::NotAPlugin,
            format!("{what}; the runtime finds no plugin module data and throws"),
        ),
    };
    GoCheck {
        verdict: LoadVerdict {
            outcome: result,
            error,
            package: None,
            cause,
            fix,
        },
        findings: vec![finding],
    }
}

/// The `go build` command line that reproduces the host's toolchain and hash-relevant settings.
/// `plugin`/`artifact` locate the plugin's main package: its directory when the plugin
/// recorded one (built without `-trimpath`), else its import path (which `go build`
/// accepts when run inside the plugin's module).
pub fn rebuild_command(
    host: &GoFacts,
    output: &str,
    plugin: &GoFacts,
    artifact: Option<&Artifact>,
) -> String {
    let mut env = vec![
        format!("GOTOOLCHAIN={}", host.version),
        "CGO_ENABLED=1".to_string(),
    ];
    for key in ["GOAMD64", "GOARM64", "GOEXPERIMENT"] {
        if let Some(value) = host.setting(key) {
            env.push(format!("{key}={value}"));
        }
    }
    let mut flags = vec!["-buildmode=plugin".to_string()];
    for key in ["-trimpath", "-race", "-msan", "-asan"] {
        if host.setting(key) == Some("true") {
            flags.push(key.to_string());
        }
    }
    for key in ["-gcflags", "-tags"] {
        if let Some(value) = host.setting(key) {
            flags.push(format!("{key}={}", shell_quote(value)));
        }
    }
    let package = match mismatch::main_package_dir(plugin, artifact) {
        Some(dir) => shell_quote(&dir.display().to_string()),
        None => match plugin.main_path.as_deref() {
            Some(path) if !path.starts_with("command-line-arguments") => {
                format!(
                    "{} (run in the plugin's module directory)",
                    shell_quote(path)
                )
            }
            _ => "FILES.go (the plugin's source files, as it was built)".to_string(),
        },
    };
    format!(
        "{} go build {} -o {} {package}",
        env.join(" "),
        flags.join(" "),
        shell_quote(output)
    )
}
