//! `--sandbox gvisor`: gVisor's `runsc` runs the child on its own user-space kernel, with
//! the same [`View`] as the native backend, written as an OCI bundle (read-only root,
//! read-only binds, the writable working directory, no capabilities, no new privileges,
//! new PID/network/IPC/UTS/mount namespaces). runsc keeps its state and bundle in a
//! control directory outside the child's view (the old failure was runsc wanting
//! `/tmp/runsc-*` inside a read-only view). runsc passes no file descriptors, so the
//! stage's spec and reports travel through files of that directory (`--files`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::view::{EXE_INSIDE, View};

const NOBODY: u32 = 65534;

/// Where the control files appear inside the sandbox.
pub const CONTROL_INSIDE: &str = "/run/plugctl-control";

pub fn find() -> Result<PathBuf> {
    which::which("runsc").map_err(|_| {
        anyhow::anyhow!(
            "--sandbox gvisor: gVisor is unavailable (no `runsc` on PATH); install gVisor (Debian: apt-get install runsc) or use --sandbox native"
        )
    })
}

/// The part of an OCI bundle's `config.json` plugctl writes (runtime-spec 1.0).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    oci_version: &'static str,
    process: Process,
    root: Root,
    hostname: &'static str,
    mounts: Vec<Mount>,
    linux: Linux,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Process {
    user: User,
    args: Vec<String>,
    env: Vec<String>,
    cwd: PathBuf,
    capabilities: Capabilities,
    no_new_privileges: bool,
}

#[derive(Serialize)]
struct User {
    uid: u32,
    gid: u32,
}

/// Every set empty: the child holds no capability.
#[derive(Serialize, Default)]
struct Capabilities {
    bounding: [String; 0],
    effective: [String; 0],
    inheritable: [String; 0],
    permitted: [String; 0],
    ambient: [String; 0],
}

#[derive(Serialize)]
struct Root {
    path: PathBuf,
    readonly: bool,
}

#[derive(Serialize)]
struct Mount {
    destination: String,
    #[serde(rename = "type")]
    kind: &'static str,
    source: PathBuf,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    options: Vec<&'static str>,
}

#[derive(Serialize)]
struct Linux {
    namespaces: Vec<Namespace>,
}

#[derive(Serialize)]
struct Namespace {
    #[serde(rename = "type")]
    kind: &'static str,
}

fn bind(source: &Path, dest: &str, rw: bool) -> Mount {
    Mount {
        destination: dest.to_string(),
        kind: "bind",
        source: source.to_path_buf(),
        options: vec!["rbind", if rw { "rw" } else { "ro" }],
    }
}

/// Writes the bundle under `control` and returns runsc's command line.
pub fn prepare(
    runsc: &Path,
    view: &View,
    control: &Path,
    io: &Path,
    id: &str,
) -> Result<Vec<String>> {
    let rootfs = control.join("rootfs");
    let state = control.join("state");
    for d in [&rootfs, &state] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut mounts = vec![
        Mount {
            destination: "/proc".into(),
            kind: "proc",
            source: "proc".into(),
            options: Vec::new(),
        },
        Mount {
            destination: "/dev".into(),
            kind: "tmpfs",
            source: "tmpfs".into(),
            options: vec!["nosuid", "mode=755"],
        },
    ];
    if view.writable_root {
        mounts.push(bind(Path::new("/"), "/", true));
    } else {
        for (link, target) in &view.symlinks {
            let at = rootfs.join(link.strip_prefix("/").unwrap_or(link));
            let _ = std::os::unix::fs::symlink(target, at);
        }
        for p in &view.read_only {
            // Mount points must exist in the read-only root.
            let at = rootfs.join(p.strip_prefix("/").unwrap_or(p));
            if p.is_dir() {
                let _ = std::fs::create_dir_all(&at);
            } else if let Some(parent) = at.parent() {
                let _ = std::fs::create_dir_all(parent);
                let _ = std::fs::File::create(&at);
            }
            mounts.push(bind(p, &p.display().to_string(), false));
        }
        let exe_at = rootfs.join(EXE_INSIDE.trim_start_matches('/'));
        std::fs::create_dir_all(exe_at.parent().expect("has a parent"))?;
        std::fs::File::create(&exe_at)?;
        mounts.push(bind(&view.exe, EXE_INSIDE, false));
    }
    for (dir, inside) in [
        (&view.workdir, view.workdir.display().to_string()),
        (&io.to_path_buf(), CONTROL_INSIDE.to_string()),
    ] {
        let _ = std::fs::create_dir_all(rootfs.join(inside.trim_start_matches('/')));
        mounts.push(bind(dir, &inside, true));
    }
    let mut namespaces: Vec<Namespace> = ["pid", "ipc", "uts", "mount"]
        .into_iter()
        .map(|kind| Namespace { kind })
        .collect();
    if !view.host_network {
        namespaces.push(Namespace { kind: "network" });
    }
    // Rootless runsc maps the sandbox's uid 0 to the invoking user. Run by root, the
    // child gets `nobody` in gVisor's kernel (root is exempt from RLIMIT_NPROC), and owns
    // its working and control directories.
    // SAFETY: getuid has no effects.
    let rootless = unsafe { libc::getuid() } != 0;
    let sandbox_uid: u32 = if rootless { 0 } else { NOBODY };
    if !rootless {
        for d in [&view.workdir, &io.to_path_buf()] {
            std::os::unix::fs::chown(d, Some(NOBODY), Some(NOBODY))
                .with_context(|| format!("chown {}", d.display()))?;
        }
    }
    let exe = if view.writable_root {
        view.exe.display().to_string()
    } else {
        EXE_INSIDE.to_string()
    };
    let config = Config {
        oci_version: "1.0.0",
        process: Process {
            user: User {
                uid: sandbox_uid,
                gid: sandbox_uid,
            },
            args: vec![
                exe,
                "__sandbox".into(),
                "--files".into(),
                CONTROL_INSIDE.into(),
            ],
            env: Vec::new(),
            cwd: view.workdir.clone(),
            capabilities: Capabilities::default(),
            no_new_privileges: true,
        },
        root: Root {
            path: rootfs.clone(),
            readonly: !view.writable_root,
        },
        hostname: "plugctl",
        mounts,
        linux: Linux { namespaces },
    };
    std::fs::write(
        control.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )
    .context("writing the OCI bundle")?;
    let mut argv = vec![
        runsc.display().to_string(),
        format!("--root={}", state.display()),
        format!(
            "--network={}",
            if view.host_network { "host" } else { "none" }
        ),
        // plugctl has already put runsc and everything it starts in the load's cgroups.
        "--ignore-cgroups".into(),
    ];
    if rootless {
        argv.push("--rootless".into());
    }
    argv.extend([
        "run".into(),
        "--bundle".into(),
        control.display().to_string(),
        id.to_string(),
    ]);
    Ok(argv)
}

/// Stops whatever is left of the container and deletes its state.
pub fn destroy(runsc: &Path, control: &Path, id: &str) {
    let state = format!("--root={}", control.join("state").display());
    for args in [
        vec![state.as_str(), "kill", "--all", id, "KILL"],
        vec![state.as_str(), "delete", "--force", id],
    ] {
        let _ = std::process::Command::new(runsc)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// `runsc version 0.0~20221219.0`, for the report.
pub fn version(runsc: &Path) -> String {
    // Asked once per plugctl process (every child reports it).
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            std::process::Command::new(runsc)
                .arg("--version")
                .output()
                .ok()
                .and_then(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "runsc".into())
        })
        .clone()
}
