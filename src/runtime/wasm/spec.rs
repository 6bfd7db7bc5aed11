//! What the parent hands the interpreter child (on its stdin) and the events the child
//! writes back (one JSON line each on descriptor 3): typed on both sides.

use serde::{Deserialize, Serialize};

/// The interpreter child's whole task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// The WASI reactor module (`GOOS=wasip1 -buildmode=c-shared`).
    pub module: String,
    /// Exactly the variables the module sees (`--env`, `--env-file`).
    pub env: Vec<(String, String)>,
    /// Host directories preopened read-only, under the same path inside.
    pub allow_dirs: Vec<String>,
    /// Fuel for instantiation and for each phase (deterministic CPU limit).
    pub fuel: u64,
    /// Cap on linear memory, in bytes.
    pub memory_limit: Option<u64>,
    /// Wall-clock limit of each phase, also the deadline of its `context.Context`.
    pub phase_timeout_ms: u64,
    /// Lifecycle phases to call, in order (`init`, `run`, `close`).
    pub phases: Vec<PhaseName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhaseName {
    Init,
    Run,
    Close,
}

impl PhaseName {
    /// The `which` argument of the generated `plugctl_phase` export.
    pub fn index(self) -> i32 {
        match self {
            PhaseName::Init => 0,
            PhaseName::Run => 1,
            PhaseName::Close => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PhaseName::Init => "init",
            PhaseName::Run => "run",
            PhaseName::Close => "close",
        }
    }
}

/// How a call into the module ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseStatus {
    /// Returned nil.
    Ok,
    /// Returned an error.
    Error,
    /// Panicked (recovered by the wrapper).
    Panic,
    /// Not a lifecycle signature.
    BadSignature,
    /// No such function in the package.
    Missing,
    /// Fuel ran out (the deterministic CPU limit).
    OutOfFuel,
    /// Linear memory would have grown past `--memory`.
    MemoryLimit,
    /// Still running at the phase timeout: the child stopped itself.
    Timeout,
    /// The module exited (`proc_exit`, e.g. after an unrecovered Go panic).
    Exit,
    /// Any other WebAssembly trap.
    Trap,
    /// Not called: an earlier phase failed.
    Skipped,
}

impl PhaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseStatus::Ok => "ok",
            PhaseStatus::Error => "error",
            PhaseStatus::Panic => "panic",
            PhaseStatus::BadSignature => "bad-signature",
            PhaseStatus::Missing => "missing",
            PhaseStatus::OutOfFuel => "out-of-fuel",
            PhaseStatus::MemoryLimit => "memory-limit",
            PhaseStatus::Timeout => "timeout",
            PhaseStatus::Exit => "exit",
            PhaseStatus::Trap => "trap",
            PhaseStatus::Skipped => "skipped",
        }
    }
}

/// One lifecycle call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    pub phase: PhaseName,
    pub status: PhaseStatus,
    /// The Go type of the function (`func(context.Context) error`), when it exists.
    pub go_type: Option<String>,
    /// The error text, panic value, trap message or exit code.
    pub error: Option<String>,
    pub ms: f64,
    /// Fuel burned by the call.
    pub fuel: u64,
    /// Linear memory after the call.
    pub memory_bytes: u64,
}

/// One line on the report descriptor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum Event {
    /// The module was read, validated and compiled to wasmi's bytecode.
    Compiled {
        ms: f64,
        bytes: u64,
    },
    /// `_initialize` ran (the Go runtime and package init).
    Instantiated {
        ms: f64,
        fuel: u64,
        memory_bytes: u64,
    },
    /// Instantiation failed.
    InstantiateFailed {
        status: PhaseStatus,
        error: String,
        fuel: u64,
    },
    /// A phase is about to be called (so a timeout can be named).
    PhaseBegin {
        phase: PhaseName,
    },
    Phase(PhaseResult),
    /// The child stopped itself: `phase` ran past its wall-clock limit.
    PhaseTimeout {
        phase: PhaseName,
        after_ms: u64,
    },
    /// Everything ran; peak linear memory over the whole run.
    Done {
        peak_memory_bytes: u64,
    },
}
