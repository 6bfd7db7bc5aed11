//! Per-child control groups: limits (memory, pids, CPU bandwidth), measurements (peak
//! memory, peak tasks, OOM kills) and a reliable kill of every process the child left
//! behind. cgroup v2 where the unified hierarchy is mounted at `/sys/fs/cgroup` with the
//! controllers available, cgroup v1 controllers (`memory`, `pids`, `cpu`) otherwise.
//!
//! Groups are created under plugctl's own group of each hierarchy, named
//! `plugctl-<pid>-<n>`, and removed after the child; groups of dead plugctl processes
//! found on the way are removed too.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
}

impl Controller {
    fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    #[serde(rename = "v1")]
    V1,
    #[serde(rename = "v2")]
    V2,
}

/// What to limit.
#[derive(Debug, Clone, Default)]
pub struct CgroupLimits {
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    /// CPU bandwidth in CPUs (0.5 = half a CPU).
    pub cpus: Option<f64>,
}

/// One child's groups.
#[derive(Debug)]
pub struct Group {
    pub version: Version,
    /// (controller, directory). In v2 one directory serves every controller.
    pub dirs: Vec<(Controller, PathBuf)>,
    /// How each limit was applied or why not.
    pub notes: Vec<String>,
}

/// What the groups measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CgroupStats {
    pub memory_peak_bytes: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    pub oom_kills: Option<u64>,
    pub memory_failcnt: Option<u64>,
    pub pids_peak: Option<u64>,
    pub pids_limit: Option<u64>,
    /// Times a fork/clone was refused at `pids.max`.
    pub pids_max_events: Option<u64>,
    pub cpu_throttled: Option<u64>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

struct Mount {
    fstype: String,
    point: PathBuf,
    super_options: String,
}

fn mounts() -> Vec<Mount> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = unescape(left.split(' ').nth(4)?);
            let mut r = right.split(' ');
            let fstype = r.next()?.to_string();
            let _source = r.next();
            let super_options = r.next().unwrap_or("").to_string();
            Some(Mount {
                fstype,
                point: PathBuf::from(point),
                super_options,
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// plugctl's own group per hierarchy, from /proc/self/cgroup: (hierarchy controllers, path).
fn own_groups() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?.to_string();
            let path = parts.next()?.to_string();
            Some((controllers, path))
        })
        .collect()
}

fn write(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value)
}

fn read_u64(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let t = text.trim();
    if t == "max" { None } else { t.parse().ok() }
}

