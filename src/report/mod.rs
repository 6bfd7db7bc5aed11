//! `report`: every command's output, and only that: tables, text, JSON, SARIF and
//! Markdown, from the typed results of the analysis and the engines. Nothing here decides
//! a verdict; the commands only choose the format and the exit code.
//!
//! One module per command's output: [`table`], [`json`] and [`sarif`] for `inspect`,
//! [`load`], [`contract`], [`diff`], [`doctor`], [`explain`]; the build and matrix
//! engines' tables are still rendered next to them (`build::render`, `matrix::render`),
//! on their way here. Shared pieces: [`Style`] (colour) and [`wrap`] (fitting text to the
//! terminal).

pub mod build;
pub mod contract;
pub mod diff;
pub mod doctor;
pub mod explain;
pub mod json;
pub mod load;
pub mod matrix;
pub mod perfetto;
pub mod progress;
pub mod sarif;
pub mod table;
pub mod trace;
pub mod wasm;
pub mod wrap;

use anstyle::AnsiColor;

/// How to style human output: colour or plain text, decided once per stream written
/// (`commands::stdout_style`).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// `text` in `color` (and bold), when colour is on; as is otherwise.
    pub fn paint(&self, text: &str, color: Option<comfy_table::Color>, bold: bool) -> String {
        if !self.color {
            return text.to_string();
        }
        let fg = match color {
            Some(comfy_table::Color::Red) => AnsiColor::Red,
            Some(comfy_table::Color::Green) => AnsiColor::Green,
            Some(comfy_table::Color::Yellow) => AnsiColor::Yellow,
            Some(comfy_table::Color::Blue) => AnsiColor::Blue,
            _ => return self.bold(text, bold),
        };
        let mut style = anstyle::Style::new().fg_color(Some(fg.into()));
        if bold {
            style = style.bold();
        }
        format!("{style}{text}{style:#}")
    }

    fn bold(&self, text: &str, bold: bool) -> String {
        if bold {
            let style = anstyle::Style::new().bold();
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

/// A borderless table `width` columns wide whose cells wrap; plain text unless `style` has
/// colour. Every table plugctl prints starts here.
pub(crate) fn borderless_table(style: Style, width: u16) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_width(width);
    if !style.color {
        table.force_no_tty();
    }
    table
}

/// `text` indented by two spaces, each line's trailing blanks trimmed.
pub(crate) fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {}", l.trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
}
