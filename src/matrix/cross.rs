//! Cross-architecture rows: a build's `goarch` becomes the environment a cgo cross build
//! needs here, and a host built for another architecture runs under qemu-user (its
//! prediction then gets the target's root file system as `--sysroot`) or natively when
//! this machine's kernel runs it (i386 on x86-64).
//!
//! | `goarch` on x86-64 | build environment | host runs as |
//! |---|---|---|
//! | `amd64` | `GOARCH=amd64` | `./host` |
//! | `386` | `GOARCH=386 CC="gcc -m32" CGO_CFLAGS=-I/usr/include/x86_64-linux-gnu` | `./host` (native) |
//! | `arm64` | `GOARCH=arm64 CC=aarch64-linux-gnu-gcc` | `qemu-aarch64-static -L /usr/aarch64-linux-gnu ./host` |
//! | `arm`, `ppc64le`, `s390x`, `riscv64` | `GOARCH=<goarch> CC=<triplet>-gcc` (Debian's cross gcc) | `qemu-<arch>-static -L /usr/<triplet> ./host` |
//!
//! The fixture corpus builds and runs Go hosts and plugins of every foreign row with
//! these environments and runners (`tests/predictions_cross.rs`).
//!
//! Debian 12's `gcc-multilib` conflicts with the cross compilers, so `gcc -m32` finds
//! `asm/errno.h` only through the x86-64 include directory (`CGO_CFLAGS`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use super::def::Build;
use crate::elf::arch::{self, Arch};
use crate::gobuild::mirror::{cross_compiler, machine_goarch};

/// The environment of a Go build for `goarch` on this machine (the row's own `env` is
/// applied over it).
pub fn build_env(goarch: &str) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::from([("GOARCH".to_string(), goarch.to_string())]);
    if goarch == machine_goarch() {
        return Ok(env);
    }
    if goarch == "386" && machine_goarch() == "amd64" {
        env.insert("CC".into(), "gcc -m32".into());
        env.insert(
            "CGO_CFLAGS".into(),
            "-I/usr/include/x86_64-linux-gnu".into(),
        );
        return Ok(env);
    }
    let Some((cc, _package)) = cross_compiler(goarch) else {
        bail!("goarch `{goarch}`: no known C cross compiler (plugins need cgo); set env CC");
    };
    env.insert("CC".into(), cc.into());
    Ok(env)
}

/// How this machine runs a program of architecture `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    /// Arguments before the program (`qemu-aarch64-static -L /usr/aarch64-linux-gnu`);
    /// empty: run it directly.
    pub prefix: Vec<String>,
    /// The target's root file system, for the prediction's `--sysroot`.
    pub sysroot: Option<PathBuf>,
}

/// qemu-user's name for an architecture.
fn qemu_name(a: &Arch) -> &'static str {
    match a.goarch {
        "arm64" => "aarch64",
        "386" => "i386",
        "amd64" => "x86_64",
        "ppc64le" => "ppc64le",
        other => other,
    }
}

/// Whether this machine's kernel runs `target` programs itself.
fn runs_natively(target: &Arch, here: &Arch) -> bool {
    target.name == here.name || (target.name == arch::I386.name && here.name == arch::X86_64.name)
}

/// The runner for a program of `target` on a machine of `here`.
pub fn runner_for(target: &Arch, here: &Arch) -> Runner {
    if runs_natively(target, here) {
        return Runner {
            prefix: Vec::new(),
            sysroot: None,
        };
    }
    let sysroot = PathBuf::from(format!("/usr/{}", target.triplet));
    Runner {
        prefix: vec![
            format!("qemu-{}-static", qemu_name(target)),
            "-L".into(),
            sysroot.display().to_string(),
        ],
        sysroot: Some(sysroot),
    }
}

/// The runner for the built host at `path` (its ELF header decides); a file that is not
/// a modelled ELF program runs directly.
pub fn runner_of_file(path: &Path) -> Runner {
    match Arch::of_file(path) {
        Some(target) => runner_for(target, Arch::native()),
        None => Runner {
            prefix: Vec::new(),
            sysroot: None,
        },
    }
}

/// The architecture a build targets: Go's `GOARCH`, or a C cross compiler's triplet
/// (`aarch64-linux-gnu-gcc`); `None`: this machine's.
pub fn target_of(b: &Build) -> Option<&'static Arch> {
    if let Some(goarch) = b.env.get("GOARCH") {
        return arch::ALL.iter().copied().find(|a| a.goarch == goarch);
    }
    let cc = b.cc.as_deref()?;
    arch::ALL
        .iter()
        .copied()
        .find(|a| cc.starts_with(&format!("{}-", a.triplet)))
}

/// The program a host build needs on PATH to run here (qemu-user), if any.
pub fn run_needs(b: &Build) -> Option<String> {
    let target = target_of(b)?;
    runner_for(target, Arch::native()).prefix.first().cloned()
}

