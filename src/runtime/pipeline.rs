//! The stages of one load ([`load`]): predict, plan the sandbox, run the loader child,
//! plan and build the Go harness, run the Go children, then read every artifact's layers
//! out of what the children reported.
//!
//! A new kind of child (a WASM interpreter, say): a `run_*` stage next to
//! [`run_loader`] and [`run_go`] returning its [`ChildRun`], a layer function in its own
//! module (as [`observe`] has for the shim and the harness), and one `layers.push` in
//! [`artifact_load`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::containment::{isolation_layer, limits_layer, seccomp_layer, seccomp_summary};
use super::harness::{ExportSpec, Harness, HarnessSpec, PluginSpec};
use super::trace;
use super::{
    ArtifactLoad, ChildRun, Comparison, EnvShown, Layer, LayerStatus, LoadOptions, LoadReport,
    Masker, Sandbox, bwrap, child, harness, lifecycle_check, observe, reload, runsc, seccomp,
};
use crate::golang::{GoFacts, GoRole};
use crate::predict;

/// Loads the plugins for real and reports every layer.
pub fn load(options: &LoadOptions, progress: &dyn Fn(&str)) -> Result<LoadReport> {
    if options.plugins.is_empty() {
        bail!("no plugin given");
    }
    let inputs = Inputs::predict(options)?;
    check_sandbox(options)?;
    let mut plan = Plan::new(options, &inputs)?;
    let loader_run = run_loader(options, &inputs, &plan, progress)?;
    let mut notes = Vec::new();
    let (harness, harness_error) = go_harness(options, &inputs, &mut notes, progress);
    let copies = reload_copies(options, &inputs, progress)?;
    let go = match &harness {
        Some(h) => run_go(options, &inputs, &mut plan, h, copies.as_ref(), progress)?,
        None => GoRuns::default(),
    };
    let children = Children {
        loader: &loader_run,
        go: &go,
        harness: harness.as_ref(),
        harness_error: harness_error.as_deref(),
    };
    let artifacts = (0..inputs.predicted.artifacts.len())
        .map(|i| artifact_load(i, options, &inputs, &plan, &children))
        .collect();

    let mut runs = vec![loader_run];
    runs.extend(go.main);
    runs.extend(go.comparison);
    for r in &runs {
        if let Some(i) = &r.isolation
            && !i.network_isolated
            && options.isolate_network
        {
            notes.push(format!(
                "{}: network NOT isolated: {:?}",
                r.label, i.network
            ));
        }
    }
    let seccomp = plan
        .seccomp
        .as_ref()
        .map(|sp| seccomp_summary(sp, &runs))
        .transpose()?;
    Ok(LoadReport {
        host: options.host.as_ref().map(|h| h.display().to_string()),
        sandbox: options.sandbox,
        env: options
            .env
            .iter()
            .map(|v| EnvShown {
                name: v.name.clone(),
                value: plan.masker.show(v),
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

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// The inputs as given and as the children see them, and what `inspect` predicts for the
/// same host, plugins and (clean) environment.
struct Inputs {
    /// As the user gave them (for messages).
    user_paths: Vec<String>,
    /// As passed to the children.
    abs_paths: Vec<PathBuf>,
    path_map: observe::PathMap,
    ld_library_path: String,
    predicted: predict::Report,
    /// The `--host`, when it is a Go program.
    host_go: Option<GoFacts>,
}

impl Inputs {
    fn predict(options: &LoadOptions) -> Result<Inputs> {
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
                process: None,
            },
        )?;
        let host_go: Option<GoFacts> = predicted
            .host
            .as_ref()
            .and_then(|h| h.go.clone())
            .filter(|g| g.role != GoRole::Plugin);
        Ok(Inputs {
            user_paths,
            abs_paths,
            path_map,
            ld_library_path,
            predicted,
            host_go,
        })
    }

    /// The Go plugins among the inputs, with their index.
    fn go_plugins(&self) -> Vec<(usize, &GoFacts)> {
        self.predicted
            .artifacts
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                a.go.as_ref()
                    .filter(|g| g.role == GoRole::Plugin)
                    .map(|g| (i, g))
            })
            .collect()
    }

    fn first_plugin_facts(&self) -> Option<&GoFacts> {
        self.go_plugins().first().map(|(_, g)| *g)
    }
}

/// The sandbox program must exist: a clear error (exit 2) before any child runs.
fn check_sandbox(options: &LoadOptions) -> Result<()> {
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
    Ok(())
}

/// What every child of this load shares: the sandbox, its binds and quotas, the seccomp
/// filter and the environment.
struct Plan {
    launch_base: child::Launch,
    masker: Masker,
    /// `--seccomp learn|enforce`; `None`: the default deny-list only.
    seccomp: Option<Arc<seccomp::Plan>>,
    /// `--env` as pairs.
    env_pairs: Vec<(String, String)>,
    /// The environment at exec: empty with `--env-after-open`.
    child_env: Vec<(String, String)>,
}

impl Plan {
    fn new(options: &LoadOptions, inputs: &Inputs) -> Result<Plan> {
        // The inputs and everything they resolve to are bound read-only into the sandbox.
        let bound_inputs: Vec<PathBuf> = inputs
            .abs_paths
            .iter()
            .cloned()
            .chain(options.host.iter().map(|h| absolute(h)))
            .collect();
        let mut binds: Vec<PathBuf> = inputs
            .predicted
            .artifacts
            .iter()
            .flat_map(|a| a.tree.nodes.iter().filter_map(|n| n.path.as_ref()))
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .collect();
        binds.extend(
            inputs
                .ld_library_path
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
        let tracer = options.trace.then(|| {
            Arc::new(trace::Tracer::new(
                options.sandbox,
                inputs.abs_paths.clone(),
            ))
        });
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
        Ok(Plan {
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
                inputs: bound_inputs,
                binds,
                trace: tracer,
            },
            masker: Masker::new(&options.env),
            seccomp: seccomp_plan,
            env_pairs,
            child_env,
        })
    }

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

    /// One run of the Go harness reading `spec`.
    fn run_harness(
        &self,
        label: &str,
        harness: &Harness,
        env: Vec<(String, String)>,
        spec: &HarnessSpec,
    ) -> Result<ChildRun> {
        let launch = self.launch(
            label,
            harness.path.clone(),
            vec!["--report-fd".into(), "3".into()],
            env,
            serde_json::to_vec(spec).expect("spec serialises"),
        );
        child::run(&launch, &self.masker)
    }
}

/// Loader layer: the C shim, every object in order, one process.
fn run_loader(
    options: &LoadOptions,
    inputs: &Inputs,
    plan: &Plan,
    progress: &dyn Fn(&str),
) -> Result<ChildRun> {
    let exe = child::own_exe()?;
    let mut shim_args = vec!["__shim".to_string(), "--report-fd".into(), "3".into()];
    if options.lazy {
        shim_args.push("--lazy".into());
    }
    shim_args.push("--".into());
    shim_args.extend(inputs.abs_paths.iter().map(|p| p.display().to_string()));
    progress("loader layer: dlopen in a sandboxed child");
    child::run(
        &plan.launch("loader", exe, shim_args, plan.child_env.clone(), Vec::new()),
        &plan.masker,
    )
}

/// The Go harness: mirroring `--go`, the Go host, or the first Go plugin; built (or
/// found in the cache). `(None, Some(why))` when it cannot be.
fn go_harness(
    options: &LoadOptions,
    inputs: &Inputs,
    notes: &mut Vec<String>,
    progress: &dyn Fn(&str),
) -> (Option<Harness>, Option<String>) {
    let go_plugins = inputs.go_plugins();
    if go_plugins.len() > 1 && options.host.is_none() && options.go.is_none() {
        notes.push(format!(
            "one harness opens every plugin, as one host would; it mirrors the first Go plugin ({})",
            inputs.user_paths[go_plugins[0].0]
        ));
    }
    let wants_go = !options.loader_only && (!go_plugins.is_empty() || inputs.host_go.is_some());
    if !wants_go {
        return (None, None);
    }
    let harness_plan = if let Some(v) = &options.go {
        harness::plan_for_version(v, inputs.first_plugin_facts())
    } else if let (Some(h), Some(path)) = (&inputs.host_go, &options.host) {
        let plugins: Vec<&GoFacts> = go_plugins.iter().map(|(_, g)| *g).collect();
        let host_artifact = inputs.predicted.host.as_ref().map(|host| &host.artifact);
        harness::plan_from(h, format!("host {}", path.display())).map(|mut plan| {
            if let Some(artifact) = host_artifact {
                harness::link_host_modules(&mut plan, h, artifact, &plugins);
            }
            plan
        })
    } else {
        let (i, facts) = go_plugins[0];
        harness::plan_from(facts, format!("plugin {}", inputs.user_paths[i]))
    };
    match harness_plan.and_then(|p| harness::ensure(&p, progress)) {
        Ok(h) => (Some(h), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    }
}

/// Hot-reload copies (`--reload N`), rebuilt from `--source`.
fn reload_copies(
    options: &LoadOptions,
    inputs: &Inputs,
    progress: &dyn Fn(&str),
) -> Result<Option<reload::Copies>> {
    if options.reload == 0 {
        return Ok(None);
    }
    let source = options
        .source
        .as_ref()
        .context("--reload needs --source DIR (the plugin's main package)")?;
    let facts = inputs
        .first_plugin_facts()
        .context("--reload: the first plugin is not a Go plugin")?;
    Ok(Some(reload::copies(
        source,
        facts,
        options.reload,
        progress,
    )?))
}

/// The harness runs of one load.
#[derive(Default)]
struct GoRuns {
    /// plugin.Open, contract, lifecycle, env, reload.
    main: Option<ChildRun>,
    /// `--env-after-open`: the same open with the variables set before, for comparison.
    comparison: Option<ChildRun>,
    /// `--lifecycle-check`: one fresh process per illegal order.
    checks: Vec<(&'static str, &'static [&'static str], ChildRun)>,
}

/// What the harness is asked to do: with the lifecycle (and `--expect`) or only the open,
/// with or without the reload copies.
fn harness_spec(
    options: &LoadOptions,
    inputs: &Inputs,
    plan: &Plan,
    copies: Option<&reload::Copies>,
    lifecycle: bool,
    with_reload: bool,
) -> HarnessSpec {
    let plugins: Vec<PluginSpec> = inputs
        .abs_paths
        .iter()
        .zip(&inputs.predicted.artifacts)
        .map(|(p, a)| {
            // Without a Go host, only Go plugins go through plugin.Open.
            let go_plugin = a.go.as_ref().is_some_and(|g| g.role == GoRole::Plugin);
            PluginSpec {
                path: p.clone(),
                exports: ExportSpec::of(a.go.as_ref()),
                skip: !go_plugin && inputs.host_go.is_none(),
            }
        })
        .collect();
    let reload: Vec<PluginSpec> = match copies {
        Some(c) if with_reload => c
            .paths
            .iter()
            .map(|p| PluginSpec {
                path: p.clone(),
                exports: ExportSpec::of(inputs.first_plugin_facts()),
                skip: false,
            })
            .collect(),
        _ => Vec::new(),
    };
    let l = &options.lifecycle;
    let name = |n: &Option<String>| {
        if lifecycle {
            n.clone().unwrap_or_default()
        } else {
            String::new()
        }
    };
    HarnessSpec {
        plugins,
        expect: if lifecycle {
            options.expect.clone()
        } else {
            Vec::new()
        },
        init: name(&l.init),
        run: name(&l.run),
        close: name(&l.close),
        phase_timeout_ms: l.phase_timeout.as_millis() as u64,
        run_for_ms: l.run_for.as_millis() as u64,
        env_after_open: if options.env_after_open {
            plan.env_pairs
                .iter()
                .map(|(k, v)| [k.clone(), v.clone()])
                .collect()
        } else {
            Vec::new()
        },
        watch: options.env.iter().map(|v| v.name.clone()).collect(),
        reload,
        settle_ms: 100,
        ..HarnessSpec::default()
    }
}

/// Go layers: the harness once for every Go layer, again for `--env-after-open`'s
/// comparison, and once per illegal order for `--lifecycle-check`.
fn run_go(
    options: &LoadOptions,
    inputs: &Inputs,
    plan: &mut Plan,
    h: &Harness,
    copies: Option<&reload::Copies>,
    progress: &dyn Fn(&str),
) -> Result<GoRuns> {
    let spec = |plan: &Plan, lifecycle, with_reload| {
        harness_spec(options, inputs, plan, copies, lifecycle, with_reload)
    };
    progress("Go layers: plugin.Open, contract, lifecycle in a sandboxed harness");
    plan.launch_base
        .binds
        .extend(copies.iter().flat_map(|c| c.paths.iter().cloned()));
    let mut runs = GoRuns {
        main: Some(plan.run_harness("go", h, plan.child_env.clone(), &spec(plan, true, true))?),
        ..GoRuns::default()
    };
    if options.env_after_open && !options.env.is_empty() {
        progress(
            "env timing: the same open with the variables set before plugin.Open, for comparison",
        );
        runs.comparison = Some(plan.run_harness(
            "go-env-before",
            h,
            plan.env_pairs.clone(),
            &spec(plan, false, false),
        )?);
    }
    if let Some(check) = &options.lifecycle_check {
        for &(name, calls) in lifecycle_check::TRANSITIONS {
            progress(&format!(
                "lifecycle check: {} in a fresh process",
                calls.join(" → ")
            ));
            let spec = check.spec(&spec(plan, true, false), calls);
            let run = plan.run_harness(
                &format!("go-check-{name}"),
                h,
                plan.child_env.clone(),
                &spec,
            )?;
            runs.checks.push((name, calls, run));
        }
    }
    Ok(runs)
}

/// What the children of one load reported, and the harness they ran.
struct Children<'a> {
    loader: &'a ChildRun,
    go: &'a GoRuns,
    harness: Option<&'a Harness>,
    /// Why there is no harness, when a Go layer needed one.
    harness_error: Option<&'a str>,
}

/// Every layer of artifact `i`, and its observed verdict next to the prediction.
fn artifact_load(
    i: usize,
    options: &LoadOptions,
    inputs: &Inputs,
    plan: &Plan,
    children: &Children,
) -> ArtifactLoad {
    let Children {
        loader: loader_run,
        go,
        harness,
        harness_error,
    } = *children;
    let item = &inputs.predicted.artifacts[i];
    let user_paths = &inputs.user_paths;
    let mut layers = Vec::new();
    let (loader_layer, loader_verdict) =
        observe::loader_layer(loader_run, i, user_paths, &item.load, &inputs.path_map);
    layers.push(loader_layer);
    let mut verdict = loader_verdict;
    let mut observed_by = "loader";
    let is_go_plugin = item.go.as_ref().is_some_and(|g| g.role == GoRole::Plugin);
    let through_go = is_go_plugin || inputs.host_go.is_some();
    match (&go.main, harness_error) {
        (Some(run), _) if through_go => {
            let harness_label = harness.map(|h| h.plan.describe()).unwrap_or_default();
            let (open_layer, go_verdict) =
                observe::go_open_layer(run, i, user_paths, item, &inputs.path_map, &harness_label);
            let opened = open_layer.status == LayerStatus::Pass;
            layers.push(open_layer);
            // `inspect` predicts for the host given: a Go host's plugin.Open, else a
            // C program's dlopen; the observation compared is the same scenario.
            if inputs.host_go.is_some() {
                verdict = go_verdict;
                observed_by = "go-open";
            }
            layers.push(observe::contract_layer(run, i, &options.expect));
            layers.push(observe::lifecycle_layer(run, i, opened));
            if let Some(check) = &options.lifecycle_check {
                layers.push(if opened {
                    lifecycle_check::layer(
                        go.checks
                            .iter()
                            .map(|(name, calls, r)| {
                                lifecycle_check::classify(name, calls, r, i, check)
                            })
                            .collect(),
                    )
                } else {
                    Layer::new("lifecycle-check", LayerStatus::Skip, "plugin not opened")
                });
            }
            if !options.env.is_empty() {
                layers.push(if opened {
                    observe::env_layer(
                        &options.env,
                        &plan.masker,
                        options.env_after_open,
                        run,
                        go.comparison.as_ref(),
                        i,
                        item.go.as_ref(),
                    )
                } else {
                    Layer::new("env", LayerStatus::Skip, "plugin not opened")
                });
            }
            if i == 0 && options.reload > 0 {
                layers.push(observe::reload_layer(
                    run,
                    inputs.predicted.artifacts.len(),
                    &inputs.path_map,
                ));
            }
        }
        (_, Some(err)) if through_go => {
            layers.push(Layer::new(
                "go-open",
                LayerStatus::Error,
                format!("no Go harness: {err}"),
            ));
        }
        _ => {
            let why = if options.loader_only {
                "--loader-only"
            } else {
                "not a Go plugin and no Go host"
            };
            layers.push(Layer::new("go-open", LayerStatus::Skip, why));
        }
    }
    // The sandbox's own layers, over the runs this artifact went through.
    let runs: Vec<&ChildRun> = [Some(loader_run), go.main.as_ref().filter(|_| through_go)]
        .into_iter()
        .flatten()
        .collect();
    layers.push(limits_layer(&runs, i, inputs.predicted.artifacts.len()));
    layers.push(seccomp_layer(&plan.launch_base.seccomp, &runs));
    layers.push(isolation_layer(options, &runs));
    let p = &item.load;
    let agrees = p.outcome == verdict.outcome && p.error == verdict.error;
    // A non-std package the harness could not link as the host does (see
    // `harness::link_host_modules`): a difference there is expected, and inspect's.
    let unlinked = |pkg: &Option<String>| {
        pkg.as_deref().is_some_and(|p| {
            !crate::golang::is_std_package(p)
                && !harness.is_some_and(|h| {
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
    ArtifactLoad {
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
    }
}
