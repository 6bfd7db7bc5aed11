//! Running a helper program to its end under a wall-clock limit: stdin closed, stdout
//! and stderr collected whole (lossy UTF-8), the program killed at the limit. The one
//! polling loop behind `doctor`'s probes, the matrix's real loads and `build --load`'s
//! harness. (A sandboxed load's child is watched by `runtime::child`, which also
//! samples the process tree while it waits.)

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a program run by [`run_with_timeout`] ended, and what it wrote.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Killed at the limit.
    pub timed_out: bool,
    /// From the spawn to the reap.
    pub elapsed: Duration,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// Exited 0 before the limit.
    pub fn success(&self) -> bool {
        self.status.success() && !self.timed_out
    }
}

/// Runs `command` with stdin closed; a program still running after `limit` is killed.
/// The error is the spawn's (or a failed wait's): callers name the program in it.
pub fn run_with_timeout(command: &mut Command, limit: Duration) -> std::io::Result<Finished> {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = child
        .stdout
        .take()
        .map(|s| std::thread::spawn(|| read_all(s)));
    let err = child
        .stderr
        .take()
        .map(|s| std::thread::spawn(|| read_all(s)));
    let mut timed_out = false;
    let mut delay = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > limit {
            timed_out = true;
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    };
    let joined = |t: Option<std::thread::JoinHandle<String>>| {
        t.and_then(|t| t.join().ok()).unwrap_or_default()
    };
    Ok(Finished {
        status,
        stdout: joined(out),
        stderr: joined(err),
        timed_out,
        elapsed: start.elapsed(),
    })
}

fn read_all(mut reader: impl Read) -> String {
    let mut bytes = Vec::new();
    let _ = reader.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_output_and_status() {
        let done = run_with_timeout(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(
            (done.code(), done.stdout.as_str(), done.stderr.as_str()),
            (Some(3), "out\n", "err\n")
        );
        assert!(!done.timed_out && !done.success());
    }

    #[test]
    fn kills_at_the_limit() {
        let done =
            run_with_timeout(Command::new("sleep").arg("30"), Duration::from_millis(100)).unwrap();
        assert!(done.timed_out, "{done:?}");
        assert_eq!(done.signal(), Some(libc::SIGKILL));
        assert!(done.elapsed < Duration::from_secs(10), "{done:?}");
    }

    #[test]
    fn a_missing_program_is_an_error() {
        assert!(
            run_with_timeout(
                &mut Command::new("/nonexistent/plugctl-test"),
                Duration::from_secs(1)
            )
            .is_err()
        );
    }
}
