//! `plugctl load`: load plugins for real, each load in sandboxed child processes, and
//! report every layer next to `inspect`'s prediction.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::{ExitStatus, stdout_style, values, write_stdout};
use crate::cli::{Format, GlobalArgs};
use crate::report;
use crate::report::progress::Progress;
use crate::runtime::contract::{self, Lifecycle};
use crate::runtime::{self, EnvVar, Expect, Limits, Sandbox, env};

pub const EXAMPLES: &str = "\
Examples:
  plugctl load plugin.so                          dlopen + plugin.Open + lifecycle, sandboxed
  plugctl load --host ./server a.so b.so          harness mirrors ./server's toolchain and flags
  plugctl load --expect 'Handler=func(context.Context, string) (string, error)' p.so
  plugctl load --env DEEPSEEK_API_KEY=sk-test --env-after-open p.so
                                                  did the plugin see a variable set after Open?
  plugctl load --reload 3 --source ./plugin p.so  goroutine and RSS growth per hot reload
  plugctl load --memory 256M --cpu-time 10s --max-pids 64 p.so
  plugctl load --seccomp learn profile.json p.so  write a Docker/OCI seccomp profile
  plugctl load --seccomp enforce profile.json p.so    run under it, name the first denied call
  plugctl load --wasm --memory 64M ./plugin       the package as WebAssembly, interpreted

  plugctl load --trace --trace-out load.json p.so  eBPF: syscalls, files, network, panics per phase";

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Plugins or shared objects, opened in this order by one process (with --wasm: the
    /// plugins' source package directories).
    #[arg(required = true, value_name = "PLUGIN")]
    pub plugins: Vec<PathBuf>,

    /// The Go program that will load them: the harness mirrors its toolchain and flags.
    #[arg(long, value_name = "HOST")]
    pub host: Option<PathBuf>,

    /// Build the harness with this Go release (with the plugin's flags).
    #[arg(long = "go", value_name = "VERSION")]
    pub go: Option<String>,

    /// dlopen with RTLD_LAZY in the loader layer (Go always uses RTLD_NOW).
    #[arg(long)]
    pub lazy: bool,

    /// Only the loader layer (the C shim), no Go harness.
    #[arg(long)]
    pub loader_only: bool,

    /// Pass NAME=VALUE (or NAME, taking plugctl's own value) to the child; repeatable.
    /// The child's environment holds nothing else. Values of secret-looking names are masked.
    #[arg(long = "env", value_name = "NAME[=VALUE]", value_parser = values::env_var)]
    pub env: Vec<EnvVar>,

    /// Read variables from a dotenv-style file; repeatable.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,

    /// Set the variables after plugin.Open instead of before, and report whether the plugin saw them.
    #[arg(long)]
    pub env_after_open: bool,

    /// Expected export and Go type, e.g. 'Handler=func(context.Context) error'; repeatable.
    #[arg(long = "expect", value_name = "NAME[=TYPE]", value_parser = values::expect)]
    pub expect: Vec<Expect>,

    /// A contract file (TOML: [expect] NAME = "TYPE", [lifecycle] init/run/close/phase_timeout).
    #[arg(long, value_name = "FILE")]
    pub contract: Option<PathBuf>,

    /// Name of the init function ("" for none).
    #[arg(long = "init", value_name = "NAME")]
    pub init_fn: Option<String>,
    /// Name of the run function ("" for none).
    #[arg(long = "run", value_name = "NAME")]
    pub run_fn: Option<String>,
    /// Name of the close function ("" for none).
    #[arg(long = "close", value_name = "NAME")]
    pub close_fn: Option<String>,
    /// Time each lifecycle phase may take (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    pub phase_timeout: Option<Duration>,
    /// Cancel Run's context after this long (default: never).
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    pub run_for: Option<Duration>,
    /// Also call the illegal orders (Run before Init, Init twice, Run after Close, Close
    /// twice), each in a fresh process, and report refused/panicked/hung/accepted; the
    /// contract file's [lifecycle_check] states what is expected (default: refused).
    /// Timeouts: Init/Run/Close 3s (--phase-timeout overrides), Run cancelled after 500ms.
    #[arg(long)]
    pub lifecycle_check: bool,

    /// Wall-clock limit per child process.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = values::duration)]
    pub timeout: Duration,

    /// Open N rebuilt copies one after another in one host (needs --source).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub reload: usize,
    /// The plugin's main package directory, for --reload.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,

    /// Memory limit (cgroup memory controller; RLIMIT_DATA as a backstop), e.g. 256M.
    #[arg(long, value_name = "SIZE", value_parser = values::size)]
    pub memory: Option<u64>,
    /// CPU time limit (RLIMIT_CPU), e.g. 10s.
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    pub cpu_time: Option<Duration>,
    /// CPU bandwidth in CPUs (cgroup cpu controller), e.g. 0.5.
    #[arg(long, value_name = "CPUS", value_parser = values::cpus)]
    pub cpus: Option<f64>,
    /// Maximum tasks, threads included (pids cgroup; RLIMIT_NPROC).
    #[arg(long, visible_alias = "max-threads", value_name = "N")]
    pub max_pids: Option<u64>,
    /// Maximum open files (RLIMIT_NOFILE).
    #[arg(long, value_name = "N")]
    pub open_files: Option<u64>,

    /// Network for the child: `none` (a new, empty network namespace) or `host`.
    #[arg(long, value_enum, default_value_t = Network::None)]
    pub network: Network,
    /// Do not make the file system read-only for the child.
    #[arg(long)]
    pub writable: bool,

    /// `learn [OUT.json]` (default seccomp-profile.json) or `enforce PROFILE.json`.
    // Two words: read by `values::seccomp_mode` (a value parser sees one value at a time).
    #[arg(long, num_args = 1..=2, value_names = ["MODE", "PROFILE"])]
    pub seccomp: Option<Vec<String>>,

    /// `native` (namespaces, cgroups, rlimits, seccomp) or `gvisor` (runsc, when installed).
    #[arg(long, value_enum, default_value_t = SandboxArg::Native)]
    pub sandbox: SandboxArg,

    /// `--wasm`, `--fuel`, `--allow-dir` (boxed: the command enum stays small).
    #[command(flatten)]
    pub wasm: Box<super::wasm::WasmArgs>,
    /// Trace every child with eBPF (syscalls, files, network, processes, page
    /// allocations, Go panics) per phase; as root. Without BPF privileges: syscall counts
    /// from the seccomp listener.
    #[arg(long)]
    pub trace: bool,
    /// Write the trace as a Chrome Trace Event / Perfetto timeline (implies --trace).
    #[arg(long, value_name = "FILE.json")]
    pub trace_out: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Network {
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxArg {
    Native,
    Gvisor,
}

/// The typed flags, merged with `--env-file`s and the contract file, as the runtime's
/// options.
pub fn options(args: &LoadArgs) -> Result<runtime::LoadOptions> {
    let mut vars = Vec::new();
    for file in &args.env_file {
        vars.extend(values::env_file(file)?);
    }
    vars.extend(args.env.iter().cloned());
    let vars = env::merge(vars);
    let file = match &args.contract {
        Some(path) => contract::read_contract_file(path)?,
        None => contract::ContractFile::default(),
    };
    let mut expect = file.expect.clone();
    for e in &args.expect {
        expect.retain(|x| x.name != e.name);
        expect.push(e.clone());
    }
    let mut lifecycle = Lifecycle::default();
    let pick =
        |cli: &Option<String>, file: &Option<Option<String>>, default: Option<String>| match cli {
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(v.trim().to_string()),
            None => file.clone().unwrap_or(default),
        };
    lifecycle.init = pick(&args.init_fn, &file.init, lifecycle.init.clone());
    lifecycle.run = pick(&args.run_fn, &file.run, lifecycle.run.clone());
    lifecycle.close = pick(&args.close_fn, &file.close, lifecycle.close.clone());
    if let Some(d) = args.phase_timeout.or(file.phase_timeout) {
        lifecycle.phase_timeout = d;
    }
    if let Some(d) = args.run_for.or(file.run_for) {
        lifecycle.run_for = d;
    }
    let lifecycle_check = args.lifecycle_check.then(|| {
        let mut check = file.lifecycle_check.clone();
        if let Some(d) = args.phase_timeout {
            check.init_timeout = d;
            check.run_timeout = d;
            check.close_timeout = d;
        }
        if let Some(d) = args.run_for {
            check.run_for = d;
        }
        check
    });
    let seccomp = args
        .seccomp
        .as_deref()
        .map(values::seccomp_mode)
        .transpose()?;
    if args.reload > 0 && args.source.is_none() {
        bail!(
            "--reload {} needs --source DIR: copies with distinct plugin paths are rebuilt from source",
            args.reload
        );
    }
    Ok(runtime::LoadOptions {
        host: args.host.clone(),
        go: args.go.clone(),
        lazy: args.lazy,
        env: vars,
        env_after_open: args.env_after_open,
        expect,
        lifecycle,
        reload: args.reload,
        source: args.source.clone(),
        timeout: args.timeout,
        limits: Limits {
            memory: args.memory,
            cpu_time: args.cpu_time,
            max_pids: args.max_pids,
            open_files: args.open_files,
            cpus: args.cpus,
        },
        isolate_network: args.network == Network::None,
        readonly: !args.writable,
        seccomp,
        sandbox: match args.sandbox {
            SandboxArg::Native => Sandbox::Native,
            SandboxArg::Gvisor => Sandbox::Gvisor,
        },
        loader_only: args.loader_only,
        lifecycle_check,
        trace: args.trace || args.trace_out.is_some(),
        ..runtime::LoadOptions::new(args.plugins.clone())
    })
}

pub fn run(args: &LoadArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    let options = options(args)?;
    if args.wasm.wasm {
        return super::wasm::load(args, options, global);
    }
    let progress = Progress::new(global.quiet);
    let report = runtime::load(&options, &|step: &str| progress.step(step))?;
    progress.finish();
    if let Some(out) = &args.trace_out {
        std::fs::write(out, report::perfetto::timeline(&report))
            .with_context(|| format!("writing the trace timeline {}", out.display()))?;
    }
    let text = match args.format {
        Format::Json => report::load::json(&report),
        Format::Table => report::load::table(&report, stdout_style(global.color)),
    };
    if !(global.quiet && args.format == Format::Table) {
        write_stdout(&text)?;
    }
    Ok(exit_status(&report))
}

/// 2 when an input is unreadable or a layer could not run; 1 when a layer failed; else 0.
pub fn exit_status(report: &runtime::LoadReport) -> ExitStatus {
    if report.artifacts.iter().any(|a| a.unreadable.is_some()) {
        return ExitStatus::Error;
    }
    ExitStatus::of_loads(report.artifacts.iter().map(|a| a.worst()))
}