/// The command that runs `program` here, and how to show it (`./NAME` after the prefix).
pub fn host_command(program: &Path, runner: &Runner) -> (Command, String) {
    let name = program
        .file_name()
        .map(|n| format!("./{}", n.to_string_lossy()))
        .unwrap_or_default();
    match runner.prefix.split_first() {
        None => (Command::new(program), name),
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            (c, format!("{} {name}", runner.prefix.join(" ")))
        }
    }
}

/// `plugctl inspect` arguments the prediction needs for a host run by `runner`.
pub fn predict_args(runner: &Runner) -> Vec<String> {
    match &runner.sysroot {
        Some(root) => vec!["--sysroot".into(), root.display().to_string()],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goarch_gives_the_cross_build_environment() {
        if machine_goarch() != "amd64" {
            eprintln!("skipped: the table is for an x86-64 machine");
            return;
        }
        let env = build_env("386").unwrap();
        assert_eq!(env["CC"], "gcc -m32");
        assert_eq!(env["CGO_CFLAGS"], "-I/usr/include/x86_64-linux-gnu");
        assert_eq!(build_env("arm64").unwrap()["CC"], "aarch64-linux-gnu-gcc");
        for target in [&arch::ARM_HF, &arch::PPC64LE, &arch::S390X, &arch::RISCV64] {
            let env = build_env(target.goarch).unwrap();
            assert_eq!(env["CC"], format!("{}-gcc", target.triplet));
        }
        assert_eq!(build_env("amd64").unwrap().len(), 1);
        assert!(build_env("sparc64").is_err());
    }

    #[test]
    fn foreign_hosts_run_under_qemu_with_their_sysroot() {
        let arm = runner_for(&arch::AARCH64, &arch::X86_64);
        assert_eq!(
            arm.prefix,
            ["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"]
        );
        assert_eq!(predict_args(&arm), ["--sysroot", "/usr/aarch64-linux-gnu"]);
        let i386 = runner_for(&arch::I386, &arch::X86_64);
        assert!(i386.prefix.is_empty() && predict_args(&i386).is_empty());
        assert!(runner_for(&arch::AARCH64, &arch::AARCH64).prefix.is_empty());
        assert_eq!(
            runner_for(&arch::X86_64, &arch::AARCH64).prefix[0],
            "qemu-x86_64-static"
        );
        let (c, shown) = host_command(Path::new("/d/loadhost"), &arm);
        assert_eq!(c.get_program(), "qemu-aarch64-static");
        assert_eq!(
            shown,
            "qemu-aarch64-static -L /usr/aarch64-linux-gnu ./loadhost"
        );
        for target in [&arch::ARM_HF, &arch::PPC64LE, &arch::S390X, &arch::RISCV64] {
            let sysroot = format!("/usr/{}", target.triplet);
            let runner = runner_for(target, &arch::X86_64);
            let qemu = format!("qemu-{}-static", target.name);
            assert_eq!(runner.prefix, [qemu.as_str(), "-L", &sysroot]);
            assert_eq!(predict_args(&runner), ["--sysroot", &sysroot]);
        }
    }

    #[test]
    fn goarch_in_a_definition_sets_the_environment_and_what_the_row_needs() {
        if machine_goarch() != "amd64" {
            eprintln!("skipped: the table is for an x86-64 machine");
            return;
        }
        let text = r#"
schema = 1
go = "1.26.6"
sources = "src"
claim = [{ id = "c", text = "t", source = "s" }]
[[row]]
id = "arm64"
title = "t"
claim = "c"
host = { kind = "go-host", dir = "loadhost", protocol = "loadhost", goarch = "arm64" }
plugins = [{ kind = "go-plugin", dir = "greeter", goarch = "386", env = { CC = "clang -m32" } }]
says = "ok"
"#;
        let def = super::super::Definition::parse(text, Path::new("/m"), "t").unwrap();
        let (rows, _) = def.expand(&Default::default()).unwrap();
        let row = &rows[0];
        let host = row.host.as_ref().unwrap();
        assert_eq!(host.env["GOARCH"], "arm64");
        assert_eq!(target_of(host).unwrap().name, "aarch64");
        // The row's own env wins over the goarch defaults.
        assert_eq!(row.plugins[0].env["CC"], "clang -m32");
        assert_eq!(row.plugins[0].env["GOARCH"], "386");
        assert!(row.needs.contains(&"qemu-aarch64-static".to_string()));
        assert!(row.needs.contains(&"clang".to_string()), "{:?}", row.needs);
        let c = text.replace(
            r#"plugins = [{ kind = "go-plugin""#,
            r#"plugins = [{ kind = "c-shared", files = ["c/simple.c"], goarch = "arm64" }, { kind = "go-plugin""#,
        );
        let err = format!(
            "{:#}",
            super::super::Definition::parse(&c, Path::new("/m"), "t").unwrap_err()
        );
        assert!(err.contains("`goarch` is for Go builds"), "{err}");
    }
}
