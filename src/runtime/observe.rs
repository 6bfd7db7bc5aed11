//! From what the children reported to layers and a load verdict: the exact error text,
//! classified into the same [`Outcome`]s `inspect` predicts.
//!
//! The rooms: `open` (the loader and go-open layers), `contract`, `lifecycle`, `env`,
//! `reload` (one layer each), `run` (where a child stopped and how it died), `paths`
//! (messages back to the user's paths). Real error texts are classified by [`crate::loader::texts`].

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
