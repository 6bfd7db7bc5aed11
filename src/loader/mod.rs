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
//! - [`texts`]: the exact error texts (glibc's `dlerror()`, Go's `plugin.Open`), each
//!   with its outcome, and the one classifier that reads a real error text back.

#[cfg(test)]
mod agreement;
pub mod env;
pub mod errno;
pub mod fs;
pub mod ldcache;
pub mod process;
pub mod search;
pub mod symbols;
pub mod texts;
pub mod tls;

pub use env::{Environment, ProcessEnv, StaticTlsConfig};
pub use ldcache::LdCache;
pub use process::{
    HostSetup, Loader, LoaderPrediction, Note, OpenMode, Plugin, Simulation, TlsUse, open_error,
    predict,
};
pub use search::{DepNode, DepTree, Rule};
