//! From what the children reported to layers and a load verdict: the exact error text,
//! classified into the same [`Outcome`]s `inspect` predicts.
//!
//! The rooms: `open` (the loader and go-open layers), `contract`, `lifecycle`, `env`,
//! `reload` (one layer each), `run` (where a child stopped and how it died), `paths`
//! (messages back to the user's paths). The classifiers of real error texts stay here.

use crate::elf::Artifact;
use crate::verdict::Outcome;

mod contract;
mod env;
mod lifecycle;
mod open;
mod paths;
mod reload;
mod run;

pub use contract::contract_layer;
pub use env::env_layer;
pub use lifecycle::{Phase, lifecycle_layer, phases};
pub use open::{go_open_layer, loader_layer};
pub use paths::PathMap;
pub use reload::{ReloadStep, reload_layer};
pub use run::busy_with;

/// The outcome a `dlerror()` text means.
pub fn classify_dlerror(error: &str, user_path: &str, artifact: Option<&Artifact>) -> Outcome {
    let e = error;
    if e.contains("cannot allocate memory in static TLS block") {
        Outcome::StaticTls
    } else if e.contains("wrong ELF class") {
        Outcome::WrongClass
    } else if e.contains("invalid ELF header") {
        if e.contains("libc.so") {
            Outcome::WrongLibc
        } else {
            Outcome::NotElf
        }
    } else if e.contains("file too short") {
        Outcome::NotElf
    } else if e.contains("cannot read file data") {
        Outcome::Truncated
    } else if e.contains("ELF file data encoding") {
        Outcome::WrongMachine
    } else if e.contains("version `") && e.contains("not found") {
        Outcome::VersionNotFound
    } else if e.contains("undefined symbol") {
        Outcome::UndefinedSymbol
    } else if e.contains("cannot open shared object file") {
        // ld.so says this about the object itself when its e_machine is foreign.
        // (Go passes the realpath to dlopen, the C shim the path as given.)
        let named = e.split(": ").next().unwrap_or("");
        let about_itself = e.starts_with(&format!("{user_path}: "))
            || (!named.is_empty()
                && std::fs::canonicalize(named)
                    .ok()
                    .is_some_and(|n| std::fs::canonicalize(user_path).ok() == Some(n)));
        if about_itself && artifact.is_some() {
            Outcome::WrongMachine
        } else {
            Outcome::MissingLibrary
        }
    } else {
        Outcome::NotElf
    }
}

/// The outcome a Go `plugin.Open` error means.
pub fn classify_go_error(
    error: &str,
    user_path: &str,
    artifact: Option<&Artifact>,
) -> (Outcome, Option<String>) {
    const MISMATCH: &str = "plugin was built with a different version of package ";
    if let Some(i) = error.find(MISMATCH) {
        let package = error[i + MISMATCH.len()..].trim().to_string();
        return (Outcome::PackageMismatch, Some(package));
    }
    if error.contains("plugin already loaded") {
        return (Outcome::AlreadyLoaded, None);
    }
    if error.contains("plugin: not implemented") {
        return (Outcome::NotImplemented, None);
    }
    if error.contains("realpath failed") {
        return (Outcome::NotElf, None);
    }
    // plugin.Open("x"): <dlerror text>
    let inner = error.split_once("): ").map_or(error, |(_, rest)| rest);
    (classify_dlerror(inner, user_path, artifact), None)
}
