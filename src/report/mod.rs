//! `report`: the only place that formats. Turns verdicts into tables and JSON.

pub mod contract;
pub mod doctor;
pub mod explain;
pub mod json;
pub mod load;
pub mod sarif;
pub mod table;
pub mod trace;
pub mod wrap;

/// How to style human output.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn paint(&self, text: &str, color: Option<comfy_table::Color>, bold: bool) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match color {
            Some(comfy_table::Color::Red) => "31",
            Some(comfy_table::Color::Green) => "32",
            Some(comfy_table::Color::Yellow) => "33",
            Some(comfy_table::Color::Blue) => "34",
            _ => "39",
        };
        let weight = if bold { "1;" } else { "" };
        format!("\x1b[{weight}{code}m{text}\x1b[0m")
    }
}
