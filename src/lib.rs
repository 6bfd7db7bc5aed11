//! plugctl: tells, before production does, why a Go plugin or any ELF shared object will
//! not load into its host.
//!
//! Data flows one way: bytes → [`elf::Artifact`] → [`golang`] facts → [`loader`] and Go
//! rules in [`predict`] → [`verdict::LoadVerdict`] and [`findings::Finding`]s →
//! [`report`] → stdout and an exit code chosen in [`commands`].

pub mod alongside;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod contract;
pub mod digest;
pub mod doctor;
pub mod elf;
pub mod findings;
pub mod gobuild;
pub mod golang;
pub mod loader;
pub mod matrix;
pub mod predict;
pub mod process_run;
pub mod report;
pub mod runtime;
pub mod shell;
#[cfg(test)]
mod test_rng;
pub mod toolchain;
pub mod units;
pub mod verdict;
pub mod wasm;
