//! The cgroup v2 group the tracer filters on: the child's own group when the runtime
//! made it in cgroup v2, else a group made for the trace in the cgroup2 mount (on a
//! cgroup v1 or hybrid machine the unified hierarchy holds no controller, so a process
//! can join it without leaving its v1 groups). Its id (`bpf_get_current_cgroup_id`) is
//! the directory's inode number.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A group to trace.
#[derive(Debug)]
pub struct TraceGroup {
    pub dir: PathBuf,
    pub id: u64,
    /// Made here (removed in `remove`), or the runtime's.
    pub owned: bool,
}

/// Where cgroup2 is mounted (`/sys/fs/cgroup` or `/sys/fs/cgroup/unified`).
fn cgroup2_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let point = left.split(' ').nth(4)?;
        (right.split(' ').next()? == "cgroup2")
            .then(|| PathBuf::from(super::super::cgroup::unescape(point)))
    })
}

/// plugctl's own cgroup v2 path (`0::/path`).
fn own_path() -> String {
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .unwrap_or_else(|| "/".into())
}

impl TraceGroup {
    pub fn new(existing_v2: Option<&Path>) -> Result<TraceGroup> {
        if let Some(dir) = existing_v2 {
            let id = std::fs::metadata(dir)
                .with_context(|| format!("reading {}", dir.display()))?
                .ino();
            return Ok(TraceGroup {
                dir: dir.to_path_buf(),
                id,
                owned: false,
            });
        }
        let Some(mount) = cgroup2_mount() else {
            bail!("no cgroup2 file system is mounted: the tracer filters by cgroup v2 id");
        };
        let parent = mount.join(own_path().trim_start_matches('/'));
        let dir = parent.join(format!(
            "plugctl-trace-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let id = std::fs::metadata(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .ino();
        Ok(TraceGroup {
            dir,
            id,
            owned: true,
        })
    }

    pub fn procs_file(&self) -> Option<PathBuf> {
        self.owned.then(|| self.dir.join("cgroup.procs"))
    }

    /// Removes a group made here (its processes are gone by then; a dying one may take a
    /// moment).
    pub fn remove(&self) -> Option<String> {
        if !self.owned {
            return None;
        }
        let start = Instant::now();
        loop {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return None,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
                Err(e) if start.elapsed() > Duration::from_secs(2) => {
                    return Some(format!("cannot remove {}: {e}", self.dir.display()));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}
