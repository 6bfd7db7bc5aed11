//! `loader`: emulates glibc's ld.so (2.36, x86-64) on a set of artifacts, statically:
//! library search, header checks, symbol versions, symbol binding and static TLS, with
//! the exact dlerror() text each failure produces. Nothing is executed or mapped.
//!
//! ```no_run
//! # use plugctl::{elf::Artifact, loader::{Environment, Loader, OpenMode}};
//! let env = Environment::detect(None, None); // LD_LIBRARY_PATH etc. from this process
//! let plugin = Artifact::read("./plugin.so".as_ref()).unwrap();
//! let sim = Loader::new(&env).simulate(None, &[&plugin], OpenMode::C_HOST);
//! println!("{:?}", sim.plugins[0].verdict); // LoadVerdict: outcome, exact error, cause, fix
//! ```
//!
//! - [`env`](mod@env): the environment (search paths read from ld.so itself, `ld.so.cache`, glibc
//!   version, glibc-hwcaps and legacy hwcaps subdirectories, `LD_PRELOAD`, static TLS
//!   surplus with `GLIBC_TUNABLES`), for this machine or a `--sysroot`.
//! - [`ldcache`]: `/etc/ld.so.cache` in both formats, looked up like `dl-cache.c`.
//! - [`search`]: `$ORIGIN`/`$LIB`/`$PLATFORM`, path lists, and the [`DepTree`] data.
//! - [`process`]: the process model — host start-up, then `dlopen` of each plugin in
//!   turn, checks in ld.so's order.
//! - [`fs`], [`symbols`], [`tls`], [`errno`]: `open_verify`, `check_match`, static TLS
//!   arithmetic and `strerror` texts.
//!
//! Error formats (glibc 2.36 `dlerror()`), `%m` being `strerror(errno)`; each was seen
//! from a real dlopen (`agreement.rs`):
//!
//! | case | text |
//! |---|---|
//! | missing file or dependency | `<name as requested>: cannot open shared object file: %m` |
//! | other-machine object (skipped by the search) | same as missing: `...: No such file or directory` |
//! | 32-bit object (skipped, remembered) | `<name as requested>: wrong ELF class: ELFCLASS32` |
//! | not ELF / linker script (stops the search) | `<path opened>: invalid ELF header` |
//! | shorter than 64 bytes | `<path opened>: file too short` |
//! | program headers past the end | `<path opened>: cannot read file data` |
//! | a directory | `<path opened>: cannot read file data: Is a directory` |
//! | big-endian, bad OS ABI, padding | `<path opened>: ELF file data encoding not little-endian` (etc.) |
//! | relocatable `.o` | `<path opened>: only ET_DYN and ET_EXEC can be loaded` |
//! | executable, PIE | `<name>: cannot dynamically load executable` / `... position-independent executable` |
//! | debug-info file | `<name>: object file has no dynamic section` |
//! | `-z nodlopen` | `<name>: shared object cannot be dlopen()ed` |
//! | version | ``<provider path>: version `V' not found (required by <requester path>)`` |
//! | x86 ISA level | `<path>: CPU ISA level is lower than required` |
//! | symbol | `<requester path>: undefined symbol: <name>[, version <V>]` |
//! | static TLS | `<path of the TLS object>: cannot allocate memory in static TLS block` |
//! | executable stack (glibc ≥ 2.41 only) | `<name>: cannot enable executable stack as shared object requires: Invalid argument` |
//! | segments past the end of the file | no error: the process dies with SIGBUS |
//!
//! "name as requested" is the dlopen argument or the `DT_NEEDED` string; "path" is the
//! object's `l_name`: the string it was opened with (a search directory joined with the
//! name, unnormalised, e.g. `/opt/app/plugins/../lib/libx.so`, or the dlopen argument).
//! A Go host wraps the same text: `plugin.Open("<path>"): <dlerror>`.

#[cfg(test)]
mod agreement;
pub mod env;
pub mod errno;
pub mod fs;
pub mod ldcache;
pub mod process;
pub mod search;
pub mod symbols;
pub mod tls;

pub use env::{Environment, ProcessEnv, StaticTlsConfig};
pub use ldcache::LdCache;
pub use process::{
    HostSetup, Loader, LoaderPrediction, Note, OpenMode, Plugin, Simulation, TlsUse, open_error,
    predict,
};
pub use search::{DepNode, DepTree, Rule};
