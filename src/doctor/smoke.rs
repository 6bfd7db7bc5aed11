//! The smoke test: build a tiny plugin and a host that opens it with the default
//! toolchain, run the host, and compare what happened with plugctl's own prediction.

use std::path::Path;
use std::time::{Duration, Instant};

use super::probe::{run_limited, tail};
use super::{Check, Options, Status};
use crate::toolchain::Toolchain;

/// A cold GOCACHE compiles the standard library twice (plugin and host): minutes on a
/// small machine.
const BUILD_LIMIT: Duration = Duration::from_secs(900);
const RUN_LIMIT: Duration = Duration::from_secs(60);

const PLUGIN_GO: &str = r#"// The plugin plugctl doctor builds and loads.
package main

import "fmt"

// Greet is looked up by the host.
func Greet(name string) string { return fmt.Sprintf("hello, %s, from a plugin", name) }
"#;

const HOST_GO: &str = r#"// The host plugctl doctor builds: opens the plugin named on its command line.
package main

import (
	"fmt"
	"os"
	"plugin"
)

func main() {
	p, err := plugin.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	sym, err := p.Lookup("Greet")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	greet, ok := sym.(func(string) string)
	if !ok {
		fmt.Fprintf(os.Stderr, "Greet has type %T\n", sym)
		os.Exit(5)
	}
	fmt.Println(greet("doctor"))
}
"#;

const EXPECTED: &str = "hello, doctor, from a plugin";

fn check(status: Status, observed: impl Into<String>) -> Check {
    Check::new("smoke", "smoke test", status, observed)
}

/// `1.26.6` → `1.26` for the go.mod `go` line.
fn language_version(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

pub(super) fn run(toolchain: Option<&Toolchain>, cache_dir: &Path, options: &Options) -> Check {
    let Some(tc) = toolchain else {
        if which::which("python3").is_ok() {
            return check(
                Status::Skip,
                "not run: no Go toolchain yet; the first `plugctl build` or `plugctl load` installs one (see go.toolchains)",
            );
        }
        return check(Status::Fail, "not run: no Go toolchain (see go.toolchains)")
            .fix("install a Go toolchain, then run plugctl doctor again");
    };
    let dir = match tempfile::Builder::new().prefix("plugctl-doctor-").tempdir() {
        Ok(dir) => dir,
        Err(err) => {
            return check(
                Status::Fail,
                format!("cannot create a temporary directory: {err}"),
            )
            .fix("set TMPDIR to a writable directory");
        }
    };
    let root = dir.path();
    let module = format!(
        "module plugctl.invalid/doctor\n\ngo {}\n",
        language_version(&tc.version)
    );
    let written = [
        ("go.mod", module.as_str()),
        ("plugin/main.go", PLUGIN_GO),
        ("host/main.go", HOST_GO),
    ]
    .iter()
    .try_for_each(|(name, text)| {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().expect("relative paths have parents"))?;
        std::fs::write(path, text)
    });
    if let Err(err) = written {
        return check(
            Status::Fail,
            format!("cannot write the test sources in {}: {err}", root.display()),
        )
        .fix("set TMPDIR to a writable directory");
    }
    let result = build_and_load(tc, root, cache_dir, options);
    let mut result = result;
    if result.status == Status::Fail && options.keep_failed {
        let kept = dir.keep();
        result.observed.push_str(&format!(
            "\nsources and binaries kept in {}",
            kept.display()
        ));
    } else if result.status == Status::Fail {
        result
            .observed
            .push_str("\n(plugctl doctor -v keeps the sources and binaries)");
    }
    result
}

