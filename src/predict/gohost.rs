//! Go's own checks in `plugin.Open`, turned into a verdict with a cause and a fix.
//!
//! `golang::predict_open` simulates the host runtime (`plugin_lastmoduleinit`) on static
//! facts; this module says what that means for the user: the exact error Go prints
//! (`plugin.Open("NAME"): …`, NAME without a trailing `.so` once dlopen succeeded), why
//! (build info diffs), and the command that fixes it.

use std::path::Path;

use crate::elf::Artifact;
use crate::findings::{Code, Finding};
use crate::golang::{GoFacts, GoRole, OpenOutcome, OpenPrediction, open_error};
use crate::verdict::{LoadVerdict, Outcome};

pub struct GoCheck {
    pub verdict: LoadVerdict,
    pub findings: Vec<Finding>,
}

pub struct GoHostCheck<'h> {
    host: &'h GoFacts,
}

impl<'h> GoHostCheck<'h> {
    pub fn new(host: &'h GoFacts) -> Self {
        GoHostCheck { host }
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
        _artifact: Option<&Artifact>,
        plugin: Option<&GoFacts>,
        prediction: &OpenPrediction,
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
            OpenOutcome::PackageMismatch { package } => {
                let plugin = plugin.expect("a mismatching plugin has Go facts");
                let cause = explain_mismatch(host, plugin, package);
                let fix = cause
                    .fix
                    .clone()
                    .unwrap_or_else(|| rebuild_command(host, &name));
                let finding = Finding::new(
                    cause.code,
                    format!(
                        "{shown}: package {package} differs from the host's ({})",
                        cause.summary
                    ),
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
                let fix = rebuild_command(host, &name);
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

struct MismatchCause {
    code: Code,
    summary: String,
    fix: Option<String>,
}

/// Settings that change the compiled form (and so the hash) of every package.
const HASH_SETTINGS: &[&str] = &[
    "-trimpath",
    "-race",
    "-msan",
    "-asan",
    "-gcflags",
    "GOEXPERIMENT",
    "-cover",
];

fn explain_mismatch(host: &GoFacts, plugin: &GoFacts, package: &str) -> MismatchCause {
    if host.version != plugin.version {
        return MismatchCause {
            code: Code::ToolchainPatchSkew,
            summary: format!("toolchain {} vs host's {}", plugin.version, host.version),
            fix: None,
        };
    }
    let differing: Vec<String> = HASH_SETTINGS
        .iter()
        .filter(|key| host.setting(key) != plugin.setting(key))
        .map(|key| {
            format!(
                "{key}: plugin {}, host {}",
                plugin.setting(key).unwrap_or("unset"),
                host.setting(key).unwrap_or("unset")
            )
        })
        .collect();
    if !differing.is_empty() {
        return MismatchCause {
            code: Code::BuildSettingSkew,
            summary: differing.join(", "),
            fix: None,
        };
    }
    if let Some(module_diff) = module_difference(host, plugin, package) {
        return MismatchCause {
            code: Code::ModuleSkew,
            summary: module_diff.0,
            fix: Some(module_diff.1),
        };
    }
    MismatchCause {
        code: Code::PackageMismatch,
        summary: "same toolchain, settings and module versions in build info; the package's source differs (e.g. a replaced module at v0.0.0 or a local edit)".into(),
        fix: None,
    }
}

/// The module (longest path prefix) that provides `package` in both builds, if its
/// version, sum or replacement differ.
fn module_difference(host: &GoFacts, plugin: &GoFacts, package: &str) -> Option<(String, String)> {
    let owner = |facts: &GoFacts| {
        facts
            .deps
            .iter()
            .filter(|m| package == m.path || package.starts_with(&format!("{}/", m.path)))
            .max_by_key(|m| m.path.len())
            .cloned()
    };
    let (h, p) = (owner(host)?, owner(plugin)?);
    let describe = |m: &crate::golang::Module| {
        let mut text = format!("{}@{}", m.path, m.version);
        if let Some(r) = &m.replace {
            text.push_str(&format!(" => {} {}", r.path, r.version));
        }
        text
    };
    let (hd, pd) = (describe(&h), describe(&p));
    if hd != pd
        || h.sum != p.sum
        || h.replace.as_ref().map(|r| &r.sum) != p.replace.as_ref().map(|r| &r.sum)
    {
        let fix = match &h.replace {
            Some(r) => format!(
                "go mod edit -replace={}={}@{} (the host's replacement), then rebuild",
                h.path, r.path, r.version
            ),
            None => format!(
                "go mod edit -require={}@{} && go mod tidy, then rebuild the plugin",
                h.path, h.version
            ),
        };
        return Some((format!("module {pd} in the plugin, {hd} in the host"), fix));
    }
    if h.replace.is_some() {
        return Some((
            format!(
                "module {hd} is replaced in both builds; its source differs (build info cannot show local replacements' content)"
            ),
            format!(
                "point the plugin's replace of {} at exactly the host's source",
                h.path
            ),
        ));
    }
    None
}

/// The `go build` command line that reproduces the host's toolchain and hash-relevant settings.
pub fn rebuild_command(host: &GoFacts, output: &str) -> String {
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
    format!(
        "{} go build {} -o {} ./PLUGIN_PKG",
        env.join(" "),
        flags.join(" "),
        shell_quote(output)
    )
}

fn shell_quote(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_only_when_needed() {
        assert_eq!(shell_quote("all=-N -l"), "'all=-N -l'");
        assert_eq!(shell_quote("netgo,osusergo"), "netgo,osusergo");
    }
}
