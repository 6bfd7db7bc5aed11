//! `plugctl matrix`: build real hosts and plugins for every row of a matrix of claims,
//! load them for real, compare with `inspect`'s prediction, judge each claim; and
//! `plugctl matrix merge` to combine the shards CI spread over machines.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use super::{ExitStatus, stdout_style, write_stdout};
use crate::cli::GlobalArgs;
use crate::matrix::{self, Definition, Reporter, RowResult, Selection, def, sources};
use crate::report;
use crate::report::progress::Progress;

pub const EXAMPLES: &str = "\
Examples:
  plugctl matrix                                 every row of the built-in default matrix
  plugctl matrix --only 'claim:seed-*' -j 2      the seed article's claims only
  plugctl matrix --only trimpath-plugin-only,patch-skew --format json
  plugctl matrix --go 1.26.6,1.27.3              rows naming no Go release run once per release
  plugctl matrix --file my-matrix.toml --skip tag:cross
  plugctl matrix --list                          the rows, their builds and claims
  plugctl matrix --shard 1/3 --format json > s1.json   (one CI machine of three)
  plugctl matrix merge s1.json s2.json s3.json --format markdown > MATRIX.md";

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MatrixArgs {
    #[command(subcommand)]
    pub action: Option<MatrixAction>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum MatrixAction {
    /// Combine shard reports (`plugctl matrix --shard I/N --format json`) into one report.
    Merge(MergeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatrixFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Matrix definition (TOML); default: the built-in matrix/default.toml.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Only these rows: ids, globs (`*`), `claim:ID` or `tag:TAG`; comma-separated, repeatable.
    #[arg(long, value_delimiter = ',', value_name = "PATTERNS")]
    pub only: Vec<String>,
    /// Leave out these rows (same patterns as --only).
    #[arg(long, value_delimiter = ',', value_name = "PATTERNS")]
    pub skip: Vec<String>,
    /// Go releases for rows that name none, e.g. 1.26.6,1.27.3 (each such row runs per release).
    #[arg(long = "go", value_delimiter = ',', value_name = "VERSIONS")]
    pub go: Vec<String>,
    /// Rows run at the same time (default: the number of CPUs).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run shard I of N: rows I, I+N, I+2N, ... of the selection (combine with `matrix merge`).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Load again even when a result for the same artifacts is cached (builds stay cached).
    #[arg(long)]
    pub fresh: bool,
    /// Build plugins with `go build` directly, not through `plugctl build`'s engine.
    #[arg(long)]
    pub no_engine: bool,
    /// List the selected rows and their builds, run nothing.
    #[arg(long)]
    pub list: bool,
    /// Cache of builds and results (default: <plugctl cache>/matrix).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = MatrixFormat::Table)]
    pub format: MatrixFormat,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports of the shards.
    #[arg(required = true, value_name = "REPORT.json")]
    pub reports: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = MatrixFormat::Table)]
    pub format: MatrixFormat,
}

pub fn run(args: &MatrixArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    match &args.action {
        Some(MatrixAction::Merge(m)) => merge(m, global),
        None => run_matrix(&args.run, global),
    }
}

fn definition(args: &RunArgs) -> Result<Definition> {
    match &args.file {
        Some(f) => Definition::read(f),
        None => sources::builtin(),
    }
}

fn run_matrix(args: &RunArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    let def = definition(args)?;
    let selection = Selection {
        go: args.go.clone(),
        only: args.only.clone(),
        skip: args.skip.clone(),
        shard: args.shard.as_deref().map(def::parse_shard).transpose()?,
    };
    if args.list {
        let (rows, _) = def.expand(&selection)?;
        write_stdout(&report::matrix::list(&rows))?;
        return Ok(ExitStatus::Success);
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let options = matrix::RunOptions {
        selection,
        jobs,
        fresh: args.fresh,
        engine: !args.no_engine,
        cache: args.cache_dir.clone().unwrap_or_else(matrix::default_cache),
    };
    let progress = StderrReporter::new(global.quiet, global.verbose > 0);
    let report = matrix::run(&def, &options, &progress)?;
    emit(&report, args.format, global)
}

fn merge(args: &MergeArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    let reports = args
        .reports
        .iter()
        .map(|p| matrix::read_report(p))
        .collect::<Result<Vec<_>>>()?;
    let report = matrix::merge(reports)?;
    emit(&report, args.format, global)
}

fn emit(report: &matrix::Report, format: MatrixFormat, global: &GlobalArgs) -> Result<ExitStatus> {
    let text = match format {
        MatrixFormat::Json => report::matrix::json(report),
        MatrixFormat::Markdown => report::matrix::markdown(report),
        MatrixFormat::Table => report::matrix::table(report, stdout_style(global.color)),
    };
    if !(global.quiet && format == MatrixFormat::Table) {
        write_stdout(&text)?;
    }
    Ok(match report.exit_code() {
        0 => ExitStatus::Success,
        1 => ExitStatus::Findings,
        _ => ExitStatus::Error,
    })
}

/// Progress on stderr: an overall bar and one line per running row on a terminal; plain
/// timestamped lines otherwise (row start and end; every step with `-v`); nothing with `-q`.
struct StderrReporter {
    progress: Progress,
    verbose: bool,
}

impl StderrReporter {
    fn new(quiet: bool, verbose: bool) -> StderrReporter {
        StderrReporter {
            progress: Progress::new(quiet).stamped(),
            verbose,
        }
    }
}

impl Reporter for StderrReporter {
    fn begin(&self, rows: usize, jobs: usize) {
        self.progress.count(rows, "rows");
        if !self.progress.on_terminal() {
            self.progress
                .line(&format!("plugctl matrix: {rows} row(s), {jobs} at a time"));
        }
    }

    fn row_started(&self, id: &str) {
        self.progress.task_started(id);
        if self.verbose && !self.progress.on_terminal() {
            self.progress.line(&format!("{id}: started"));
        }
    }

    fn row_step(&self, id: &str, message: &str) {
        self.progress.task_step(id, message);
        let shown =
            self.verbose || message.starts_with("building") || message.starts_with("installing");
        if shown && !self.progress.on_terminal() {
            self.progress.line(&format!("{id}: {message}"));
        }
    }

    fn row_finished(&self, result: &RowResult) {
        self.progress.task_finished(&result.id);
        self.progress.line(&report::matrix::finished_line(result));
    }

    fn end(&self) {
        self.progress.finish();
    }
}
