//! plugctl: tells, before production does, why a Go plugin or any ELF shared object will
//! not load into its host.

pub mod elf;
pub mod golang;
pub mod loader;
pub mod verdict;
