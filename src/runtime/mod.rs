//! `runtime`: loads for real, in sandboxed child processes, never in plugctl's own.
//!
//! Every child runs in a sandbox built by bubblewrap ([`bwrap`]) or gVisor ([`runsc`])
//! over the same [`view`] of the file system; inside, `plugctl __sandbox` ([`sandbox`])
//! installs the seccomp filter ([`seccomp`]: the default deny-list plus `--seccomp`),
//! runs the isolation [`probe`] and executes the target: the C loader shim
//! (`plugctl __shim`, [`shim`]) for the loader layer, and a generated Go host harness
//! ([`harness`]) for the Go layers (`plugin.Open`, type contract, lifecycle, env timing,
//! hot reload). [`child`] watches each child (deadline, threads, memory, exit, cgroups,
//! leftovers); [`observe`] turns what the children reported into layers and the same
//! `load` verdict `inspect` predicts, which [`load`] then compares with
//! `predict::inspect`.

mod bwrap;
pub mod cgroup;
pub mod child;
pub mod contract;
pub mod env;
pub mod harness;
pub mod lifecycle_check;
pub mod observe;
pub mod probe;
pub mod reload;
pub mod runsc;
mod sandbox;
pub mod seccomp;
mod shim;
pub mod trace;
pub mod view;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Value, json};

use crate::golang::{GoFacts, GoRole};
use crate::predict;
use crate::verdict::{LoadVerdict, Outcome};

pub use child::{ChildRun, Ended, LimitHit, Limits};
pub use contract::{Expect, Lifecycle};
pub use env::{EnvVar, Masker};

/// Runs plugctl's hidden child entry points (`__sandbox`, `__shim`); `None` for a normal
/// command line. Called first thing in `main`.
pub fn hidden_main() -> Option<i32> {
    let mut args = std::env::args_os();
    let _ = args.next();
    match args.next()?.to_str()? {
        "__sandbox" => Some(sandbox::main()),
        "__shim" => Some(shim::main(args)),
        _ => None,
    }
}

/// A layer's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    /// plugctl could not run the layer (e.g. no toolchain).
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }
}

/// One layer of one artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    pub layer: &'static str,
    pub status: Status,
    pub reason: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl Layer {
    pub fn new(layer: &'static str, status: Status, reason: impl Into<String>) -> Layer {
        Layer {
            layer,
            status,
            reason: reason.into(),
            details: Value::Null,
        }
    }

    pub fn with(mut self, details: Value) -> Layer {
        self.details = details;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sandbox {
    Native,
    Gvisor,
}

/// What `load` should do.
#[derive(Debug, Clone)]
pub struct Options {
    pub plugins: Vec<PathBuf>,
    pub host: Option<PathBuf>,
    pub go: Option<String>,
    pub lazy: bool,
    pub env: Vec<EnvVar>,
    pub env_after_open: bool,
    pub expect: Vec<Expect>,
    pub lifecycle: Lifecycle,
    pub reload: usize,
    pub source: Option<PathBuf>,
    pub timeout: Duration,
    pub limits: Limits,
    pub isolate_network: bool,
    pub readonly: bool,
    pub seccomp: Option<seccomp::Mode>,
    pub sandbox: Sandbox,
    /// Skip the Go layers even for Go plugins.
    pub loader_only: bool,
    /// `--lifecycle-check`: run the illegal call orders, each in a fresh harness.
    pub lifecycle_check: Option<lifecycle_check::CheckSpec>,
    /// `--trace`: eBPF observation of every child (see [`trace`]).
    pub trace: bool,
}

/// The prediction for one artifact and whether the observation agrees.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub outcome: Outcome,
    pub error: Option<String>,
    /// Same outcome and the same error text.
    pub agrees: bool,
    /// Same outcome (the error text may differ).
    pub same_outcome: bool,
    /// Why a disagreement is expected, when it is.
    pub note: Option<String>,
    pub basis: Vec<String>,
}

/// One artifact's result.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactLoad {
    pub path: String,
    /// Observed, in the same shape as `inspect`'s `load`.
    pub load: LoadVerdict,
    /// Which layer the `load` verdict comes from: `go-open` or `loader`.
    pub observed_by: &'static str,
    pub prediction: Comparison,
    pub layers: Vec<Layer>,
    /// The file could not be read (exit 2, as `inspect`).
    pub unreadable: Option<String>,
}

