//! The report lines a child writes, one JSON object a line, typed.
//!
//! Three writers share one vocabulary, told apart by the `ev` field: the sandbox stage
//! (`sandbox`, `exec-failed`, `exit`: [`super::sandbox`]), the C loader shim (`start`,
//! `dlopen-begin`, `dlopen`, `done`: `shim.c`) and the Go harness (`start`, `open-begin`,
//! `open`, `lookup`, `phase-begin`, `phase`, `env`, `env-set`, `reload`, `done`, `error`:
//! `harness/main.go`). The target may write anything on its report descriptor: fields
//! are optional where a writer may leave them out, unknown fields are ignored, an unknown
//! `ev` is [`Event::Other`] and a line that does not parse as an event is
//! [`Event::Unparsed`].
//!
//! A new event: add a variant here (its `ev` in kebab-case), emit it in the child, and read
//! it in [`super::observe`].

use serde::Deserialize;

pub use super::isolation::Isolation;

/// One report line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum Event {
    /// The sandbox stage's report, written before the target runs.
    Sandbox(Box<Isolation>),
    /// The sandbox stage could not start the target.
    ExecFailed {
        #[serde(default)]
        error: Option<String>,
    },
    /// How the target ended, written by the stage after the target is gone.
    Exit(Exit),
    /// The shim's (`flags`) or the harness's first line.
    Start {
        #[serde(default)]
        flags: Option<String>,
    },
    DlopenBegin {
        index: i64,
    },
    Dlopen(Dlopen),
    OpenBegin {
        index: i64,
    },
    Open(Open),
    Lookup(Lookup),
    PhaseBegin(PhaseBegin),
    Phase(Phase),
    Env(EnvSeen),
    Reload(ReloadSample),
    /// The child finished its work.
    Done,
    /// A line of the WebAssembly interpreter child (`plugctl __wasm`), whose own
    /// vocabulary ([`super::wasm::spec::Event`]) travels inside this one.
    Wasm {
        event: Box<super::wasm::spec::Event>,
    },
    /// A line that is not an event; `line` as written (secrets masked).
    #[serde(skip)]
    Unparsed {
        line: String,
    },
    /// Any other `ev` (`env-set`, `error`, `unencodable`, ...): kept, read by no layer.
    #[serde(other)]
    Other,
}

impl Event {
    /// Parses one report line; a line that is no event is kept as [`Event::Unparsed`].
    pub fn parse(line: &str) -> Event {
        serde_json::from_str(line).unwrap_or_else(|_| Event::Unparsed {
            line: line.to_string(),
        })
    }

    /// The artifact (plugin index) the event is about, for events that name one.
    pub fn index(&self) -> Option<i64> {
        match self {
            Event::DlopenBegin { index } | Event::OpenBegin { index } => Some(*index),
            Event::Dlopen(e) => Some(e.index),
            Event::Open(e) => Some(e.index),
            Event::Lookup(e) => Some(e.index),
            Event::PhaseBegin(e) => Some(e.index),
            Event::Phase(e) => Some(e.index),
            Event::Env(e) => Some(e.index),
            Event::Reload(e) => Some(e.index),
            _ => None,
        }
    }

    /// Written by the sandbox stage rather than the target.
    pub fn from_stage(&self) -> bool {
        matches!(
            self,
            Event::Sandbox(_) | Event::ExecFailed { .. } | Event::Exit(_)
        )
    }
}

/// `exit`: how the target ended and what it used.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Exit {
    #[serde(default)]
    pub code: Option<i32>,
    #[serde(default)]
    pub signal: Option<i32>,
    #[serde(default)]
    pub core_dumped: bool,
    #[serde(default)]
    pub maxrss_kb: Option<u64>,
    #[serde(default)]
    pub user_ms: Option<u64>,
    #[serde(default)]
    pub system_ms: Option<u64>,
}

/// `dlopen`: the shim's result for one object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Dlopen {
    pub index: i64,
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub us: i64,
    #[serde(default)]
    pub error: Option<String>,
}

/// `open`: the harness's `plugin.Open` of one plugin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Open {
    pub index: i64,
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub ms: f64,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub goroutines_before: Option<i64>,
    #[serde(default)]
    pub goroutines: Option<i64>,
    #[serde(default)]
    pub rss_kb: Option<i64>,
}

/// `lookup`: one `Plugin.Lookup` of an expected or exported symbol.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Lookup {
    pub index: i64,
    #[serde(default)]
    pub name: Option<String>,
    /// `expect` (from `--expect`) or `export` (every other export).
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(rename = "type", default)]
    pub ty: Option<String>,
    #[serde(default)]
    pub expected: Option<String>,
}

/// `phase-begin`: a lifecycle call is about to be made.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PhaseBegin {
    pub index: i64,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub symbol: String,
}

/// `phase`: a lifecycle call's result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Phase {
    pub index: i64,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub symbol: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub ms: Option<f64>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub panic: Option<String>,
    #[serde(default)]
    pub stack: Option<Vec<String>>,
    #[serde(default)]
    pub goroutines_before: Option<i64>,
    #[serde(default)]
    pub goroutines_after: Option<i64>,
    #[serde(rename = "type", default)]
    pub ty: Option<String>,
}

/// `env`: which exported variables held a watched variable's value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EnvSeen {
    pub index: i64,
    /// `after-open` or `after-init`.
    #[serde(default)]
    pub when: String,
    #[serde(default)]
    pub name: String,
    /// Go writes `null` for none.
    #[serde(default)]
    pub seen_in: Option<Vec<String>>,
}

/// `reload`: the harness's measurement after opening one copy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReloadSample {
    pub index: i64,
    #[serde(default)]
    pub copy: i64,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub goroutines: i64,
    #[serde(default)]
    pub rss_kb: i64,
    #[serde(default)]
    pub heap_kb: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_into_events_and_hostile_lines_are_kept() {
        assert_eq!(
            Event::parse(r#"{"ev":"dlopen","index":1,"ok":false,"us":12,"error":"x"}"#),
            Event::Dlopen(Dlopen {
                index: 1,
                ok: false,
                us: 12,
                error: Some("x".into())
            })
        );
        assert_eq!(Event::parse(r#"{"ev":"done","rss_kb":1}"#), Event::Done);
        assert_eq!(Event::parse(r#"{"ev":"env-set"}"#), Event::Other);
        assert_eq!(
            Event::parse(r#"{"ev":"open","index":"zero"}"#),
            Event::Unparsed {
                line: r#"{"ev":"open","index":"zero"}"#.into()
            }
        );
        let env =
            Event::parse(r#"{"ev":"env","index":0,"when":"after-open","name":"K","seen_in":null}"#);
        assert!(matches!(env, Event::Env(EnvSeen { seen_in: None, .. })));
        assert_eq!(env.index(), Some(0));
    }
}
