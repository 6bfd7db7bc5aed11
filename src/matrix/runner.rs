//! Runs rows: build (cached), load for real (cached by content), predict with
//! `plugctl inspect` (always, it is cheap and it is what is under test), compare, and
//! judge the claim. Rows run on `jobs` worker threads; a row that cannot run is reported
//! as an error, never stops the others.
//!
//! Reality comes from one of two runtimes:
//! - `host`: the row's own host program (`loadhost`: plugin.Open + Lookup, or `dlhost`:
//!   dlopen) run on the plugins in a fresh process, its `OK`/`ERR` lines read; a plugin
//!   after the last line crashed the host (its first stderr line is the crash).
//! - `runtime`: `plugctl load`'s runtime ([`crate::runtime::load`]): sandboxed children,
//!   a Go harness mirroring the host, env timing, hot reload, quotas.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::builder::{Builder, Built};
use super::claims::{self, BUILD_FAILED, Check, Facts, NOT_RUN, Verdict};
use super::def::{Build, Protocol, Row, Via};
use crate::runtime;

/// Bump when the way loads are run or read changes (invalidates cached results).
const LOAD_SCHEME: &str = "plugctl-matrix-load-2";

/// Variables removed from every load's environment (the row sets what it needs).
const CLEANED: &[&str] = &[
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "LD_BIND_NOW",
    "GLIBC_TUNABLES",
    "GODEBUG",
    "GOTRACEBACK",
    "DEEPSEEK_API_KEY",
    "DEEPSEEK_BASE_URL",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    Done,
    Skipped,
    Error,
}

/// One build of a row, as reported.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildReport {
    /// `host`, `plugin`, `lib NAME`.
    pub role: String,
    pub name: String,
    pub label: String,
    pub engine: String,
    pub command: String,
    pub cached: bool,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// One plugin's load, real or predicted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub name: String,
    /// A load outcome (`ok`, `package-mismatch`, `crash`, ...), `build-failed` or `not-run`.
    pub outcome: String,
    /// The error text (or a crash's first line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Predictions: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// What really happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reality {
    pub via: Via,
    /// Cache key of this load (artifacts, options, machine).
    pub key: String,
    /// What ran, in the row's directory.
    pub command: String,
    pub plugins: Vec<Observed>,
    pub facts: Facts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr_head: Vec<String>,
    /// Runtime layers worth reading (env, reload, limits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub seconds: f64,
    /// Read from an earlier run.
    #[serde(default)]
    pub cached: bool,
}

/// What `plugctl inspect` predicted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prediction {
    pub command: String,
    pub plugins: Vec<Observed>,
    pub facts: Facts,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Agreement {
    /// Comparisons made (plugin outcomes, env).
    pub compared: usize,
    pub agree: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disagreements: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Seconds {
    /// Builds this row made (0 when all were cached).
    pub build: f64,
    /// The real load (0 when cached).
    pub load: f64,
    pub predict: f64,
    /// Wall time of the row in this run.
    pub total: f64,
}

/// One row's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RowResult {
    pub id: String,
    pub base_id: String,
    pub title: String,
    pub claim: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_variant: Option<String>,
    pub status: RowStatus,
    /// Why skipped, or the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub builds: Vec<BuildReport>,
    pub reality: Option<Reality>,
    pub prediction: Option<Prediction>,
    pub agreement: Agreement,
    /// The claim's conditions against reality.
    pub says: Vec<Check>,
    pub verdict: Verdict,
    /// The row's expected (measured) outcome against reality.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected: Vec<Check>,
    pub expected_met: Option<bool>,
    pub seconds: Seconds,
}

impl RowResult {
    fn new(row: &Row) -> RowResult {
        RowResult {
            id: row.id.clone(),
            base_id: row.base_id.clone(),
            title: row.title.clone(),
            claim: row.claim.clone(),
            tags: row.tags.clone(),
            go_variant: row.go_variant.clone(),
            status: RowStatus::Done,
            reason: None,
            builds: Vec::new(),
            reality: None,
            prediction: None,
            agreement: Agreement::default(),
            says: Vec::new(),
            verdict: Verdict::Untested,
            expected: Vec::new(),
            expected_met: None,
            seconds: Seconds::default(),
        }
    }

