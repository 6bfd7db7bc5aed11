//! `plugctl explain CODE` and `plugctl explain --list`: the finding codes in full.

use anyhow::Result;
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};

use super::{ExitStatus, stdout_style, write_stdout};
use crate::cli::{Format, GlobalArgs};
use crate::findings::Code;
use crate::report;

pub const EXAMPLES: &str = "\
Examples:
  plugctl explain PC100              what a package-hash mismatch means, the exact error, the fix
  plugctl explain pc203              codes are case-insensitive
  plugctl explain --list             every code with its severity and title
  plugctl explain --list --format json   every code in full, for tools";

fn code_parser() -> impl TypedValueParser<Value = Code> {
    PossibleValuesParser::new(Code::ALL.iter().map(|c| c.id()))
        .map(|id| id.parse::<Code>().expect("possible values are codes"))
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The finding code, e.g. PC100 (see --list).
    #[arg(
        value_name = "CODE",
        value_parser = code_parser(),
        ignore_case = true,
        hide_possible_values = true,
        required_unless_present = "list",
        conflicts_with = "list"
    )]
    pub code: Option<Code>,

    /// List every code with its severity and title.
    #[arg(long)]
    pub list: bool,

    /// Output format; `table` for people, `json` for machines.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: &ExplainArgs, global: &GlobalArgs) -> Result<ExitStatus> {
    let style = stdout_style(global.color);
    let text = match (args.code, args.format) {
        (Some(code), Format::Table) => report::explain::render_code(code, style),
        (Some(code), Format::Json) => report::explain::render_json(&[code]),
        (None, Format::Table) => report::explain::render_list(style),
        (None, Format::Json) => report::explain::render_json(Code::ALL),
    };
    write_stdout(&text)?;
    Ok(ExitStatus::Success)
}
