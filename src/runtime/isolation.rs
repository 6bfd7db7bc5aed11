//! What the sandbox stage reported about isolation (the `sandbox` event: its probe, rlimits,
//! seccomp), and the claims plugctl derives from it and from its own side of the wall
//! (`runs[].isolation` in the JSON output).

use serde::{Deserialize, Serialize};

use super::cgroup::Group;
use super::child::Launch;
use super::probe::{self, Probe};

/// What the sandbox stage did (`sandbox` event: network, file system, rlimits, cgroups,
/// seccomp), and the claims plugctl derives from its probe (`runs[].isolation` in the
/// JSON output). The derived fields are not read from the line: plugctl fills them in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Isolation {
    #[serde(skip_deserializing, default = "sandbox_tag")]
    pub ev: &'static str,
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub workdir: String,
    /// Names of the variables the target is given.
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub rlimits: Vec<String>,
    /// How the seccomp filter was installed.
    #[serde(default)]
    pub seccomp: Option<String>,
    pub probe: Probe,
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(skip_deserializing)]
    pub backend: String,
    #[serde(skip_deserializing)]
    pub loopback_listener_connections: usize,
    #[serde(skip_deserializing)]
    pub network_isolated: bool,
    #[serde(skip_deserializing)]
    pub readonly: bool,
    #[serde(skip_deserializing)]
    pub pid_isolated: bool,
    #[serde(skip_deserializing)]
    pub env_isolated: bool,
    /// Names of plugctl's variables whose value the target could read.
    #[serde(skip_deserializing)]
    pub parent_env_seen: Vec<String>,
    #[serde(skip_deserializing)]
    pub cgroup_locked: bool,
    #[serde(skip_deserializing)]
    pub privileges_dropped: bool,
    #[serde(skip_deserializing)]
    pub escapes_blocked: bool,
    #[serde(skip_deserializing)]
    pub cgroups: Vec<String>,
    #[serde(skip_deserializing)]
    pub network: String,
    #[serde(skip_deserializing)]
    pub filesystem: String,
    #[serde(skip_deserializing)]
    pub namespaces_shared: String,
}

fn sandbox_tag() -> &'static str {
    "sandbox"
}

impl Isolation {
    /// Derives the summary claims from the probe (and plugctl's listener).
    pub(super) fn finish(
        &mut self,
        connections: usize,
        backend: &str,
        launch: &Launch,
        group: Option<&Group>,
    ) {
        let p = &self.probe;
        let net_ok = !p.network_connect && connections == 0;
        // Variables of plugctl's whose very value the child could read somewhere in /proc.
        let seen: Vec<String> = p
            .parent_env_candidates
            .iter()
            .filter(|(name, fp)| {
                std::env::var_os(name.as_str()).is_some_and(|v| {
                    let mut entry = name.as_bytes().to_vec();
                    entry.push(b'=');
                    entry.extend_from_slice(v.as_encoded_bytes());
                    **fp == probe::fingerprint(&entry)
                })
            })
            .map(|(n, _)| n.clone())
            .collect();
        let ifaces = p.interfaces.join(" ");
        let network = if !launch.isolate_network {
            format!("host network (--network host): {}", p.loopback)
        } else if net_ok {
            format!(
                "new network namespace (verified inside: interfaces [{ifaces}], {}; plugctl's listener got {connections} connection(s))",
                p.loopback
            )
        } else {
            format!(
                "NOT isolated: {}; plugctl's listener got {connections} connection(s)",
                p.loopback
            )
        };
        let filesystem = if p.readonly {
            format!(
                "read-only (verified inside: create in / {}, remount / rw {}, mount tmpfs {}); writable: the working directory only",
                p.write_root, p.remount_root_rw, p.mount_tmpfs
            )
        } else if !launch.readonly {
            "host file system writable (--writable)".to_string()
        } else {
            format!(
                "NOT read-only: create in / {}, remount / rw {}, writable next to inputs: {}",
                p.write_root,
                p.remount_root_rw,
                serde_json::to_string(&p.inputs_writable).unwrap_or_default()
            )
        };
        *self = Isolation {
            backend: backend.to_string(),
            loopback_listener_connections: connections,
            network_isolated: net_ok,
            readonly: p.readonly,
            pid_isolated: p.pid_isolated,
            env_isolated: seen.is_empty(),
            parent_env_seen: seen,
            cgroup_locked: p.cgroup_locked,
            privileges_dropped: p.privileges_dropped && p.no_new_privs,
            escapes_blocked: p.escapes_blocked,
            cgroups: group.map(|g| g.paths()).unwrap_or_default(),
            network,
            filesystem,
            namespaces_shared: p.namespaces_shared_with_plugctl.join(", "),
            ..self.clone()
        };
    }
}