    /// Whether every comparison agreed (rows with nothing compared agree).
    pub fn agrees(&self) -> bool {
        self.agreement.disagreements.is_empty()
    }
}

/// Where rows report progress (the command draws it).
pub trait Reporter: Sync {
    fn begin(&self, rows: usize, jobs: usize);
    fn row_started(&self, id: &str);
    fn row_step(&self, id: &str, message: &str);
    fn row_finished(&self, result: &RowResult);
    fn end(&self);
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    /// Load again even when a result for the same artifacts is cached.
    pub fresh: bool,
    /// `<plugctl cache>/matrix`.
    pub cache: PathBuf,
    /// The plugctl executable used for `inspect` (and the runtime's children).
    pub plugctl: PathBuf,
}

/// This machine, as far as results depend on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub arch: String,
    pub glibc: Option<String>,
    pub kernel: Option<String>,
    pub cpus: usize,
}

impl Machine {
    pub fn detect() -> Machine {
        let env = crate::loader::Environment::build(None, None, PathBuf::from("/"), None, false);
        Machine {
            arch: std::env::consts::ARCH.to_string(),
            glibc: env.glibc_version.clone(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_string()),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }

    fn fingerprint(&self) -> String {
        format!("{} {}", self.arch, self.glibc.as_deref().unwrap_or("?"))
    }
}

struct Ctx<'a> {
    builder: &'a Builder,
    options: &'a Options,
    machine: &'a Machine,
}

/// Runs `rows`; results come back in the order of `rows`.
pub fn run(
    rows: &[Row],
    builder: &Builder,
    options: &Options,
    machine: &Machine,
    reporter: &dyn Reporter,
) -> Vec<RowResult> {
    let jobs = options.jobs.clamp(1, rows.len().max(1));
    reporter.begin(rows.len(), jobs);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<RowResult>>> = Mutex::new(vec![None; rows.len()]);
    let ctx = Ctx {
        builder,
        options,
        machine,
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(row) = rows.get(i) else { break };
                    reporter.row_started(&row.id);
                    let result = run_row(&ctx, row, reporter);
                    reporter.row_finished(&result);
                    results.lock().expect("lock")[i] = Some(result);
                }
            });
        }
    });
    reporter.end();
    results
        .into_inner()
        .expect("lock")
        .into_iter()
        .map(|r| r.expect("every row ran"))
        .collect()
}

fn run_row(ctx: &Ctx, row: &Row, reporter: &dyn Reporter) -> RowResult {
    let started = Instant::now();
    let mut result = RowResult::new(row);
    let missing: Vec<&str> = row
        .needs
        .iter()
        .map(String::as_str)
        .filter(|t| which::which(t).is_err())
        .collect();
    if !missing.is_empty() {
        result.status = RowStatus::Skipped;
        result.reason = Some(format!("needs {} (not on PATH)", missing.join(", ")));
        return result;
    }
    let step = |m: &str| reporter.row_step(&row.id, m);
    if let Err(e) = execute(ctx, row, &mut result, &step) {
        result.status = RowStatus::Error;
        result.reason = Some(format!("{e:#}"));
    }
    result.seconds.total = started.elapsed().as_secs_f64();
    result
}

fn report(role: &str, b: &Build, built: &Built) -> BuildReport {
    BuildReport {
        role: role.to_string(),
        name: b.name.clone(),
        label: built.label.clone(),
        engine: built.engine.clone(),
        command: built.command.clone(),
        cached: built.cached,
        seconds: built.seconds,
        failure: built.failure.clone(),
    }
}

