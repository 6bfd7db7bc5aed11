//! Reality through the row's own host program (`loadhost`: plugin.Open + Lookup, or
//! `dlhost`: dlopen): its `OK`/`ERR` lines read, a crash taken from its stderr.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use super::super::builder::Built;
use super::super::claims::{Facts, NOT_RUN};
use super::super::def::{Build, Protocol, Row, Via};
use super::super::results::{Observed, Reality};
use super::rowdir::{apply_env, load_env, plugin_args, strip_dir, timeout_of};
use super::spawn::{Finished, run_with_timeout};

pub(super) fn load_with_host(
    row: &Row,
    dir: &Path,
    host: &Build,
    libs: &BTreeMap<String, Built>,
    key: &str,
) -> Result<Reality> {
    let plugins = plugin_args(row);
    let mut args: Vec<String> = Vec::new();
    if host.protocol == Some(Protocol::Dlhost) && row.load.options.lazy {
        args.push("--lazy".into());
    }
    args.extend(row.load.options.args.iter().cloned());
    args.extend(plugins.iter().cloned());
    let env = load_env(row, dir, libs);
    let mut command = Command::new(dir.join(&host.name));
    command.current_dir(dir).args(&args);
    apply_env(&mut command, &env);
    let finished = run_with_timeout(command, timeout_of(row))?;
    let reported = finished
        .stdout
        .lines()
        .filter(|l| l.starts_with("OK ") || l.starts_with("ERR "))
        .count();
    if finished.code == Some(0) && !finished.timed_out && reported < plugins.len() {
        bail!(
            "./{} exited 0 after reporting {reported} of {} plugins: does it follow the {:?} protocol (`OK <path>` / `ERR <path>: <error>` per plugin)?",
            host.name,
            plugins.len(),
            host.protocol.unwrap_or(Protocol::Loadhost)
        );
    }
    let observed = parse_host_output(&finished, row, &plugins, dir);
    let shown_env: Vec<String> = env
        .iter()
        .map(|(k, v)| {
            if k == "LD_LIBRARY_PATH" {
                format!("{k}=<{}>", row.load.options.ld_library_path.join(":"))
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    Ok(Reality {
        via: Via::Host,
        key: key.to_string(),
        command: shown_env
            .into_iter()
            .chain(std::iter::once(format!("./{}", host.name)))
            .chain(args)
            .collect::<Vec<_>>()
            .join(" "),
        facts: Facts {
            outcome: observed.iter().map(|o| o.outcome.clone()).collect(),
            ..Default::default()
        },
        plugins: observed,
        exit: finished.code,
        signal: finished.signal,
        timed_out: finished.timed_out,
        stderr_head: finished
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(6)
            .map(str::to_string)
            .collect(),
        notes: Vec::new(),
        seconds: finished.seconds,
        cached: false,
    })
}

/// `OK <path>` / `ERR <path>: <error>` per plugin; a plugin after the last line crashed
/// the host; later ones never ran.
fn parse_host_output(f: &Finished, row: &Row, plugins: &[String], dir: &Path) -> Vec<Observed> {
    let mut out: Vec<Observed> = Vec::new();
    for line in f.stdout.lines() {
        let Some(path) = plugins.get(out.len()) else {
            break;
        };
        let name = row.plugins[out.len()].name.clone();
        if line.strip_prefix("OK ").is_some() {
            out.push(Observed {
                name,
                outcome: "ok".into(),
                error: None,
                cause: None,
            });
        } else if let Some(rest) = line.strip_prefix("ERR ") {
            let error = rest
                .strip_prefix(&format!("{path}: "))
                .unwrap_or(rest)
                .to_string();
            let outcome = classify(&error, &dir.join(path));
            out.push(Observed {
                name,
                outcome,
                error: Some(strip_dir(&error, dir)),
                cause: None,
            });
        }
    }
    if out.len() < plugins.len() {
        let first = f.stderr.lines().find(|l| !l.trim().is_empty());
        let crash = match (first, f.signal) {
            (Some(line), _) => strip_dir(line, dir),
            (None, Some(7)) => "Bus error".into(),
            (None, Some(11)) => "Segmentation fault".into(),
            (None, signal) if f.timed_out => format!("timed out (killed, signal {signal:?})"),
            (None, signal) => format!("exit {:?}, signal {signal:?}, no output", f.code),
        };
        let name = row.plugins[out.len()].name.clone();
        out.push(Observed {
            name,
            outcome: "crash".into(),
            error: Some(crash),
            cause: None,
        });
        while out.len() < plugins.len() {
            let name = row.plugins[out.len()].name.clone();
            out.push(Observed {
                name,
                outcome: NOT_RUN.into(),
                error: None,
                cause: None,
            });
        }
    }
    out
}

/// The outcome a real error message shows (reality is read from what the loaders print,
/// never from plugctl's prediction).
pub fn classify(error: &str, path: &Path) -> String {
    let e = error.trim_end_matches(" (previous failure)");
    let outcome = if e.contains("plugin was built with a different version of package") {
        "package-mismatch"
    } else if e.ends_with("plugin: not implemented") {
        "not-implemented"
    } else if e.ends_with("plugin already loaded") {
        "already-loaded"
    } else if e.contains("cannot allocate memory in static TLS block") {
        "static-tls"
    } else if e.contains("wrong ELF class") {
        "wrong-class"
    } else if e.contains("invalid ELF header") && e.contains("/libc.so") {
        "wrong-libc"
    } else if e.contains("invalid ELF header") || e.contains("file too short") {
        "not-elf"
    } else if e.contains("version `") && e.contains("not found") {
        "version-not-found"
    } else if e.contains("undefined symbol:") {
        "undefined-symbol"
    } else if e.contains("cannot open shared object file") {
        // glibc says "No such file" for the object itself when it is for another machine.
        let names_itself = e
            .rsplit_once(": cannot open shared object file")
            .map(|(head, _)| head.rsplit(": ").next().unwrap_or(head))
            .is_some_and(|named| path.ends_with(named) || Path::new(named) == path);
        if names_itself && path.is_file() {
            foreign_machine(path)
        } else {
            "missing-library"
        }
    } else if e.contains("cannot read file data") {
        "truncated"
    } else {
        "error"
    };
    outcome.to_string()
}

fn foreign_machine(path: &Path) -> &'static str {
    let mut head = [0u8; 20];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok();
    if !ok || &head[..4] != b"\x7fELF" {
        return "missing-library";
    }
    let machine = u16::from_le_bytes([head[18], head[19]]);
    let here: u16 = match std::env::consts::ARCH {
        "x86_64" => 62,
        "aarch64" => 183,
        _ => return "missing-library",
    };
    if machine != here {
        "wrong-machine"
    } else {
        "missing-library"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_errors_are_classified_from_their_text() {
        let p = Path::new("/nonexistent/plugins/x.so");
        let c = |e: &str| classify(e, p);
        assert_eq!(
            c(
                "plugin.Open(\"plugins/x\"): plugin was built with a different version of package internal/goarch"
            ),
            "package-mismatch"
        );
        assert_eq!(c("plugin: not implemented"), "not-implemented");
        assert_eq!(
            c("plugin.Open(\"plugins/x\"): plugin already loaded"),
            "already-loaded"
        );
        assert_eq!(
            c(
                "plugin.Open(\"plugins/x.so\"): libfixssl.so.3: cannot open shared object file: No such file or directory"
            ),
            "missing-library"
        );
        assert_eq!(
            c("plugin.Open(\"plugins/x.so\"): /lib/x86_64-linux-gnu/libc.so: invalid ELF header"),
            "wrong-libc"
        );
        assert_eq!(
            c("plugins/libtls_7.so: cannot allocate memory in static TLS block"),
            "static-tls"
        );
        assert_eq!(c("something else"), "error");
    }

    #[test]
    fn a_foreign_object_named_by_glibc_is_a_wrong_machine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugins/a.so");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[18..20].copy_from_slice(&183u16.to_le_bytes());
        std::fs::write(&path, &elf).unwrap();
        let e = "plugin.Open(\"plugins/a.so\"): plugins/a.so: cannot open shared object file: No such file or directory";
        let want = if std::env::consts::ARCH == "x86_64" {
            "wrong-machine"
        } else {
            "missing-library"
        };
        assert_eq!(classify(e, &path), want);
    }
}
