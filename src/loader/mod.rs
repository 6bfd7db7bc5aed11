//! `loader`: emulates glibc's ld.so (2.36, x86-64) on a set of artifacts, statically:
//! library search, header checks, symbol versions, symbol binding and static TLS, with
//! the exact dlerror() text each failure produces.
//!
//! - [`env`]: the environment (search paths, `ld.so.cache`, glibc version, hwcaps
//!   subdirectories, static TLS surplus and `GLIBC_TUNABLES`).
//! - [`ldcache`]: `/etc/ld.so.cache` in both formats.
//! - [`search`]: `$ORIGIN`/`$LIB`/`$PLATFORM`, path lists, and the [`DepTree`] data.
//! - [`predict`]: the process model — host start-up, then `dlopen` of each plugin.
//!
//! Error formats (glibc 2.36 `dlerror()`), `%m` being `strerror(errno)`:
//!
//! | case | text |
//! |---|---|
//! | missing file or dependency | `<name as requested>: cannot open shared object file: %m` |
//! | other-machine object (skipped) | same as missing: `...: No such file or directory` |
//! | 32-bit object | `<name as requested>: wrong ELF class: ELFCLASS32` |
//! | not ELF / linker script | `<path opened>: invalid ELF header` |
//! | shorter than 64 bytes | `<path opened>: file too short` |
//! | program headers missing | `<path opened>: cannot read file data` |
//! | directory | `<path opened>: cannot read file data: Is a directory` |
//! | executable, PIE | `<name>: cannot dynamically load executable` / `... position-independent executable` |
//! | version | `<provider path>: version \`V' not found (required by <requester path>)` |
//! | symbol | `<requester path>: undefined symbol: <name>[, version <V>]` |
//! | static TLS | `<path of the TLS object>: cannot allocate memory in static TLS block` |
//!
//! "path" is the object's `l_name`: the string it was opened with (a search directory
//! joined with the name, unnormalised, or the dlopen argument).

#[cfg(test)]
mod agreement;
pub mod env;
pub mod errno;
pub mod fs;
pub mod ldcache;
pub mod predict;
pub mod search;
pub mod symbols;
pub mod tls;

pub use env::{Environment, StaticTlsConfig};
pub use ldcache::LdCache;
pub use predict::{
    HostSetup, Loader, LoaderPrediction, Note, OpenMode, Simulation, TlsUse, open_error, predict,
};
pub use search::{DepNode, DepTree, Rule};