fn build_and_load(tc: &Toolchain, root: &Path, cache_dir: &Path, options: &Options) -> Check {
    let start = Instant::now();
    let gocache = cache_dir.join("gocache");
    let go = |args: &[&str]| {
        let mut command = tc.command();
        command
            .args(args)
            .current_dir(root)
            .env("GOFLAGS", "-mod=mod")
            .env("GOWORK", "off")
            .env("GOPROXY", "off")
            .env("GOCACHE", &gocache);
        if std::env::var_os("GOPATH").is_none() && std::env::var_os("HOME").is_none() {
            command.env("GOPATH", root.join("gopath"));
        }
        command
    };
    let plugin = root.join("plugin.so");
    let host = root.join("host/host");
    let builds = [
        (
            "plugin",
            vec!["build", "-buildmode=plugin", "-o", "plugin.so", "./plugin"],
        ),
        ("host", vec!["build", "-o", "host/host", "./host"]),
    ];
    for (what, args) in builds {
        (options.on_step)(&format!(
            "smoke test: building the {what} with go{} (GOCACHE {})",
            tc.version,
            gocache.display()
        ));
        let done = match run_limited(go(&args), BUILD_LIMIT, options.on_detail) {
            Ok(done) => done,
            Err(err) => {
                return check(
                    Status::Fail,
                    format!("cannot run go{}: {err:#}", tc.version),
                )
                .fix("reinstall the toolchain");
            }
        };
        if !done.success {
            let error = tail(&done.stderr, 6);
            let fix = if error.contains("cgo")
                || error.contains("gcc")
                || error.contains("C compiler")
            {
                "install a C compiler (apt-get install gcc) and set CGO_ENABLED=1: plugins and the hosts that open them need cgo"
            } else {
                "run plugctl doctor -v to see the commands; the go error above names what is missing"
            };
            return check(
                Status::Fail,
                format!(
                    "`go {}` with go{} failed ({}):\n{error}",
                    args.join(" "),
                    tc.version,
                    done.how
                ),
            )
            .fix(fix);
        }
    }
    let built = start.elapsed();

    (options.on_step)("smoke test: running the host (plugin.Open)");
    let mut command = std::process::Command::new(&host);
    command.arg(&plugin).current_dir(root);
    let ran =
        match run_limited(command, RUN_LIMIT, options.on_detail) {
            Ok(ran) => ran,
            Err(err) => return check(Status::Fail, format!("cannot run the host: {err:#}")).fix(
                "check that the temporary directory is not mounted noexec (set TMPDIR elsewhere)",
            ),
        };

    (options.on_step)("smoke test: comparing with plugctl's prediction");
    let predicted = predict(&host, &plugin);
    let loaded = ran.success && ran.stdout.trim() == EXPECTED;
    let predicted_text = match &predicted {
        Ok((true, _)) => "plugctl predicted that it loads".to_string(),
        Ok((false, error)) => format!("plugctl predicted that it does not load: {error}"),
        Err(err) => format!("plugctl could not predict: {err:#}"),
    };
    match (loaded, &predicted) {
        (true, Ok((true, _))) => check(
            Status::Ok,
            format!(
                "go{} built a plugin and a host in {:.1}s; the host's plugin.Open loaded it and Greet answered {EXPECTED:?}; {predicted_text}",
                tc.version,
                built.as_secs_f64()
            ),
        ),
        (true, _) => check(Status::Warn, format!("the plugin loaded, but {predicted_text}"))
            .fix("plugctl's model disagrees with this machine: please report it with the output of plugctl doctor -v"),
        (false, _) => {
            let output = if ran.stderr.trim().is_empty() { tail(&ran.stdout, 6) } else { tail(&ran.stderr, 6) };
            check(Status::Fail, format!("the host failed to load the plugin ({}):\n{output}\n{predicted_text}", ran.how))
                .fix("plugctl inspect --host HOST PLUGIN (paths below) explains the error; check GLIBC_TUNABLES, LD_PRELOAD and the seccomp and noexec settings of this machine")
        }
    }
}

/// What plugctl's own model says about this pair: (loads, error).
fn predict(host: &Path, plugin: &Path) -> anyhow::Result<(bool, String)> {
    let options = crate::predict::Options {
        host: Some(host.to_path_buf()),
        ld_library_path: None,
        sysroot: None,
        lazy: false,
        mode: None,
        process: None,
    };
    let report = crate::predict::inspect(&[plugin.to_path_buf()], &options)?;
    let item = report
        .artifacts
        .first()
        .ok_or_else(|| anyhow::anyhow!("no verdict for the plugin"))?;
    Ok((
        item.load.outcome.loads(),
        item.load.error.clone().unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_line_is_major_minor() {
        assert_eq!(language_version("1.26.6"), "1.26");
        assert_eq!(language_version("1.22"), "1.22");
    }
}
