//! Runs a host program with a time limit, collecting its output.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

pub(super) struct Finished {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub seconds: f64,
}

pub(super) fn run_with_timeout(mut command: Command, limit: Duration) -> Result<Finished> {
    let done = crate::process_run::run_with_timeout(&mut command, limit)
        .with_context(|| format!("starting {:?}", command.get_program()))?;
    Ok(Finished {
        code: done.code(),
        signal: done.signal(),
        seconds: done.elapsed.as_secs_f64(),
        stdout: done.stdout,
        stderr: done.stderr,
        timed_out: done.timed_out,
    })
}
