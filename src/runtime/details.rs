//! What each layer found beyond its one-line reason: `layers[].details` in
//! `plugctl load --format json` (docs/json-schema.md).
//!
//! A new layer kind with details: add a struct here, a variant to [`Details`] and a
//! `From` impl (the `details!` list below), then `Layer::new("name", status,
//! reason).with(YourDetails { .. })`. A layer without details needs nothing here.

use serde::Serialize;

use super::child::Ended;
use super::contract::Expect;
use super::lifecycle_check::TransitionResult;
use super::observe::{Phase, ReloadStep};

/// One layer's details; serialised as the inner object (no tag: the layer's name says
/// which it is).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Details {
    Loader(LoaderDetails),
    GoOpen(GoOpenDetails),
    GoOpenDied(GoOpenDied),
    Contract(ContractDetails),
    Lifecycle(LifecycleDetails),
    LifecycleCheck(LifecycleCheckDetails),
    Env(EnvDetails),
    Reload(ReloadDetails),
}

/// `loader`: the shim's `dlopen`.
#[derive(Debug, Clone, Serialize)]
pub struct LoaderDetails {
    /// `dlerror()` as the user's host would print it; absent when `dlopen` succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dlerror: Option<String>,
    /// `RTLD_NOW` or `RTLD_LAZY` (with `|RTLD_GLOBAL` and the like as the shim used).
    pub flags: String,
    /// Microseconds inside `dlopen`.
    pub us: i64,
}

/// `go-open`: the harness's `plugin.Open`, returned (ok or with an error).
#[derive(Debug, Clone, Serialize)]
pub struct GoOpenDetails {
    pub goroutines: Option<i64>,
    pub goroutines_before: Option<i64>,
    /// Which Go harness opened it (toolchain, flags, what it mirrors).
    pub harness: String,
    pub ms: f64,
    pub rss_kb: Option<i64>,
}

/// `go-open`: the harness died inside `plugin.Open`.
#[derive(Debug, Clone, Serialize)]
pub struct GoOpenDied {
    pub ended: Ended,
    pub harness: String,
}

/// `contract`: every export's type as `Lookup` returned it, and what was expected.
#[derive(Debug, Clone, Serialize)]
pub struct ContractDetails {
    pub expected: Vec<Expect>,
    pub exports: Vec<ExportType>,
}

/// One symbol `Lookup` found, with its Go type.
#[derive(Debug, Clone, Serialize)]
pub struct ExportType {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Option<String>,
}

/// `lifecycle`: Init, Run, Close as called.
#[derive(Debug, Clone, Serialize)]
pub struct LifecycleDetails {
    pub phases: Vec<Phase>,
}

/// `lifecycle-check`: one fresh process per illegal call order.
#[derive(Debug, Clone, Serialize)]
pub struct LifecycleCheckDetails {
    pub transitions: Vec<TransitionResult>,
}

/// `env`: when the variables were set and, per variable, where the plugin held them.
#[derive(Debug, Clone, Serialize)]
pub struct EnvDetails {
    /// `before plugin.Open` or `after plugin.Open`.
    pub set: &'static str,
    pub vars: Vec<EnvVarSeen>,
}

/// One `--env` variable in the env layer.
#[derive(Debug, Clone, Serialize)]
pub struct EnvVarSeen {
    pub name: String,
    /// Masked when secret.
    pub value: String,
    pub secret: bool,
    /// `after-open` or `before-open`.
    pub set: &'static str,
    /// The plugin's package init reads it (static scan).
    pub read_at_init_static: bool,
    /// Exported variables holding its value after `plugin.Open`, and after Init.
    pub seen_after_open: Vec<String>,
    pub seen_after_init: Vec<String>,
    /// With `--env-after-open`: the same, in a second run with the variable set before.
    pub seen_when_set_before_open: Option<Vec<String>>,
    pub verdict: String,
}

impl EnvVarSeen {
    /// The plugin read the variable too early (during `plugin.Open`, or in its init).
    pub fn missed(&self) -> bool {
        self.verdict.starts_with("MISSED")
    }
}

/// `reload`: every copy opened, and the growth per reload once more than one was.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadDetails {
    pub steps: Vec<ReloadStep>,
    #[serde(flatten)]
    pub growth: Option<ReloadGrowth>,
}

/// The growth over all reloads.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadGrowth {
    pub failed_opens: Vec<String>,
    pub goroutine_leak: bool,
    pub goroutines_per_reload: f64,
    /// Explains why the copies stay mapped.
    pub note: String,
    pub rss_mib_per_reload: f64,
    /// Always false: Go cannot unload a plugin.
    pub unloadable: bool,
}

macro_rules! details {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(impl From<$ty> for Details {
            fn from(d: $ty) -> Details {
                Details::$variant(d)
            }
        })*
    };
}

details!(
    Loader(LoaderDetails),
    GoOpen(GoOpenDetails),
    GoOpenDied(GoOpenDied),
    Contract(ContractDetails),
    Lifecycle(LifecycleDetails),
    LifecycleCheck(LifecycleCheckDetails),
    Env(EnvDetails),
    Reload(ReloadDetails),
);
