//! Running the chosen `go` with an environment that decides the build, not the caller's
//! shell: `GOTOOLCHAIN=local` (nothing switches), `GOFLAGS=-mod=mod`, `GOWORK=off`, no
//! inherited `GOROOT`, `GOOS`, `GOARCH`, `GOAMD64`, `GOEXPERIMENT`, `CGO_ENABLED`,
//! `GOFLAGS`; the caller's network and cache settings (`GOPROXY`, `GOPRIVATE`,
//! `GOMODCACHE`, `GOCACHE`, ...) and C compiler (`CC`, `CGO_CFLAGS`, ...) are kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};

use crate::shell::shell_quote;
use crate::toolchain::{self, Toolchain};

/// Inherited variables that are kept (the rest of `GO*` is dropped).
const KEEP: &[&str] = &[
    "GOPATH",
    "GOMODCACHE",
    "GOPROXY",
    "GONOPROXY",
    "GOPRIVATE",
    "GONOSUMDB",
    "GONOSUMCHECK",
    "GOSUMDB",
    "GOINSECURE",
    "GOVCS",
    "GOAUTH",
    "GOCACHE",
    "GOCACHEPROG",
    "GOTMPDIR",
    "GOENV",
    "GOTELEMETRY",
    "GOTELEMETRYDIR",
];

/// A toolchain and the environment every `go` command of one build gets.
#[derive(Debug, Clone)]
pub struct GoEnv {
    pub toolchain: Toolchain,
    /// Set on every command, over the inherited environment.
    pub env: BTreeMap<String, String>,
}

impl GoEnv {
    pub fn new(toolchain: Toolchain, target_env: &BTreeMap<String, String>) -> GoEnv {
        let mut env = BTreeMap::new();
        env.insert("GOTOOLCHAIN".to_string(), "local".to_string());
        env.insert("GOFLAGS".to_string(), "-mod=mod".to_string());
        env.insert("GOWORK".to_string(), "off".to_string());
        env.insert("GO111MODULE".to_string(), "on".to_string());
        if std::env::var_os("GOCACHE").is_none_or(|v| v.is_empty()) {
            env.insert(
                "GOCACHE".to_string(),
                toolchain::cache_dir().join("gocache").display().to_string(),
            );
        }
        env.extend(target_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        GoEnv { toolchain, env }
    }

    /// The environment as the build will see it: what plugctl sets, for the manifest.
    pub fn effective(&self, key: &str) -> Option<String> {
        self.env
            .get(key)
            .cloned()
            .or_else(|| std::env::var(key).ok())
    }

    /// `go ARGS` in `dir`, with the build's environment.
    pub fn command(&self, dir: &Path, args: &[String]) -> Command {
        let mut command = self.toolchain.command();
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            let go_var = key.starts_with("GO") || key.starts_with("CGO_ENABLED");
            if go_var && !KEEP.contains(&key.as_ref()) {
                command.env_remove(key.as_ref());
            }
        }
        command.envs(&self.env).args(args).current_dir(dir);
        command
    }

    /// Runs `go ARGS` and returns stdout; an error carries the command and its stderr.
    pub fn output(&self, dir: &Path, args: &[String]) -> Result<String> {
        let output = self.run(dir, args)?;
        if !output.status.success() {
            bail!("{}", failure_text(&self.display(args), &output));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    pub fn run(&self, dir: &Path, args: &[String]) -> Result<Output> {
        self.command(dir, args)
            .output()
            .with_context(|| format!("running {} in {}", self.display(args), dir.display()))
    }

    /// `go env KEY` with the build's environment.
    pub fn go_env(&self, dir: &Path, key: &str) -> Result<String> {
        Ok(self
            .output(dir, &["env".into(), key.into()])?
            .trim()
            .to_string())
    }

    /// The command line as a shell would show it.
    pub fn display(&self, args: &[String]) -> String {
        let mut words = vec!["go".to_string()];
        words.extend(args.iter().map(|a| shell_quote(a)));
        words.join(" ")
    }

    /// The `go` binary's directory's GOROOT.
    pub fn goroot(&self) -> Option<PathBuf> {
        self.toolchain.go.parent()?.parent().map(Path::to_path_buf)
    }
}

/// The error text for a failed command: the command, the exit, the last lines of stderr.
pub fn failure_text(command: &str, output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(20)..];
    let status = match output.status.code() {
        Some(code) => format!("exit {code}"),
        None => "killed by a signal".to_string(),
    };
    format!("`{command}` failed ({status}):\n  {}", tail.join("\n  "))
}