impl ArtifactLoad {
    pub fn worst(&self) -> Status {
        let s: Vec<Status> = self.layers.iter().map(|l| l.status).collect();
        if s.contains(&Status::Error) {
            Status::Error
        } else if s.contains(&Status::Fail) {
            Status::Fail
        } else {
            Status::Pass
        }
    }
}

/// An env variable as shown (secrets masked).
#[derive(Debug, Clone, Serialize)]
pub struct EnvShown {
    pub name: String,
    pub value: String,
    pub secret: bool,
    pub origin: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeccompSummary {
    pub mode: String,
    pub method: String,
    pub profile: Option<String>,
    /// learn: calls seen (by name, with counts over every run).
    pub syscalls: BTreeMap<String, u64>,
    /// learn: calls added because the Go runtime makes them at random.
    pub baseline: Vec<String>,
    /// enforce: the first denied call over all runs.
    pub first_denied: Option<seccomp::Denial>,
    pub denied: Vec<seccomp::Denial>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

/// The whole `load` result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub host: Option<String>,
    pub sandbox: Sandbox,
    pub env: Vec<EnvShown>,
    pub env_set: &'static str,
    pub artifacts: Vec<ArtifactLoad>,
    pub harness: Option<harness::Harness>,
    pub harness_error: Option<String>,
    pub reload: Option<reload::Copies>,
    pub seccomp: Option<SeccompSummary>,
    pub runs: Vec<ChildRun>,
    pub notes: Vec<String>,
}

impl Report {
    /// Artifacts whose observed outcome or error differs from `inspect`'s prediction.
    pub fn disagreements(&self) -> Vec<&ArtifactLoad> {
        self.artifacts
            .iter()
            .filter(|a| !a.prediction.agrees)
            .collect()
    }
}

/// Calls the Go runtime makes at random (signals for preemption, scheduling, memory
/// returns): a learned profile allows them even when one run did not happen to make them.
pub const GO_RUNTIME_BASELINE: &[&str] = &[
    "rt_sigreturn",
    "restart_syscall",
    "exit",
    "exit_group",
    "futex",
    "sched_yield",
    "nanosleep",
    "clock_nanosleep",
    "tgkill",
    "getpid",
    "gettid",
    "madvise",
    "mmap",
    "munmap",
    "mprotect",
    "sigaltstack",
    "rt_sigprocmask",
];

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

struct Plan {
    launch_base: child::Launch,
    masker: Masker,
}

impl Plan {
    fn launch(
        &self,
        label: &str,
        program: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
        stdin: Vec<u8>,
    ) -> child::Launch {
        let mut l = self.launch_base.clone();
        l.label = label.to_string();
        l.program = program;
        l.args = args;
        l.env = env;
        l.stdin = stdin;
        l
    }
}

/// Loads the plugins for real and reports every layer.
pub fn load(options: &Options, progress: &dyn Fn(&str)) -> Result<Report> {
    if options.plugins.is_empty() {
        bail!("no plugin given");
    }
    let masker = Masker::new(&options.env);
    let user_paths: Vec<String> = options
        .plugins
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let abs_paths: Vec<PathBuf> = options.plugins.iter().map(|p| absolute(p)).collect();
    let path_map = observe::PathMap {
        pairs: abs_paths
            .iter()
            .map(|p| p.display().to_string())
            .zip(user_paths.iter().cloned())
            .collect(),
    };
    let mut notes = Vec::new();

    // What inspect predicts for the same host, plugins and (clean) environment.
    let ld_library_path = options
        .env
        .iter()
        .find(|v| v.name == "LD_LIBRARY_PATH")
        .map(|v| v.value.clone())
        .unwrap_or_default();
    let predicted = predict::inspect(
        &options.plugins,
        &predict::Options {
            host: options.host.clone(),
            ld_library_path: Some(ld_library_path.clone()),
            sysroot: None,
            lazy: options.lazy,
            mode: None,
        },
    )?;
    let host_go: Option<GoFacts> = predicted
        .host
        .as_ref()
        .and_then(|h| h.go.clone())
        .filter(|g| g.role != GoRole::Plugin);

    // The sandbox program must exist: a clear error (exit 2) before any child runs.
    match options.sandbox {
        Sandbox::Native => {
            bwrap::find()?;
        }
        Sandbox::Gvisor => {
            runsc::find()?;
            if matches!(options.seccomp, Some(seccomp::Mode::Learn { .. })) {
                bail!(
                    "--seccomp learn --sandbox gvisor: learning needs plugctl's SECCOMP_RET_USER_NOTIF listener, which runsc cannot hand over; learn with --sandbox native, then enforce the profile under gVisor"
                );
            }
        }
    }
    // The inputs and everything they resolve to are bound read-only into the sandbox.
    let inputs: Vec<PathBuf> = abs_paths
        .iter()
        .cloned()
        .chain(options.host.iter().map(|h| absolute(h)))
        .collect();
    let mut binds: Vec<PathBuf> = predicted
        .artifacts
        .iter()
        .flat_map(|a| a.tree.nodes.iter().filter_map(|n| n.path.as_ref()))
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .collect();
    binds.extend(
        ld_library_path
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| absolute(Path::new(d))),
    );
    let seccomp_plan = match &options.seccomp {
        None => None,
        Some(seccomp::Mode::Learn { out }) => Some(Arc::new(seccomp::Plan::learn(out))),
        Some(seccomp::Mode::Enforce { profile }) => {
            Some(Arc::new(seccomp::Plan::enforce(profile)?))
        }
    };
    let tracer = options
        .trace
        .then(|| Arc::new(trace::Tracer::new(options.sandbox, abs_paths.clone())));
    let filter = seccomp_plan.clone().unwrap_or_else(|| {
        Arc::new(match &tracer {
            // No BPF: the listener counts every call (nothing is written).
            Some(t)
                if t.backend() == trace::Backend::SeccompNotify
                    && options.sandbox == Sandbox::Native =>
            {
                trace::counting_plan()
            }
            _ => seccomp::Plan::deny_list_only(),
        })
    });
    let mut plan = Plan {
        launch_base: child::Launch {
            label: String::new(),
            program: PathBuf::new(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: Vec::new(),
            timeout: options.timeout,
            isolate_network: options.isolate_network,
            readonly: options.readonly,
            limits: options.limits.clone(),
            seccomp: filter,
            sandbox: options.sandbox,
            inputs,
            binds,
            trace: tracer,
        },
        masker: masker.clone(),
    };
    let env_pairs: Vec<(String, String)> = options
        .env
        .iter()
        .map(|v| (v.name.clone(), v.value.clone()))
        .collect();
    let child_env = if options.env_after_open {
        Vec::new()
    } else {
        env_pairs.clone()
    };

    // 1. Loader layer: the C shim, every object in order, one process.
    let exe = child::own_exe()?;
    let mut shim_args = vec!["__shim".to_string(), "--report-fd".into(), "3".into()];
    if options.lazy {
        shim_args.push("--lazy".into());
    }
    shim_args.push("--".into());
    shim_args.extend(abs_paths.iter().map(|p| p.display().to_string()));
    progress("loader layer: dlopen in a sandboxed child");
    let loader_run = child::run(
        &plan.launch("loader", exe, shim_args, child_env.clone(), Vec::new()),
        &plan.masker,
    )?;

    // 2. Go layers: a harness mirroring --go, the Go host, or the first Go plugin.
    let go_plugins: Vec<(usize, &GoFacts)> = predicted
        .artifacts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            a.go.as_ref()
                .filter(|g| g.role == GoRole::Plugin)
                .map(|g| (i, g))
        })
        .collect();
    let first_plugin_facts = go_plugins.first().map(|(_, g)| *g);
    let wants_go = !options.loader_only && (!go_plugins.is_empty() || host_go.is_some());
    let mut harness_error = None;
    let harness_plan = if !wants_go {
        None
    } else if let Some(v) = &options.go {
        Some(harness::plan_for_version(v, first_plugin_facts))
    } else if let (Some(h), Some(path)) = (&host_go, &options.host) {
        let plugins: Vec<&GoFacts> = go_plugins.iter().map(|(_, g)| *g).collect();
        let host_artifact = predicted.host.as_ref().map(|host| &host.artifact);
        Some(
            harness::plan_from(h, format!("host {}", path.display())).map(|mut plan| {
                if let Some(artifact) = host_artifact {
                    harness::link_host_modules(&mut plan, h, artifact, &plugins);
                }
                plan
            }),
        )
    } else {
        let (i, facts) = go_plugins[0];
        Some(harness::plan_from(
            facts,
            format!("plugin {}", user_paths[i]),
        ))
    };
    if go_plugins.len() > 1 && options.host.is_none() && options.go.is_none() {
        notes.push(format!(
            "one harness opens every plugin, as one host would; it mirrors the first Go plugin ({})",
            user_paths[go_plugins[0].0]
        ));
    }
    let harness = match harness_plan {
        None => None,
        Some(Err(e)) => {
            harness_error = Some(format!("{e:#}"));
            None
        }
        Some(Ok(p)) => match harness::ensure(&p, progress) {
            Ok(h) => Some(h),
            Err(e) => {
                harness_error = Some(format!("{e:#}"));
                None
            }
        },
    };

    // Hot-reload copies.
    let mut copies = None;
    if options.reload > 0 {
        let source = options
            .source
            .as_ref()
            .context("--reload needs --source DIR (the plugin's main package)")?;
        let facts = first_plugin_facts.context("--reload: the first plugin is not a Go plugin")?;
        copies = Some(reload::copies(source, facts, options.reload, progress)?);
    }

    let spec_for = |lifecycle: bool, with_reload: bool| -> Vec<u8> {
        let plugins: Vec<Value> = abs_paths
            .iter()
            .zip(&predicted.artifacts)
            .map(|(p, a)| {
                // Without a Go host, only Go plugins go through plugin.Open.
                let go_plugin = a.go.as_ref().is_some_and(|g| g.role == GoRole::Plugin);
                json!({"path": p, "exports": exports_of(a.go.as_ref()), "skip": !go_plugin && host_go.is_none()})
            })
            .collect();
        let reload: Vec<Value> = if with_reload {
            copies
                .as_ref()
                .map(|c| {
                    c.paths
                        .iter()
                        .map(|p| json!({"path": p, "exports": exports_of(first_plugin_facts)}))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let l = &options.lifecycle;
        let name = |n: &Option<String>| {
            if lifecycle {
                n.clone().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let spec = json!({
            "plugins": plugins,
            "expect": if lifecycle { options.expect.clone() } else { Vec::new() },
            "init": name(&l.init), "run": name(&l.run), "close": name(&l.close),
            "phase_timeout_ms": l.phase_timeout.as_millis() as u64,
            "run_for_ms": l.run_for.as_millis() as u64,
            "env_after_open": if options.env_after_open { env_pairs.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect::<Vec<_>>() } else { Vec::new() },
            "watch": options.env.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
            "reload": reload,
            "settle_ms": 100,
        });
        serde_json::to_vec(&spec).expect("spec serialises")
    };

    let mut go_run = None;
    let mut comparison_run = None;
    if let Some(h) = &harness {
        progress("Go layers: plugin.Open, contract, lifecycle in a sandboxed harness");
        plan.launch_base
            .binds
            .extend(copies.iter().flat_map(|c| c.paths.iter().cloned()));
        let launch = plan.launch(
            "go",
            h.path.clone(),
            vec!["--report-fd".into(), "3".into()],
            child_env.clone(),
            spec_for(true, true),
        );
        go_run = Some(child::run(&launch, &plan.masker)?);
        if options.env_after_open && !options.env.is_empty() {
            progress(
                "env timing: the same open with the variables set before plugin.Open, for comparison",
            );
            let launch = plan.launch(
                "go-env-before",
                h.path.clone(),
                vec!["--report-fd".into(), "3".into()],
                env_pairs.clone(),
                spec_for(false, false),
            );
            comparison_run = Some(child::run(&launch, &plan.masker)?);
        }
    }
    // --lifecycle-check: one fresh harness process per illegal order.
    let mut check_runs: Vec<(&'static str, &'static [&'static str], ChildRun)> = Vec::new();
    if let (Some(h), Some(check)) = (&harness, &options.lifecycle_check) {
        for &(name, calls) in lifecycle_check::TRANSITIONS {
            progress(&format!(
                "lifecycle check: {} in a fresh process",
                calls.join(" → ")
            ));
            let mut spec: Value =
                serde_json::from_slice(&spec_for(true, false)).expect("spec is JSON");
            if let (Some(obj), Value::Object(extra)) =
                (spec.as_object_mut(), check.spec_fields(calls))
            {
                obj.extend(extra);
            }
            let launch = plan.launch(
                &format!("go-check-{name}"),
                h.path.clone(),
                vec!["--report-fd".into(), "3".into()],
                child_env.clone(),
                serde_json::to_vec(&spec).expect("spec serialises"),
            );
            check_runs.push((name, calls, child::run(&launch, &plan.masker)?));
        }
    }

    // 3. Layers per artifact.
    let harness_label = harness
        .as_ref()
        .map(|h| h.plan.describe())
        .unwrap_or_default();
    let mut artifacts = Vec::new();
    for (i, item) in predicted.artifacts.iter().enumerate() {
        let artifact = item.artifact.as_ref().ok();
        let mut layers = Vec::new();
        let (loader_layer, loader_verdict) =
            observe::loader_layer(&loader_run, i, &user_paths, artifact, &item.load, &path_map);
        layers.push(loader_layer);
        let mut verdict = loader_verdict;
        let mut observed_by = "loader";
        let is_go_plugin = item.go.as_ref().is_some_and(|g| g.role == GoRole::Plugin);
        match (&go_run, &harness_error) {
            (Some(run), _) if is_go_plugin || host_go.is_some() => {
                let (open_layer, go_verdict) =
                    observe::go_open_layer(run, i, &user_paths, item, &path_map, &harness_label);
                let opened = open_layer.status == Status::Pass;
                layers.push(open_layer);
                // `inspect` predicts for the host given: a Go host's plugin.Open, else a
                // C program's dlopen; the observation compared is the same scenario.
                if host_go.is_some() {
                    verdict = go_verdict;
                    observed_by = "go-open";
                }
                layers.push(observe::contract_layer(run, i, &options.expect));
                layers.push(observe::lifecycle_layer(run, i, opened));
                if let Some(check) = &options.lifecycle_check {
                    layers.push(if opened {
                        lifecycle_check::layer(
                            check_runs
                                .iter()
                                .map(|(name, calls, r)| {
                                    lifecycle_check::classify(name, calls, r, i, check)
                                })
                                .collect(),
                        )
                    } else {
                        Layer::new("lifecycle-check", Status::Skip, "plugin not opened")
                    });
                }
                if !options.env.is_empty() {
                    layers.push(if opened {
                        observe::env_layer(
                            &options.env,
                            &masker,
                            options.env_after_open,
                            run,
                            comparison_run.as_ref(),
                            i,
                            item.go.as_ref(),
                        )
                    } else {
                        Layer::new("env", Status::Skip, "plugin not opened")
                    });
                }
                if i == 0 && options.reload > 0 {
                    layers.push(observe::reload_layer(
                        run,
                        predicted.artifacts.len(),
                        &path_map,
                    ));
                }
            }
            (_, Some(err)) if is_go_plugin || host_go.is_some() => {
                layers.push(Layer::new(
                    "go-open",
                    Status::Error,
                    format!("no Go harness: {err}"),
                ));
            }
            _ => {
                let why = if options.loader_only {
                    "--loader-only"
                } else {
                    "not a Go plugin and no Go host"
                };
                layers.push(Layer::new("go-open", Status::Skip, why));
            }
        }
        // Quotas: a limit hit while this artifact was being worked on.
        let through_go = is_go_plugin || host_go.is_some();
        let runs: Vec<&ChildRun> = [Some(&loader_run), go_run.as_ref().filter(|_| through_go)]
            .into_iter()
            .flatten()
            .collect();
        let hits: Vec<String> = runs
            .iter()
            .filter(|r| {
                !r.limits_hit.is_empty()
                    && observe::busy_with(r).is_none_or(|b| {
                        b == i as i64 || (b as usize) >= predicted.artifacts.len() && i == 0
                    })
            })
            .flat_map(|r| {
                r.limits_hit
                    .iter()
                    .map(move |h| format!("{} ({}): {} — {}", h.limit, r.label, h.by, h.detail))
            })
            .collect();
        let quota_status = if hits.is_empty() {
            Status::Pass
        } else {
            Status::Fail
        };
        let quota_reason = if hits.is_empty() {
            let peaks: Vec<String> = runs
                .iter()
                .map(|r| {
                    format!(
                        "{}: peak RSS {:.1} MiB, CPU {} ms, {} threads",
                        r.label,
                        r.resources.peak_rss_kb as f64 / 1024.0,
                        r.resources.cpu_user_ms + r.resources.cpu_system_ms,
                        r.resources.max_threads
                    )
                })
                .collect();
            format!("no limit hit ({})", peaks.join("; "))
        } else {
            hits.join("; ")
        };
        let gaps: Vec<&String> = runs.iter().flat_map(|r| &r.not_enforced).collect();
        let mut gaps: Vec<&String> = gaps.clone();
        gaps.dedup();
        let quota_reason = if gaps.is_empty() {
            quota_reason
        } else {
            format!(
                "{quota_reason}; NOT enforced here: {}",
                gaps.iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        layers.push(Layer::new("limits", quota_status, quota_reason));
        layers.push(seccomp_layer(&plan.launch_base.seccomp, &runs));
        layers.push(isolation_layer(options, &runs));
        let p = &item.load;
        let agrees = p.outcome == verdict.outcome && p.error == verdict.error;
        // A non-std package the harness could not link as the host does (see
        // `harness::link_host_modules`): a difference there is expected, and inspect's.
        let unlinked = |pkg: &Option<String>| {
            pkg.as_deref().is_some_and(|p| {
                !crate::golang::is_std_package(p)
                    && !harness.as_ref().is_some_and(|h| {
                        h.plan
                            .modules
                            .iter()
                            .any(|m| m.packages.iter().any(|x| x == p))
                    })
            })
        };
        let note = (!agrees && observed_by == "go-open" && (unlinked(&p.package) || unlinked(&verdict.package))).then(|| {
            format!(
                "expected difference: the harness could not link the host's own copy of {} (see the harness notes); inspect compares the host's and the plugins' hashes of it statically",
                p.package.clone().or(verdict.package.clone()).unwrap_or_default()
            )
        });
        artifacts.push(ArtifactLoad {
            path: user_paths[i].clone(),
            load: verdict.clone(),
            observed_by,
            prediction: Comparison {
                outcome: p.outcome,
                error: p.error.clone(),
                agrees,
                same_outcome: p.outcome == verdict.outcome,
                note,
                basis: item.basis.clone(),
            },
            layers,
            unreadable: item.artifact.as_ref().err().map(|e| e.to_string()),
        });
    }

    let mut runs = vec![loader_run];
    runs.extend(go_run);
    runs.extend(comparison_run);
    for r in &runs {
        if r.isolation
            .as_ref()
            .is_some_and(|i| i["network_isolated"] == false)
            && options.isolate_network
        {
            notes.push(format!(
                "{}: network NOT isolated: {}",
                r.label,
                r.isolation
                    .as_ref()
                    .map(|i| i["network"].to_string())
                    .unwrap_or_default()
            ));
        }
    }
    let seccomp = seccomp_plan
        .as_ref()
        .map(|sp| seccomp_summary(sp, &runs))
        .transpose()?;
    Ok(Report {
        host: options.host.as_ref().map(|h| h.display().to_string()),
        sandbox: options.sandbox,
        env: options
            .env
            .iter()
            .map(|v| EnvShown {
                name: v.name.clone(),
                value: masker.show(v),
                secret: v.is_secret(),
                origin: v.origin.clone(),
            })
            .collect(),
        env_set: if options.env_after_open {
            "after plugin.Open"
        } else {
            "before plugin.Open (in the environment at exec)"
        },
        artifacts,
        harness,
        harness_error,
        reload: copies,
        seccomp,
        runs,
        notes,
    })
}

fn exports_of(go: Option<&GoFacts>) -> Vec<Value> {
    go.map(|g| {
        g.exports
            .iter()
            .map(|e| {
                json!({"name": e.name, "kind": match e.kind {
                    crate::golang::ExportKind::Func => "func",
                    crate::golang::ExportKind::Var => "var",
                    crate::golang::ExportKind::Unknown => "unknown",
                }})
            })
            .collect()
    })
    .unwrap_or_default()
}

fn seccomp_layer(plan: &seccomp::Plan, runs: &[&ChildRun]) -> Layer {
    let reports: Vec<(&str, &seccomp::SeccompReport)> = runs
        .iter()
        .filter_map(|r| r.seccomp.as_ref().map(|s| (r.label.as_str(), s)))
        .collect();
    if let Some((label, e)) = reports
        .iter()
        .find_map(|(l, r)| r.error.as_ref().map(|e| (*l, e)))
    {
        return Layer::new("seccomp", Status::Error, format!("{label}: {e}"));
    }
    let installed: Vec<String> = reports
        .iter()
        .filter_map(|(l, r)| r.installed.as_ref().map(|i| format!("{l}: {i}")))
        .collect();
    if plan.learn {
        let per_run: Vec<String> = reports
            .iter()
            .map(|(l, r)| format!("{l}: {} distinct calls", r.syscalls.len()))
            .collect();
        return Layer::new(
            "seccomp",
            Status::Pass,
            format!(
                "learned ({}); one profile is written for all runs",
                per_run.join(", ")
            ),
        );
    }
    let denied: Vec<String> = reports
        .iter()
        .flat_map(|(label, r)| {
            r.denied.iter().map(move |d| {
                format!(
                    "{} ({}, {}x, {}, by the {}, first after {} ms)",
                    d.syscall,
                    label,
                    d.count,
                    d.action.describe(),
                    if d.by == "deny-list" {
                        "default deny-list"
                    } else {
                        "profile"
                    },
                    d.at_ms
                )
            })
        })
        .collect();
    let what = if plan.profile_path.is_some() {
        "profile + default deny-list enforced"
    } else {
        "default deny-list enforced"
    };
    let unnamed = reports.iter().any(|(_, r)| {
        r.installed
            .as_deref()
            .is_some_and(|i| i.contains("not named"))
    });
    if denied.is_empty() {
        Layer::new(
            "seccomp",
            Status::Pass,
            if unnamed {
                format!(
                    "{what} in the kernel: denied calls fail but cannot be named here ({})",
                    installed.join("; ")
                )
            } else {
                format!("{what}: no system call denied")
            },
        )
    } else {
        Layer::new(
            "seccomp",
            Status::Fail,
            format!("DENIED: {}", denied.join(", ")),
        )
    }
}

/// The isolation the probe verified inside each sandbox before the target ran; a claim
/// that did not hold fails the layer (a choice like `--network host` is not a failure).
fn isolation_layer(options: &Options, runs: &[&ChildRun]) -> Layer {
    let mut broken = Vec::new();
    let mut held = Vec::new();
    for r in runs {
        let Some(i) = &r.isolation else {
            broken.push(format!("{}: the sandbox stage did not report", r.label));
            continue;
        };
        let mut claims = vec![
            ("pid_isolated", "own PID namespace"),
            ("env_isolated", "no plugctl variable readable"),
            ("cgroup_locked", "cgroups not writable"),
            ("escapes_blocked", "no mount/setns/unshare/ptrace"),
        ];
        if options.isolate_network {
            claims.push(("network_isolated", "no network"));
        }
        if options.readonly {
            claims.push(("readonly", "read-only file system"));
        }
        for (key, text) in claims {
            if i[key] == true {
                if !held.contains(&text) {
                    held.push(text);
                }
            } else {
                broken.push(format!("{}: NOT {text}", r.label));
            }
        }
        if i["privileges_dropped"] != true {
            broken.push(format!(
                "{}: capabilities {} / no_new_privs {}",
                r.label, i["probe"]["cap_eff"], i["probe"]["no_new_privs"]
            ));
        }
    }
    if broken.is_empty() {
        Layer::new(
            "isolation",
            Status::Pass,
            format!(
                "verified inside the sandbox before loading: {}",
                held.join(", ")
            ),
        )
    } else {
        Layer::new("isolation", Status::Fail, broken.join("; "))
    }
}

fn seccomp_summary(plan: &seccomp::Plan, runs: &[ChildRun]) -> Result<SeccompSummary> {
    let mut s = SeccompSummary {
        mode: if plan.learn {
            "learn".into()
        } else {
            "enforce".into()
        },
        method: String::new(),
        profile: plan.profile_path.as_ref().map(|p| p.display().to_string()),
        syscalls: BTreeMap::new(),
        baseline: Vec::new(),
        first_denied: None,
        denied: Vec::new(),
        warnings: plan.warnings.clone(),
        errors: Vec::new(),
    };
    for r in runs {
        let Some(rep) = &r.seccomp else { continue };
        s.method = rep.method.clone();
        if let Some(e) = &rep.error {
            s.errors.push(format!("{}: {e}", r.label));
        }
        for (k, v) in &rep.syscalls {
            *s.syscalls.entry(k.clone()).or_insert(0) += v;
        }
        for d in &rep.denied {
            s.denied.push(d.clone());
        }
    }
    s.first_denied = s.denied.first().cloned();
    if plan.learn {
        let mut all = s.syscalls.clone();
        for b in GO_RUNTIME_BASELINE {
            if !all.contains_key(*b) {
                s.baseline.push((*b).to_string());
                all.insert((*b).to_string(), 0);
            }
        }
        if s.errors.is_empty() {
            let profile = seccomp::learned_profile(&all);
            let path = plan.profile_path.clone().expect("learn has an output path");
            std::fs::write(&path, serde_json::to_string_pretty(&profile)? + "\n")
                .with_context(|| format!("writing the seccomp profile {}", path.display()))?;
        }
    }
    Ok(s)
}
