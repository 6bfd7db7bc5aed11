//! Findings from a Go binary's own facts (no host needed).

use std::path::Path;

use crate::findings::{Code, Finding};
use crate::golang::{GoFacts, GoRole, InitEnvScan};

pub fn findings(path: &Path, go: &GoFacts) -> Vec<Finding> {
    let path = path.display();
    let mut out = Vec::new();
    let sanitizers: Vec<&str> = ["-race", "-asan", "-msan"]
        .into_iter()
        .filter(|key| go.setting(key) == Some("true"))
        .collect();
    if !sanitizers.is_empty() {
        out.push(Finding::new(
            Code::RaceOrSanitizer,
            format!("{path}: built with {}", sanitizers.join(" ")),
            "every package's hash changes; the host must be built with the same flags",
            format!("build host and plugin with {}", sanitizers.join(" ")),
        ));
    }
    let unnamed_reads = match go.init_env {
        InitEnvScan::Scanned { unnamed_reads, .. } => unnamed_reads,
        InitEnvScan::NotScanned { .. } => 0,
    };
    if go.role == GoRole::Plugin && (!go.init_env_reads.is_empty() || unnamed_reads > 0) {
        let names = if go.init_env_reads.is_empty() {
            "environment variables".to_string()
        } else {
            go.init_env_reads.join(", ")
        };
        out.push(Finding::new(
            Code::InitReadsEnv,
            format!("{path}: package initialisers read {names} (os.Getenv during init)"),
            "they run inside plugin.Open: a host that sets them after plugin.Open leaves the plugin with empty values",
            format!("set {names} before calling plugin.Open, or read them lazily in the plugin's Init"),
        ));
    }
    out
}
