//! The load verdict: the machine contract shared by static prediction (`inspect`) and
//! the real runtime (`load`). Field names and outcome spellings are part of the JSON
//! schema; change them only with a schema version bump.

use serde::Serialize;

/// How loading an artifact ends (or would end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    PackageMismatch,
    Crash,
    NotImplemented,
    AlreadyLoaded,
    MissingLibrary,
    VersionNotFound,
    UndefinedSymbol,
    StaticTls,
    WrongClass,
    WrongMachine,
    WrongLibc,
    NotElf,
    Truncated,
    NotAPlugin,
}

impl Outcome {
    pub const ALL: &'static [Outcome] = &[
        Outcome::Ok,
        Outcome::PackageMismatch,
        Outcome::Crash,
        Outcome::NotImplemented,
        Outcome::AlreadyLoaded,
        Outcome::MissingLibrary,
        Outcome::VersionNotFound,
        Outcome::UndefinedSymbol,
        Outcome::StaticTls,
        Outcome::WrongClass,
        Outcome::WrongMachine,
        Outcome::WrongLibc,
        Outcome::NotElf,
        Outcome::Truncated,
        Outcome::NotAPlugin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::PackageMismatch => "package-mismatch",
            Outcome::Crash => "crash",
            Outcome::NotImplemented => "not-implemented",
            Outcome::AlreadyLoaded => "already-loaded",
            Outcome::MissingLibrary => "missing-library",
            Outcome::VersionNotFound => "version-not-found",
            Outcome::UndefinedSymbol => "undefined-symbol",
            Outcome::StaticTls => "static-tls",
            Outcome::WrongClass => "wrong-class",
            Outcome::WrongMachine => "wrong-machine",
            Outcome::WrongLibc => "wrong-libc",
            Outcome::NotElf => "not-elf",
            Outcome::Truncated => "truncated",
            Outcome::NotAPlugin => "not-a-plugin",
        }
    }

    pub fn loads(self) -> bool {
        self == Outcome::Ok
    }

    /// The outcome spelled `word` (as [`Outcome::as_str`] spells it).
    pub fn parse(word: &str) -> Option<Outcome> {
        Outcome::ALL.iter().copied().find(|o| o.as_str() == word)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `load` object of the JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadVerdict {
    pub outcome: Outcome,
    /// The exact first line Go or ld.so would print; `None` when the load succeeds.
    pub error: Option<String>,
    /// The first mismatching import path, for `package-mismatch`.
    pub package: Option<String>,
    /// A short explanation of why.
    pub cause: String,
    /// The command or flag that fixes it (empty when nothing needs fixing).
    pub fix: String,
}

impl LoadVerdict {
    pub fn ok(cause: impl Into<String>) -> Self {
        LoadVerdict {
            outcome: Outcome::Ok,
            error: None,
            package: None,
            cause: cause.into(),
            fix: String::new(),
        }
    }

    pub fn fail(
        outcome: Outcome,
        error: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        LoadVerdict {
            outcome,
            error: Some(error.into()),
            package: None,
            cause: cause.into(),
            fix: fix.into(),
        }
    }
}