fn execute(
    ctx: &Ctx,
    row: &Row,
    result: &mut RowResult,
    step: &(dyn Fn(&str) + Sync),
) -> Result<()> {
    // Builds: libraries, host, plugins.
    let no_libs = BTreeMap::new();
    let mut libs: BTreeMap<String, Built> = BTreeMap::new();
    for (name, b) in &row.libs {
        let built = ctx
            .builder
            .get(b, &no_libs, step)
            .with_context(|| format!("library {name}"))?;
        result
            .builds
            .push(report(&format!("lib {name}"), b, &built));
        if let Some(f) = &built.failure {
            bail!("library {name} did not build: {f}");
        }
        libs.insert(name.clone(), built);
    }
    let host = match &row.host {
        Some(b) => {
            let built = ctx.builder.get(b, &libs, step).context("host")?;
            result.builds.push(report("host", b, &built));
            if let Some(f) = &built.failure {
                bail!("the host did not build: {f}");
            }
            Some((b, built))
        }
        None => None,
    };
    let mut plugins = Vec::new();
    for b in &row.plugins {
        let built = ctx
            .builder
            .get(b, &libs, step)
            .with_context(|| format!("plugin {}", b.name))?;
        result.builds.push(report("plugin", b, &built));
        plugins.push((b, built));
    }
    result.seconds.build = result
        .builds
        .iter()
        .filter(|b| !b.cached)
        .fold(0.0, |sum, b| sum + b.seconds);
    let names: Vec<String> = row.plugins.iter().map(|b| b.name.clone()).collect();

    // Reality.
    let reality = if plugins.iter().any(|(_, b)| b.failure.is_some()) {
        let observed: Vec<Observed> = plugins
            .iter()
            .map(|(b, built)| Observed {
                name: b.name.clone(),
                outcome: if built.failure.is_some() {
                    BUILD_FAILED
                } else {
                    NOT_RUN
                }
                .to_string(),
                error: built.failure.as_deref().map(first_error_line),
                cause: None,
            })
            .collect();
        Reality {
            via: row.load.via,
            key: String::new(),
            command: "(not loaded: a plugin did not build)".into(),
            facts: Facts {
                outcome: observed.iter().map(|o| o.outcome.clone()).collect(),
                ..Default::default()
            },
            plugins: observed,
            exit: None,
            signal: None,
            timed_out: false,
            stderr_head: Vec::new(),
            notes: Vec::new(),
            seconds: 0.0,
            cached: false,
        }
    } else {
        let key = load_key(ctx, row, host.as_ref().map(|h| &h.1), &plugins, &libs);
        let dir = prepare_dir(
            &ctx.options.cache.join("runs").join(&key),
            host.as_ref(),
            &plugins,
        )?;
        let cache_file = ctx
            .options
            .cache
            .join("results")
            .join(format!("{key}.json"));
        let cached = if ctx.options.fresh {
            None
        } else {
            std::fs::read_to_string(&cache_file)
                .ok()
                .and_then(|t| serde_json::from_str::<Reality>(&t).ok())
        };
        let reality = match cached {
            Some(mut r) => {
                r.cached = true;
                r
            }
            None => {
                step("loading for real");
                let r = match row.load.via {
                    Via::Host => load_with_host(
                        row,
                        &dir,
                        host.as_ref()
                            .map(|h| h.0)
                            .context("via host needs a host")?,
                        &libs,
                        &key,
                    )?,
                    Via::Runtime => load_with_runtime(
                        ctx,
                        row,
                        &dir,
                        host.as_ref().map(|h| h.0),
                        &libs,
                        &key,
                        step,
                    )?,
                };
                if let Some(parent) = cache_file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let tmp = cache_file.with_extension(format!(
                    "tmp{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                ));
                std::fs::write(&tmp, serde_json::to_vec_pretty(&r)?)?;
                std::fs::rename(&tmp, &cache_file)?;
                r
            }
        };
        // Prediction: always, with the current plugctl.
        step("predicting (plugctl inspect)");
        let prediction = predict(ctx, row, &dir, host.as_ref().map(|h| h.0), &libs)?;
        result.seconds.predict = prediction.seconds;
        result.agreement = compare(&reality, &prediction);
        result.prediction = Some(prediction);
        reality
    };
    if !reality.cached {
        result.seconds.load = reality.seconds;
    }
    result.says = claims::evaluate(&row.says, &reality.facts, &names);
    result.verdict = claims::verdict(&result.says);
    if let Some(expect) = &row.expect {
        result.expected = claims::evaluate(expect, &reality.facts, &names);
        result.expected_met = Some(result.expected.iter().all(|c| c.holds));
    }
    result.reality = Some(reality);
    Ok(())
}

fn first_error_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| !l.starts_with('`') && !l.starts_with('#'))
        .or(lines.last())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

fn load_key(
    ctx: &Ctx,
    row: &Row,
    host: Option<&Built>,
    plugins: &[(&Build, Built)],
    libs: &BTreeMap<String, Built>,
) -> String {
    let mut h = Sha256::new();
    for part in [
        LOAD_SCHEME,
        env!("CARGO_PKG_VERSION"),
        &ctx.machine.fingerprint(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(serde_json::to_vec(&row.load).unwrap_or_default());
    h.update(
        serde_json::to_vec(&row.host.as_ref().map(|b| (&b.name, b.protocol))).unwrap_or_default(),
    );
    h.update(host.map(|b| b.key.as_str()).unwrap_or("-").as_bytes());
    for (b, built) in plugins {
        h.update([1]);
        h.update(b.name.as_bytes());
        h.update([2]);
        h.update(built.key.as_bytes());
    }
    for (name, l) in libs {
        h.update([3]);
        h.update(name.as_bytes());
        h.update(l.key.as_bytes());
    }
    if row.load.options.reload > 0 {
        // Reload copies are rebuilt from the plugin's source.
        h.update(ctx.builder.src().display().to_string().as_bytes());
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The row's directory: the host and `plugins/NAME`, hard-linked from the build cache.
fn prepare_dir(
    dir: &Path,
    host: Option<&(&Build, Built)>,
    plugins: &[(&Build, Built)],
) -> Result<PathBuf> {
    let ready = dir.join(".ready");
    let mut want: Vec<(PathBuf, &Path)> = Vec::new();
    if let Some((b, built)) = host {
        want.push((
            dir.join(&b.name),
            built.path.as_deref().context("host has no output")?,
        ));
    }
    for (b, built) in plugins {
        want.push((
            dir.join("plugins").join(&b.name),
            built.path.as_deref().context("plugin has no output")?,
        ));
    }
    if ready.is_file() && want.iter().all(|(to, _)| to.is_file()) {
        return Ok(dir.to_path_buf());
    }
    std::fs::create_dir_all(dir.join("plugins"))
        .with_context(|| format!("creating {}", dir.display()))?;
    for (to, from) in &want {
        let _ = std::fs::remove_file(to);
        match std::fs::hard_link(from, to) {
            Ok(()) => {}
            // Another row with the same load is preparing the same directory.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => {
                std::fs::copy(from, to)
                    .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            }
        }
    }
    std::fs::write(&ready, b"")?;
    Ok(dir.to_path_buf())
}

fn lib_dir(libs: &BTreeMap<String, Built>, name: &str) -> Option<PathBuf> {
    libs.get(name)?
        .path
        .as_ref()?
        .parent()
        .map(Path::to_path_buf)
}

/// The environment of a load (and of its prediction): cleaned, then the row's.
fn load_env(row: &Row, dir: &Path, libs: &BTreeMap<String, Built>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = row
        .load
        .options
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !row.load.options.ld_library_path.is_empty() {
        let dirs: Vec<String> = row
            .load
            .options
            .ld_library_path
            .iter()
            .map(|d| match d.strip_prefix("lib:") {
                Some(l) => lib_dir(libs, l)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                None => dir.join(d).display().to_string(),
            })
            .collect();
        env.retain(|(k, _)| k != "LD_LIBRARY_PATH");
        env.push(("LD_LIBRARY_PATH".into(), dirs.join(":")));
    }
    env
}

fn apply_env(command: &mut Command, env: &[(String, String)]) {
    for var in CLEANED {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
}

fn plugin_args(row: &Row) -> Vec<String> {
    row.plugins
        .iter()
        .map(|b| format!("plugins/{}", b.name))
        .collect()
}

struct Finished {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
    seconds: f64,
}

fn run_with_timeout(mut command: Command, limit: Duration) -> Result<Finished> {
    let done = crate::process_run::run_with_timeout(&mut command, limit)
        .with_context(|| format!("starting {:?}", command.get_program()))?;
    Ok(Finished {
        code: done.code(),
        signal: done.signal(),
        seconds: done.elapsed.as_secs_f64(),
        stdout: done.stdout,
        stderr: done.stderr,
        timed_out: done.timed_out,
    })
}

fn timeout_of(row: &Row) -> Duration {
    row.load
        .options
        .timeout
        .as_deref()
        .and_then(|t| runtime::contract::parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60))
}

fn load_with_host(
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
    // A host of another architecture runs under qemu-user (super::cross).
    let runner = super::cross::runner_of_file(&dir.join(&host.name));
    let (mut command, shown_host) = super::cross::host_command(&dir.join(&host.name), &runner);
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
            .chain(std::iter::once(shown_host))
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

/// Messages name the row's files relative to its directory (Go dlopens the real path, so
/// glibc's messages carry it): results do not depend on where the cache is.
fn strip_dir(text: &str, dir: &Path) -> String {
    let mut out = text.replace(&format!("{}/", dir.display()), "");
    if let Ok(real) = std::fs::canonicalize(dir)
        && real != dir
    {
        out = out.replace(&format!("{}/", real.display()), "");
    }
    out
}

fn load_with_runtime(
    ctx: &Ctx,
    row: &Row,
    dir: &Path,
    host: Option<&Build>,
    libs: &BTreeMap<String, Built>,
    key: &str,
    step: &(dyn Fn(&str) + Sync),
) -> Result<Reality> {
    let o = &row.load.options;
    let env = load_env(row, dir, libs);
    let vars: Vec<runtime::EnvVar> = env
        .iter()
        .map(|(k, v)| runtime::EnvVar {
            name: k.clone(),
            value: v.clone(),
            origin: "matrix row".into(),
        })
        .collect();
    let plugins: Vec<PathBuf> = row
        .plugins
        .iter()
        .map(|b| dir.join("plugins").join(&b.name))
        .collect();
    let parse_duration = |t: &Option<String>| {
        t.as_deref()
            .map(runtime::contract::parse_duration)
            .transpose()
    };
    let options = runtime::LoadOptions {
        host: host.map(|h| dir.join(&h.name)),
        lazy: o.lazy,
        env: vars,
        env_after_open: o.env_after_open,
        reload: o.reload,
        source: (o.reload > 0).then(|| ctx.builder.src().join(&row.plugins[0].dir)),
        timeout: timeout_of(row),
        limits: runtime::Limits {
            memory: o
                .memory
                .as_deref()
                .map(runtime::contract::parse_size)
                .transpose()?,
            cpu_time: parse_duration(&o.cpu_time)?,
            max_pids: o.max_pids,
            open_files: o.open_files,
            cpus: o.cpus,
        },
        ..runtime::LoadOptions::new(plugins)
    };
    let started = Instant::now();
    let report = runtime::load(&options, &|m| step(m))?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(e) = &report.harness_error {
        bail!("the runtime could not build its Go harness: {e}");
    }
    let mut observed = Vec::new();
    for (b, a) in row.plugins.iter().zip(&report.artifacts) {
        let error = a.load.error.as_deref().map(|e| strip_dir(e, dir));
        observed.push(Observed {
            name: b.name.clone(),
            outcome: a.load.outcome.as_str().to_string(),
            error,
            cause: None,
        });
    }
    let mut facts = Facts {
        outcome: observed.iter().map(|o| o.outcome.clone()).collect(),
        ..Default::default()
    };
    let mut notes = Vec::new();
    if let Some(first) = report.artifacts.first() {
        for layer in &first.layers {
            match layer.layer {
                "env" => {
                    facts.env = env_fact_real(
                        layer.details.as_ref(),
                        o.env_after_open,
                        watched_var(row).as_deref(),
                    );
                    notes.push(format!("env: {}", layer.reason));
                }
                "reload" => {
                    if let Some(runtime::Details::Reload(d)) = &layer.details {
                        facts.goroutines_per_reload =
                            d.growth.as_ref().map(|g| g.goroutines_per_reload);
                        facts.rss_mib_per_reload = d.growth.as_ref().map(|g| g.rss_mib_per_reload);
                    }
                    notes.push(format!("reload: {}", strip_dir(&layer.reason, dir)));
                }
                "limits" if layer.status == runtime::LayerStatus::Fail => {
                    notes.push(format!("limits: {}", layer.reason))
                }
                "go-open" | "lifecycle" if layer.status != runtime::LayerStatus::Pass => notes
                    .push(format!(
                        "{}: {}",
                        layer.layer,
                        strip_dir(&layer.reason, dir)
                    )),
                _ => {}
            }
        }
    }
    let shown_env: Vec<String> = env
        .iter()
        .map(|(k, v)| {
            format!(
                "--env {k}={}",
                if runtime::env::is_secret_name(k) {
                    "***"
                } else {
                    v
                }
            )
        })
        .collect();
    let mut command = vec!["plugctl load".to_string()];
    if let Some(h) = host {
        command.push(format!("--host ./{}", h.name));
    }
    command.extend(shown_env);
    if o.env_after_open {
        command.push("--env-after-open".into());
    }
    if o.reload > 0 {
        command.push(format!(
            "--reload {} --source <src>/{}",
            o.reload, row.plugins[0].dir
        ));
    }
    command.extend(plugin_args(row));
    Ok(Reality {
        via: Via::Runtime,
        key: key.to_string(),
        command: command.join(" "),
        plugins: observed,
        facts,
        exit: None,
        signal: None,
        timed_out: false,
        stderr_head: Vec::new(),
        notes,
        seconds,
        cached: false,
    })
}

/// The variable the `env` fact is about: the row's first load variable that is not a
/// loader or Go runtime setting.
fn watched_var(row: &Row) -> Option<String> {
    row.load
        .options
        .env
        .keys()
        .find(|k| !(k.starts_with("LD_") || k.starts_with("GLIBC_") || k.starts_with("GO")))
        .cloned()
}

fn env_fact_real(
    details: Option<&runtime::Details>,
    after_open: bool,
    var: Option<&str>,
) -> Option<String> {
    let var = var?;
    let Some(runtime::Details::Env(env)) = details else {
        return None;
    };
    let row = env.vars.iter().find(|v| v.name == var)?;
    let seen_after_open = !row.seen_after_open.is_empty();
    let fact = if after_open {
        if row.missed() {
            "missed"
        } else if seen_after_open || !row.seen_after_init.is_empty() {
            "seen"
        } else {
            "not-read"
        }
    } else if seen_after_open {
        "seen"
    } else {
        "not-read"
    };
    Some(fact.to_string())
}

fn predict(
    ctx: &Ctx,
    row: &Row,
    dir: &Path,
    host: Option<&Build>,
    libs: &BTreeMap<String, Built>,
) -> Result<Prediction> {
    let started = Instant::now();
    // A row's host opens its plugins in one process, in order.
    let mut args = vec![
        "inspect".to_string(),
        "--sequence".into(),
        "--format".into(),
        "json".into(),
        "--fail-on".into(),
        "never".into(),
    ];
    if let Some(h) = host {
        args.push("--host".into());
        args.push(h.name.clone());
        // A host run under qemu-user: the target's libraries come from its sysroot.
        args.extend(super::cross::predict_args(&super::cross::runner_of_file(
            &dir.join(&h.name),
        )));
    }
    if row.load.options.lazy {
        args.push("--lazy".into());
    }
    let plugins = plugin_args(row);
    args.extend(plugins.iter().cloned());
    let mut command = Command::new(&ctx.options.plugctl);
    command.current_dir(dir).args(&args);
    apply_env(&mut command, &load_env(row, dir, libs));
    let out = command
        .output()
        .with_context(|| format!("running {} inspect", ctx.options.plugctl.display()))?;
    let doc: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "plugctl inspect gave no JSON (exit {:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    let artifacts = doc["artifacts"]
        .as_array()
        .context("inspect JSON has no artifacts")?;
    let mut observed = Vec::new();
    for (b, a) in row.plugins.iter().zip(artifacts) {
        observed.push(Observed {
            name: b.name.clone(),
            outcome: a["load"]["outcome"].as_str().unwrap_or("error").to_string(),
            error: a["load"]["error"].as_str().map(|e| strip_dir(e, dir)),
            cause: a["load"]["cause"].as_str().map(str::to_string),
        });
    }
    let mut facts = Facts {
        outcome: observed.iter().map(|o| o.outcome.clone()).collect(),
        ..Default::default()
    };
    if row.load.via == Via::Runtime
        && let Some(var) = watched_var(row)
    {
        let reads = artifacts
            .first()
            .and_then(|a| a["go"]["init_env_reads"].as_array())
            .is_some_and(|r| r.iter().any(|v| v == var.as_str()));
        facts.env = Some(
            match (reads, row.load.options.env_after_open) {
                (true, true) => "missed",
                (true, false) => "seen",
                (false, _) => "not-read",
            }
            .to_string(),
        );
    }
    let mut shown = vec!["plugctl".to_string()];
    shown.extend(
        args.iter()
            .filter(|a| !["--format", "json", "--fail-on", "never"].contains(&a.as_str()))
            .cloned(),
    );
    Ok(Prediction {
        command: shown.join(" "),
        plugins: observed,
        facts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Prediction against reality: per plugin the outcome and the exact message (a crash
/// must be predicted as one, with the host's first line); the env fact when both have it.
fn compare(real: &Reality, predicted: &Prediction) -> Agreement {
    let mut a = Agreement::default();
    for (r, p) in real.plugins.iter().zip(&predicted.plugins) {
        if r.outcome == NOT_RUN || r.outcome == BUILD_FAILED {
            continue;
        }
        a.compared += 1;
        let agrees = match r.outcome.as_str() {
            "ok" => p.outcome == "ok",
            "crash" => {
                matches!(p.outcome.as_str(), "crash" | "not-a-plugin" | "truncated")
                    && p.error == r.error
            }
            _ => p.outcome != "ok" && p.outcome != "crash" && p.error == r.error,
        };
        if agrees {
            a.agree += 1;
        } else {
            a.disagreements.push(format!(
                "{}: real {}{}, predicted {}{}",
                r.name,
                r.outcome,
                r.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default(),
                p.outcome,
                p.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
    }
    if let (Some(r), Some(p)) = (&real.facts.env, &predicted.facts.env) {
        a.compared += 1;
        if r == p {
            a.agree += 1;
        } else {
            a.disagreements
                .push(format!("env: real {r}, predicted {p}"));
        }
    }
    a
}

/// Kinds that can be named in `classify` tests.
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

    #[test]
    fn comparison_needs_the_exact_message() {
        let obs = |o: &str, e: Option<&str>| Observed {
            name: "p.so".into(),
            outcome: o.into(),
            error: e.map(str::to_string),
            cause: None,
        };
        let real = Reality {
            via: Via::Host,
            key: String::new(),
            command: String::new(),
            plugins: vec![
                obs("package-mismatch", Some("x")),
                obs("crash", Some("fatal error: y")),
            ],
            facts: Facts::default(),
            exit: None,
            signal: None,
            timed_out: false,
            stderr_head: Vec::new(),
            notes: Vec::new(),
            seconds: 0.0,
            cached: false,
        };
        let pred = |a: Observed, b: Observed| Prediction {
            command: String::new(),
            plugins: vec![a, b],
            facts: Facts::default(),
            seconds: 0.0,
        };
        let good = compare(
            &real,
            &pred(
                obs("package-mismatch", Some("x")),
                obs("crash", Some("fatal error: y")),
            ),
        );
        assert_eq!((good.compared, good.agree), (2, 2));
        let bad = compare(
            &real,
            &pred(
                obs("package-mismatch", Some("z")),
                obs("package-mismatch", Some("fatal error: y")),
            ),
        );
        assert_eq!(bad.agree, 0);
        assert_eq!(bad.disagreements.len(), 2);
    }
}
