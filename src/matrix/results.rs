//! What a matrix run reports per row: its builds, what really happened, what was
//! predicted, how they compare and the claim's verdict; the machine it ran on; and the
//! [`Reporter`] rows report progress to.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::claims::{Check, Facts, Verdict};
use super::def::{Row, Via};
use super::outcome::PluginOutcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    Done,
    Skipped,
    Error,
}

/// One build of a row, as reported.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildReport {
    /// `host`, `plugin`, `lib NAME`.
    pub role: String,
    pub name: String,
    pub label: String,
    pub engine: String,
    pub command: String,
    pub cached: bool,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// One plugin's load, real or predicted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub name: String,
    pub outcome: PluginOutcome,
    /// The error text (or a crash's first line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Predictions: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// What really happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reality {
    pub via: Via,
    /// Cache key of this load (artifacts, options, machine).
    pub key: String,
    /// What ran, in the row's directory.
    pub command: String,
    pub plugins: Vec<Observed>,
    pub facts: Facts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr_head: Vec<String>,
    /// Runtime layers worth reading (env, reload, limits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub seconds: f64,
    /// Read from an earlier run.
    #[serde(default)]
    pub cached: bool,
}

impl Reality {
    /// What `plugins` show, nothing else observed (yet).
    pub fn of(via: Via, key: &str, command: String, plugins: Vec<Observed>) -> Reality {
        Reality {
            via,
            key: key.to_string(),
            command,
            facts: Facts::of(&plugins),
            plugins,
            exit: None,
            signal: None,
            timed_out: false,
            stderr_head: Vec::new(),
            notes: Vec::new(),
            seconds: 0.0,
            cached: false,
        }
    }
}

/// What `plugctl inspect` predicted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prediction {
    pub command: String,
    pub plugins: Vec<Observed>,
    pub facts: Facts,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Agreement {
    /// Comparisons made (plugin outcomes, env).
    pub compared: usize,
    pub agree: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disagreements: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Seconds {
    /// Builds this row made (0 when all were cached).
    pub build: f64,
    /// The real load (0 when cached).
    pub load: f64,
    pub predict: f64,
    /// Wall time of the row in this run.
    pub total: f64,
}

/// One row's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RowResult {
    pub id: String,
    pub base_id: String,
    pub title: String,
    pub claim: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_variant: Option<String>,
    pub status: RowStatus,
    /// Why skipped, or the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub builds: Vec<BuildReport>,
    pub reality: Option<Reality>,
    pub prediction: Option<Prediction>,
    pub agreement: Agreement,
    /// The claim's conditions against reality.
    pub says: Vec<Check>,
    pub verdict: Verdict,
    /// The row's expected (measured) outcome against reality.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected: Vec<Check>,
    pub expected_met: Option<bool>,
    pub seconds: Seconds,
}

impl RowResult {
    pub(super) fn new(row: &Row) -> RowResult {
        RowResult {
            id: row.id.clone(),
            base_id: row.base_id.clone(),
            title: row.title.clone(),
            claim: row.claim.clone(),
            tags: row.tags.clone(),
            go_variant: row.go_variant.clone(),
            status: RowStatus::Done,
            reason: None,
            builds: Vec::new(),
            reality: None,
            prediction: None,
            agreement: Agreement::default(),
            says: Vec::new(),
            verdict: Verdict::Untested,
            expected: Vec::new(),
            expected_met: None,
            seconds: Seconds::default(),
        }
    }

    /// Whether every comparison agreed (rows with nothing compared agree).
    pub fn agrees(&self) -> bool {
        self.agreement.disagreements.is_empty()
    }
}

/// Where rows report progress (the command draws it).
pub trait Reporter: Sync {
    fn begin(&self, rows: usize, jobs: usize);
    fn row_started(&self, id: &str);
    fn row_step(&self, id: &str, message: &str);
    fn row_finished(&self, result: &RowResult);
    fn end(&self);
}

/// This machine, as far as results depend on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub arch: String,
    pub glibc: Option<String>,
    pub kernel: Option<String>,
    pub cpus: usize,
}

impl Machine {
    pub fn detect() -> Machine {
        let env = crate::loader::Environment::build(None, None, PathBuf::from("/"), None, false);
        Machine {
            arch: std::env::consts::ARCH.to_string(),
            glibc: env.glibc_version.clone(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_string()),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }

    pub(super) fn fingerprint(&self) -> String {
        format!("{} {}", self.arch, self.glibc.as_deref().unwrap_or("?"))
    }
}