fn read_key(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes `plugctl-<pid>-<n>` groups of plugctl processes that no longer exist.
fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("plugctl-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !pid_alive(pid) {
            // A plugctl killed mid-load: whatever still runs in its group goes too.
            let procs =
                std::fs::read_to_string(entry.path().join("cgroup.procs")).unwrap_or_default();
            for p in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: kill(2) of a process left in a dead plugctl's group.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            for _ in 0..50 {
                if std::fs::remove_dir(entry.path()).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

impl Group {
    /// Creates the child's groups and applies `limits`. `None` when no hierarchy can be
    /// used (not mounted, not writable); the notes say why.
    pub fn create(limits: &CgroupLimits) -> (Option<Group>, Vec<String>) {
        let name = format!(
            "plugctl-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let all = mounts();
        let own = own_groups();
        // cgroup v2: the unified hierarchy at /sys/fs/cgroup, with controllers.
        if let Some(m) = all
            .iter()
            .find(|m| m.fstype == "cgroup2" && m.point == Path::new("/sys/fs/cgroup"))
        {
            let path = own
                .iter()
                .find(|(c, _)| c.is_empty())
                .map(|(_, p)| p.clone())
                .unwrap_or_default();
            let parent = m.point.join(path.trim_start_matches('/'));
            let controllers =
                std::fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
            if controllers
                .split_whitespace()
                .any(|c| c == "memory" || c == "pids")
            {
                return Group::create_v2(&parent, &name, &controllers, limits);
            }
        }
        let mut notes = Vec::new();
        let mut dirs = Vec::new();
        for controller in [Controller::Memory, Controller::Pids, Controller::Cpu] {
            let Some(m) = all.iter().find(|m| {
                m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == controller.name())
            }) else {
                notes.push(format!(
                    "{}: no cgroup v1 hierarchy mounted",
                    controller.name()
                ));
                continue;
            };
            let path = own
                .iter()
                .find(|(c, _)| c.split(',').any(|x| x == controller.name()))
                .map(|(_, p)| p.clone())
                .unwrap_or_else(|| "/".into());
            let parent = m.point.join(path.trim_start_matches('/'));
            sweep_stale(&parent);
            let dir = parent.join(&name);
            match std::fs::create_dir(&dir) {
                Ok(()) => dirs.push((controller, dir)),
                Err(e) => notes.push(format!(
                    "{}: cannot create {}: {e}",
                    controller.name(),
                    dir.display()
                )),
            }
        }
        if dirs.is_empty() {
            return (None, notes);
        }
        let mut group = Group {
            version: Version::V1,
            dirs,
            notes,
        };
        group.apply_v1(limits);
        let notes = group.notes.clone();
        (Some(group), notes)
    }

    fn create_v2(
        parent: &Path,
        name: &str,
        controllers: &str,
        limits: &CgroupLimits,
    ) -> (Option<Group>, Vec<String>) {
        let mut notes = Vec::new();
        sweep_stale(parent);
        let enable: Vec<String> = ["memory", "pids", "cpu"]
            .iter()
            .filter(|c| controllers.split_whitespace().any(|x| x == **c))
            .map(|c| format!("+{c}"))
            .collect();
        if let Err(e) = write(&parent.join("cgroup.subtree_control"), &enable.join(" ")) {
            notes.push(format!(
                "cgroup v2: cannot enable {} in {} ({e}); limits may be missing",
                enable.join(" "),
                parent.display()
            ));
        }
        let dir = parent.join(name);
        if let Err(e) = std::fs::create_dir(&dir) {
            notes.push(format!("cgroup v2: cannot create {}: {e}", dir.display()));
            return (None, notes);
        }
        let mut group = Group {
            version: Version::V2,
            dirs: vec![
                (Controller::Memory, dir.clone()),
                (Controller::Pids, dir.clone()),
                (Controller::Cpu, dir),
            ],
            notes: Vec::new(),
        };
        let dir = group.dirs[0].1.clone();
        if let Some(bytes) = limits.memory {
            match write(&dir.join("memory.max"), &bytes.to_string()) {
                Ok(()) => {
                    let _ = write(&dir.join("memory.swap.max"), "0");
                    notes.push(format!("memory.max = {bytes} (cgroup v2)"));
                }
                Err(e) => notes.push(format!("memory: cannot set memory.max: {e}")),
            }
        }
        if let Some(n) = limits.pids {
            match write(&dir.join("pids.max"), &n.to_string()) {
                Ok(()) => notes.push(format!("pids.max = {n} (cgroup v2)")),
                Err(e) => notes.push(format!("pids: cannot set pids.max: {e}")),
            }
        }
        if let Some(cpus) = limits.cpus {
            let quota = (cpus * 100_000.0).round().max(1000.0) as u64;
            match write(&dir.join("cpu.max"), &format!("{quota} 100000")) {
                Ok(()) => notes.push(format!("cpu.max = {quota} 100000 (cgroup v2)")),
                Err(e) => notes.push(format!("cpu: cannot set cpu.max: {e}")),
            }
        }
        group.notes = notes.clone();
        (Some(group), notes)
    }

    fn apply_v1(&mut self, limits: &CgroupLimits) {
        for (controller, dir) in self.dirs.clone() {
            match controller {
                Controller::Memory => {
                    if let Some(bytes) = limits.memory {
                        match write(&dir.join("memory.limit_in_bytes"), &bytes.to_string()) {
                            Ok(()) => {
                                // No swap either, when the kernel accounts it.
                                let memsw = dir.join("memory.memsw.limit_in_bytes");
                                if memsw.exists() {
                                    let _ = write(&memsw, &bytes.to_string());
                                }
                                self.notes
                                    .push(format!("memory.limit_in_bytes = {bytes} (cgroup v1)"));
                            }
                            Err(e) => self
                                .notes
                                .push(format!("memory: cannot set memory.limit_in_bytes: {e}")),
                        }
                    }
                }
                Controller::Pids => {
                    if let Some(n) = limits.pids {
                        match write(&dir.join("pids.max"), &n.to_string()) {
                            Ok(()) => self.notes.push(format!("pids.max = {n} (cgroup v1)")),
                            Err(e) => self.notes.push(format!("pids: cannot set pids.max: {e}")),
                        }
                    }
                }
                Controller::Cpu => {
                    if let Some(cpus) = limits.cpus {
                        let quota = (cpus * 100_000.0).round().max(1000.0) as u64;
                        let ok = write(&dir.join("cpu.cfs_period_us"), "100000").and_then(|()| {
                            write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())
                        });
                        match ok {
                            Ok(()) => self
                                .notes
                                .push(format!("cpu.cfs_quota_us = {quota} per 100000 (cgroup v1)")),
                            Err(e) => self
                                .notes
                                .push(format!("cpu: cannot set cpu.cfs_quota_us: {e}")),
                        }
                    }
                }
            }
        }
    }

    /// The `cgroup.procs` files the child writes its pid into.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .dirs
            .iter()
            .map(|(_, d)| d.join("cgroup.procs"))
            .collect();
        files.dedup();
        files
    }

    pub fn paths(&self) -> Vec<String> {
        let mut p: Vec<String> = self
            .dirs
            .iter()
            .map(|(_, d)| d.display().to_string())
            .collect();
        p.dedup();
        p
    }

    fn dir(&self, c: Controller) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(x, _)| *x == c)
            .map(|(_, d)| d.as_path())
    }

    /// Pids still in any of the groups.
    pub fn pids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for file in self.procs_files() {
            if let Ok(text) = std::fs::read_to_string(&file) {
                out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// SIGKILLs every process in the groups until they are empty (at most `within`);
    /// returns how many were killed.
    pub fn kill_all(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let mut killed = std::collections::BTreeSet::new();
        loop {
            let pids = self.pids();
            if pids.is_empty() || Instant::now() >= deadline {
                return killed.len();
            }
            for pid in pids {
                // SAFETY: kill(2) with a pid read from the group; no memory is shared.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                killed.insert(pid);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn stats(&self) -> CgroupStats {
        let mut s = CgroupStats::default();
        match self.version {
            Version::V1 => {
                if let Some(d) = self.dir(Controller::Memory) {
                    s.memory_peak_bytes = read_u64(&d.join("memory.max_usage_in_bytes"));
                    s.memory_limit_bytes =
                        read_u64(&d.join("memory.limit_in_bytes")).filter(|b| *b < (1 << 60));
                    s.oom_kills = read_key(&d.join("memory.oom_control"), "oom_kill");
                    s.memory_failcnt = read_u64(&d.join("memory.failcnt"));
                }
                if let Some(d) = self.dir(Controller::Pids) {
                    s.pids_peak = read_u64(&d.join("pids.peak"));
                    s.pids_limit = read_u64(&d.join("pids.max"));
                    s.pids_max_events = read_key(&d.join("pids.events"), "max");
                }
                if let Some(d) = self.dir(Controller::Cpu) {
                    s.cpu_throttled = read_key(&d.join("cpu.stat"), "nr_throttled");
                }
            }
            Version::V2 => {
                if let Some(d) = self.dir(Controller::Memory) {
                    s.memory_peak_bytes = read_u64(&d.join("memory.peak"));
                    s.memory_limit_bytes = read_u64(&d.join("memory.max"));
                    s.oom_kills = read_key(&d.join("memory.events"), "oom_kill");
                    s.memory_failcnt = read_key(&d.join("memory.events"), "max");
                    s.pids_peak = read_u64(&d.join("pids.peak"));
                    s.pids_limit = read_u64(&d.join("pids.max"));
                    s.pids_max_events = read_key(&d.join("pids.events"), "max");
                    s.cpu_throttled = read_key(&d.join("cpu.stat"), "nr_throttled");
                }
            }
        }
        s
    }

    /// Kills what is left and removes the directories; returns the ones that could not be
    /// removed.
    pub fn remove(&self) -> Vec<String> {
        self.kill_all(Duration::from_secs(2));
        let mut failed = Vec::new();
        let mut dirs: Vec<&PathBuf> = self.dirs.iter().map(|(_, d)| d).collect();
        dirs.dedup();
        for dir in dirs {
            // rmdir fails with EBUSY for a moment after the last task exits.
            let mut result = std::fs::remove_dir(dir);
            for _ in 0..100 {
                if result.is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
                result = std::fs::remove_dir(dir);
            }
            if let Err(e) = result
                && dir.exists()
            {
                failed.push(format!("{}: {e}", dir.display()));
            }
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_decode() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
