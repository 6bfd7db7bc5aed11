//! Hostile inputs: `plugctl inspect` on files built to break readers. Each must end with
//! one clear line naming the file and exit 2, or, when the file is a readable ELF with one
//! broken part, with a finding; always within [`CPU_LIMIT`] of CPU time and [`RSS_LIMIT`]
//! of peak resident memory, measured on the child with `wait4`.
//!
//! The byte-level corpus comes from `tests/fixtures/build.py` (`malformed/`: kind
//! `malformed`, which must be flagged, and kind `hostile`, whose load plugctl may not
//! predict). Everything that depends on the file system is made here, in temporary
//! directories: truncations at every header and section boundary of real objects, 4 GiB
//! sparse files, special files, an unreadable file, non-UTF-8 names, symlink loops on the
//! library search path.
//!
//! Each test prints one line per input (exit status, CPU, wall time, peak RSS, the
//! message); run with `--nocapture` to see them.

mod common;

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixtures, plugctl};
use serde_json::Value;

/// CPU time (user + system) one run may take.
const CPU_LIMIT: Duration = Duration::from_secs(1);
/// Wall-clock time after which a run counts as hung and is killed. CPU time is the
/// measure; wall time also counts waiting for a CPU on a loaded machine.
const WALL_LIMIT: Duration = Duration::from_secs(5);
/// Peak resident set size one run may reach, in KiB (256 MiB).
const RSS_LIMIT: i64 = 256 * 1024;

/// How one child process ended, and what it cost.
struct Measured {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
    timed_out: bool,
}

impl Measured {
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.stdout).ok()
    }
}

/// Forks and execs the command, waits for it with `wait4` and writes its status, peak RSS
/// and CPU time to a file. A launcher is needed because `ru_maxrss` of a child also counts
/// the memory of the process that forked it (the kernel keeps the high-water mark of the
/// address space `exec` replaces, and a vfork'd child replaces its parent's): forked from
/// this test process, every child would show the test's own peak. Forked from a small
/// Python process, the floor is Python's few MiB. Python 3 is already required by the
/// fixture script.
const LAUNCHER: &str = r#"
import os, sys, time
out, limit, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
deadline = time.monotonic() + limit
timed_out = 0
while True:
    p, status, ru = os.wait4(pid, os.WNOHANG)
    if p == pid:
        break
    if time.monotonic() > deadline:
        timed_out = 1
        os.kill(pid, 9)
        p, status, ru = os.wait4(pid, 0)
        break
    time.sleep(0.0005)
with open(out, "w") as f:
    f.write(f"{os.waitstatus_to_exitcode(status)} {ru.ru_maxrss} {ru.ru_utime} {ru.ru_stime} {timed_out}\n")
"#;

/// Runs `command` through [`LAUNCHER`]: its exit status, output, wall time, CPU time and
/// peak RSS, killed after [`WALL_LIMIT`].
fn measure(command: Command) -> Measured {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut launcher = Command::new(python());
    launcher
        .args(["-I", "-S", "-c"])
        .arg(LAUNCHER)
        .arg(report.path())
        .arg(WALL_LIMIT.as_secs_f64().to_string());
    launcher
        .arg(which(command.get_program()))
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(v) => launcher.env(key, v),
            None => launcher.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        launcher.current_dir(dir);
    }
    let start = Instant::now();
    let out = launcher
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs the launcher");
    let wall = start.elapsed();
    let text = std::fs::read_to_string(report.path()).unwrap_or_default();
    let f: Vec<&str> = text.split_whitespace().collect();
    assert!(
        f.len() == 5 && out.status.success(),
        "launcher failed: {out:?} {text:?}"
    );
    let code: i32 = f[0].parse().unwrap();
    let secs = |s: &str| Duration::from_secs_f64(s.parse().unwrap());
    Measured {
        code: (code >= 0).then_some(code),
        signal: (code < 0).then_some(-code),
        stdout: out.stdout,
        stderr: out.stderr,
        wall,
        cpu: secs(f[2]) + secs(f[3]),
        max_rss_kib: f[1].parse().unwrap(),
        timed_out: f[4] == "1",
    }
}

/// The Python interpreter itself, not a version manager's shim script in front of it
/// (pyenv's costs 400 ms a run).
fn python() -> &'static Path {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 runs");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// `program` as a path `execv` can run (it does not search `PATH`).
fn which(program: &OsStr) -> PathBuf {
    let path = Path::new(program);
    if path.components().count() > 1 {
        return path.to_path_buf();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(path))
        .find(|p| p.is_file())
        .unwrap_or_else(|| path.to_path_buf())
}

/// What an input must produce.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// Exit 2 with one line naming it, or a finding (PC001 or a load failure).
    ErrorOrFinding,
    /// Exit 2 with one line naming it.
    Error,
    /// Anything but a crash, within the limits (valid files, or ones whose load is not
    /// predicted).
    Robust,
}

/// Collects the failures of many inputs, so that one run reports all of them.
#[derive(Default)]
struct Checks {
    failures: Vec<String>,
    runs: usize,
    worst_cpu: Duration,
    worst_rss_kib: i64,
}

impl Checks {
    /// Checks one `inspect --format json` run; `shown` is how plugctl names the input in
    /// an error line (the path as `Path::display` prints it, `host PATH` for `--host`).
    fn check(&mut self, label: &str, shown: &str, m: &Measured, expect: Expect) {
        self.runs += 1;
        self.worst_cpu = self.worst_cpu.max(m.cpu);
        self.worst_rss_kib = self.worst_rss_kib.max(m.max_rss_kib);
        let stderr = m.stderr_text();
        let lines: Vec<&str> = stderr.lines().collect();
        let doc = m.json();
        let first_finding = doc.as_ref().and_then(|d| {
            let a = &d["artifacts"][0];
            let findings = a["findings"].as_array()?;
            let flagged = findings
                .iter()
                .find(|f| f["code"] == "PC001")
                .or(findings.first());
            Some(format!(
                "load {}; {}",
                a["load"]["outcome"].as_str().unwrap_or("?"),
                flagged.map_or("no finding".into(), |f| format!(
                    "{} {}",
                    f["code"].as_str().unwrap_or(""),
                    f["message"].as_str().unwrap_or("")
                ))
            ))
        });
        let said = if m.code == Some(2) {
            lines.first().map_or(String::new(), |l| l.to_string())
        } else {
            first_finding.clone().unwrap_or_default()
        };
        eprintln!(
            "{label:<52} exit {:<4} cpu {:>4} ms  wall {:>4} ms  rss {:>5.1} MiB  {}",
            m.code.map_or_else(
                || format!("sig{}", m.signal.unwrap_or(0)),
                |c| c.to_string()
            ),
            m.cpu.as_millis(),
            m.wall.as_millis(),
            m.max_rss_kib as f64 / 1024.0,
            said.chars().take(160).collect::<String>()
        );
        let mut fail = |why: String| self.failures.push(format!("{label}: {why}"));
        if m.timed_out {
            fail(format!("still running after {WALL_LIMIT:?} (killed)"));
            return;
        }
        if stderr.contains("panicked") || m.signal.is_some() {
            fail(format!("crashed (signal {:?}): {stderr}", m.signal));
            return;
        }
        if m.cpu > CPU_LIMIT {
            fail(format!("took {:?} of CPU (limit {CPU_LIMIT:?})", m.cpu));
        }
        if m.max_rss_kib > RSS_LIMIT {
            fail(format!(
                "peak RSS {} MiB (limit {} MiB)",
                m.max_rss_kib / 1024,
                RSS_LIMIT / 1024
            ));
        }
        match (m.code, expect) {
            (Some(2), _) => {
                let prefix = format!("plugctl: {shown}: ");
                if lines.len() != 1 || !lines[0].starts_with(&prefix) {
                    fail(format!(
                        "exit 2 wants one line starting {prefix:?}, got {stderr:?}"
                    ));
                }
            }
            (Some(0 | 1), Expect::Error) => fail(format!("exit {:?}, want 2", m.code)),
            (Some(0 | 1), Expect::ErrorOrFinding) => {
                let flagged = doc.as_ref().is_some_and(|d| {
                    let a = &d["artifacts"][0];
                    a["findings"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|f| f["code"] == "PC001"))
                        || a["load"]["outcome"] != "ok"
                });
                if !flagged {
                    fail(format!(
                        "read without any finding: {}",
                        String::from_utf8_lossy(&m.stdout)
                    ));
                }
            }
            (Some(0 | 1), Expect::Robust) => {
                if doc.is_none() {
                    fail("stdout is not JSON".into());
                }
            }
            (other, _) => fail(format!("exit {other:?}: {stderr}")),
        }
    }

    fn assert_ok(self, what: &str) {
        eprintln!(
            "{what}: {} runs, worst CPU {:?}, worst peak RSS {:.1} MiB",
            self.runs,
            self.worst_cpu,
            self.worst_rss_kib as f64 / 1024.0
        );
        assert!(
            self.failures.is_empty(),
            "{what}: {} failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// `plugctl inspect --format json [extra...] PATH`, with a clean loader environment.
fn inspect(path: &Path, extra: &[&OsStr]) -> Measured {
    let mut command = plugctl();
    for var in ["LD_LIBRARY_PATH", "LD_PRELOAD", "GLIBC_TUNABLES"] {
        command.env_remove(var);
    }
    command
        .args(["inspect", "--format", "json"])
        .args(extra)
        .arg(path);
    measure(command)
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

// ---------------------------------------------------------------------------
// The generated corpus

#[test]
fn generated_corpus_is_reported_clearly() {
    let fx = fixtures();
    let mut checks = Checks::default();
    let dlhost = fx.path("c/dlhost");
    let go_host = fx.path("go/hosts/loadhost-1.26.6-default");
    let plugin = fx.path("go/plugins/greeter-1.26.6-default.so");
    let mut seen = 0;
    for kind in ["malformed", "hostile"] {
        for art in fx.artifacts_of_kind(kind) {
            let rel = art["path"].as_str().unwrap();
            let path = fx.path(rel);
            let expect = if kind == "malformed" {
                Expect::ErrorOrFinding
            } else {
                Expect::Robust
            };
            checks.check(rel, &shown(&path), &inspect(&path, &[]), expect);
            // The same file opened by a C host and by a Go host, and as the host itself.
            let m = inspect(&path, &[OsStr::new("--host"), dlhost.as_os_str()]);
            checks.check(&format!("{rel} --host dlhost"), &shown(&path), &m, expect);
            let m = inspect(&path, &[OsStr::new("--host"), go_host.as_os_str()]);
            checks.check(&format!("{rel} --host loadhost"), &shown(&path), &m, expect);
            let mut command = plugctl();
            command
                .args(["inspect", "--format", "json", "--host"])
                .arg(&path)
                .arg(&plugin);
            let m = measure(command);
            checks.check(
                &format!("--host {rel}"),
                &format!("host {}", shown(&path)),
                &m,
                Expect::Robust,
            );
            seen += 1;
        }
    }
    assert!(
        seen >= 30,
        "only {seen} generated hostile files in the corpus"
    );
    checks.assert_ok("generated corpus");
}

// ---------------------------------------------------------------------------
// Truncation at every header and section boundary

/// Header, table and section boundaries of an ELF file (32- or 64-bit, little-endian).
fn boundaries(data: &[u8]) -> Vec<u64> {
    let is64 = data[4] == 2;
    let rd = |at: usize, w: usize| -> u64 {
        data[at..at + w]
            .iter()
            .rev()
            .fold(0u64, |v, b| (v << 8) | u64::from(*b))
    };
    let (phoff, shoff, phentsize, phnum, shentsize, shnum) = if is64 {
        (
            rd(0x20, 8),
            rd(0x28, 8),
            rd(0x36, 2),
            rd(0x38, 2),
            rd(0x3a, 2),
            rd(0x3c, 2),
        )
    } else {
        (
            rd(0x1c, 4),
            rd(0x20, 4),
            rd(0x2a, 2),
            rd(0x2c, 2),
            rd(0x2e, 2),
            rd(0x30, 2),
        )
    };
    let mut out = vec![1, 4, 5, 16, 18, 20, if is64 { 64 } else { 52 }];
    for i in 0..=phnum {
        out.push(phoff + i * phentsize);
    }
    for i in 0..phnum {
        let b = (phoff + i * phentsize) as usize;
        let (off, filesz) = if is64 {
            (rd(b + 8, 8), rd(b + 32, 8))
        } else {
            (rd(b + 4, 4), rd(b + 16, 4))
        };
        out.extend([off, off + filesz]);
    }
    for i in 0..=shnum {
        out.push(shoff + i * shentsize);
    }
    for i in 0..shnum {
        let b = (shoff + i * shentsize) as usize;
        let (kind, off, size) = if is64 {
            (rd(b + 4, 4), rd(b + 24, 8), rd(b + 32, 8))
        } else {
            (rd(b + 4, 4), rd(b + 16, 4), rd(b + 20, 4))
        };
        out.push(off);
        if kind != 8 {
            out.push(off + size);
        }
    }
    out.retain(|&b| b > 0 && b < data.len() as u64);
    out.sort_unstable();
    out.dedup();
    out
}

/// Truncates a copy of `rel` at each boundary (and one byte either side, in-process),
/// from the longest cut to the shortest, and runs plugctl on each.
fn truncations(rel: &str, checks: &mut Checks) -> usize {
    let fx = fixtures();
    let data = std::fs::read(fx.path(rel)).unwrap();
    let cuts = boundaries(&data);
    // In-process first: the exact boundary and one byte either side, through the ELF
    // model and the Go reader.
    for &cut in &cuts {
        for c in [cut - 1, cut, cut + 1] {
            let bytes = data[..c as usize].to_vec();
            let result = std::panic::catch_unwind(|| {
                if let Ok(art) = plugctl::elf::Artifact::from_vec(PathBuf::from(rel), bytes) {
                    let _ = plugctl::golang::read(&art);
                }
            });
            if result.is_err() {
                checks
                    .failures
                    .push(format!("{rel} cut at {c}: the parser panicked"));
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(Path::new(rel).file_name().unwrap());
    std::fs::write(&path, &data).unwrap();
    let file = File::options().write(true).open(&path).unwrap();
    for &cut in cuts.iter().rev() {
        file.set_len(cut).unwrap();
        let m = inspect(&path, &[]);
        checks.check(
            &format!("{rel} cut at {cut}"),
            &shown(&path),
            &m,
            Expect::ErrorOrFinding,
        );
    }
    cuts.len()
}

#[test]
fn truncated_at_every_header_and_section_boundary() {
    let mut checks = Checks::default();
    let mut cuts = 0;
    for rel in [
        "c/arch/libsimple.so",
        "c/arch/libsimple_i386.so",
        "c/versioned/libfoo_consumer.so",
    ] {
        cuts += truncations(rel, &mut checks);
    }
    assert!(cuts > 150, "only {cuts} boundaries");
    checks.assert_ok("truncated C objects");
}

#[test]
fn go_plugin_truncated_at_every_header_and_section_boundary() {
    let mut checks = Checks::default();
    let cuts = truncations("go/plugins/greeter-1.26.6-default.so", &mut checks);
    assert!(cuts > 60, "only {cuts} boundaries");
    checks.assert_ok("truncated Go plugin");
}

// ---------------------------------------------------------------------------
// 4 GiB sparse files: never read into memory

const GIB4: u64 = 4 << 30;

fn le_put(data: &mut [u8], at: usize, value: u64, width: usize) {
    data[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
}

#[test]
fn sparse_4_gib_files_are_not_read_into_memory() {
    let fx = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let simple = std::fs::read(fx.path("c/arch/libsimple.so")).unwrap();
    let sparse = |name: &str, head: &[u8], len: u64| -> PathBuf {
        let path = dir.path().join(name);
        let mut f = File::create(&path).unwrap();
        std::io::Write::write_all(&mut f, head).unwrap();
        f.set_len(len).unwrap();
        let blocks = std::os::unix::fs::MetadataExt::blocks(&f.metadata().unwrap());
        assert!(
            blocks * 512 < 64 << 20,
            "{name} is not sparse ({blocks} blocks)"
        );
        path
    };
    let mut cases: Vec<(PathBuf, Expect)> = Vec::new();
    // Zeros: no ELF magic.
    cases.push((sparse("zeros-4g.so", &[], GIB4), Expect::Error));
    // A real object followed by a 4 GiB hole.
    cases.push((
        sparse("simple-then-hole-4g.so", &simple, GIB4 + 4096),
        Expect::Robust,
    ));
    // No section headers, a writable PT_LOAD of 4 GiB: the Go build info is searched in
    // writable segments.
    let mut writable = simple.clone();
    le_put(&mut writable, 0x28, 0, 8); // e_shoff
    le_put(&mut writable, 0x3c, 0, 2); // e_shnum
    le_put(&mut writable, 0x3e, 0, 2); // e_shstrndx
    let data_ph = 64 + 3 * 56;
    le_put(&mut writable, data_ph + 0x20, GIB4, 8);
    le_put(&mut writable, data_ph + 0x28, GIB4, 8);
    cases.push((
        sparse("writable-segment-4g.so", &writable, GIB4 + 0x4000),
        Expect::Robust,
    ));
    // .dynsym, .symtab and .rela.dyn all claim 4 GiB: 178 956 970 entries each.
    let mut tables = simple.clone();
    let shoff = u64::from_le_bytes(simple[0x28..0x30].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(simple[0x3c..0x3e].try_into().unwrap()) as usize;
    for i in 0..shnum {
        let b = shoff + i * 64;
        if matches!(
            u32::from_le_bytes(simple[b + 4..b + 8].try_into().unwrap()),
            2 | 4 | 11
        ) {
            le_put(&mut tables, b + 0x18, 0x4000, 8);
            le_put(&mut tables, b + 0x20, (GIB4 / 24) * 24, 8);
        }
    }
    cases.push((
        sparse("tables-4g.so", &tables, GIB4 + 0x4000),
        Expect::ErrorOrFinding,
    ));
    // A real Go plugin followed by a hole.
    let plugin = std::fs::read(fx.path("go/plugins/greeter-1.26.6-default.so")).unwrap();
    cases.push((
        sparse("go-plugin-then-hole-4g.so", &plugin, GIB4 + 4096),
        Expect::Robust,
    ));
    let mut checks = Checks::default();
    for (path, expect) in &cases {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        checks.check(&name, &shown(path), &inspect(path, &[]), *expect);
    }
    checks.assert_ok("4 GiB sparse files");
}

// ---------------------------------------------------------------------------
// Files that are not files

#[test]
fn special_files_exit_2_naming_the_path() {
    let fx = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("pipe.so");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let socket = d.join("socket.so");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let to_zero = d.join("zero.so");
    std::os::unix::fs::symlink("/dev/zero", &to_zero).unwrap();
    let looping = d.join("loop.so");
    std::os::unix::fs::symlink("loop.so", &looping).unwrap();
    let dangling = d.join("dangling.so");
    std::os::unix::fs::symlink("nowhere.so", &dangling).unwrap();
    let under_file = fx.path("c/arch/libsimple.so").join("x.so");
    let cases: Vec<(PathBuf, &str)> = vec![
        (d.to_path_buf(), "is a directory"),
        (fifo, "is a FIFO"),
        (socket, "is a socket"),
        (PathBuf::from("/dev/null"), "is a device"),
        (PathBuf::from("/dev/zero"), "is a device"),
        (to_zero, "is a device"),
        (looping, "Too many levels of symbolic links"),
        (dangling, "no such file or directory"),
        (d.join("missing.so"), "no such file or directory"),
        (under_file, "Not a directory"),
    ];
    let mut checks = Checks::default();
    for (path, problem) in &cases {
        let m = inspect(path, &[]);
        let label = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        checks.check(&label, &shown(path), &m, Expect::Error);
        if !m.stderr_text().contains(problem) {
            checks.failures.push(format!(
                "{label}: wanted {problem:?} in {:?}",
                m.stderr_text()
            ));
        }
    }
    checks.assert_ok("special files");
}

// ---------------------------------------------------------------------------
// A file plugctl may not read

/// How to run a command as an unprivileged user from here, if there is one.
fn unprivileged(program: &Path) -> Option<Command> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(Command::new(program));
    }
    // Root reads any file whatever its mode: drop to nobody (65534) to see the error path.
    for (tool, args) in [
        (
            "setpriv",
            &["--reuid=65534", "--regid=65534", "--clear-groups", "--"][..],
        ),
        ("runuser", &["-u", "nobody", "--"][..]),
    ] {
        let probe = Command::new(tool)
            .args(args)
            .arg("true")
            .stderr(Stdio::null())
            .status();
        if probe.is_ok_and(|s| s.success()) {
            let mut command = Command::new(tool);
            command.args(args).arg(program);
            return Some(command);
        }
    }
    None
}

#[test]
fn unreadable_file_exits_2_with_permission_denied() {
    let fx = fixtures();
    let mut command = unprivileged(Path::new(env!("CARGO_BIN_EXE_plugctl")))
        .expect("setpriv or runuser (util-linux) drops privileges for this check");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("secret.so");
    std::fs::copy(fx.path("c/arch/libsimple.so"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    command.args(["inspect", "--format", "json"]).arg(&path);
    let m = measure(command);
    let mut checks = Checks::default();
    checks.check(
        "secret.so (mode 000, as nobody)",
        &shown(&path),
        &m,
        Expect::Error,
    );
    if !m.stderr_text().contains("permission denied") {
        checks.failures.push(format!(
            "wanted \"permission denied\": {:?}",
            m.stderr_text()
        ));
    }
    checks.assert_ok("unreadable file");
}

// ---------------------------------------------------------------------------
// Names that are not UTF-8

#[test]
fn non_utf8_file_names_are_still_named() {
    let fx = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join(OsStr::from_bytes(b"bad-\xff\xfe.so"));
    std::fs::write(&garbage, b"\x00\x01 not an ELF object").unwrap();
    let valid = dir.path().join(OsStr::from_bytes(b"ok-\xff.so"));
    std::fs::copy(fx.path("c/arch/libsimple.so"), &valid).unwrap();
    let mut checks = Checks::default();
    // The name is shown the way Path::display shows it: invalid bytes as U+FFFD.
    let m = inspect(&garbage, &[]);
    checks.check(
        "bad-\\xff\\xfe.so (not ELF)",
        &shown(&garbage),
        &m,
        Expect::Error,
    );
    let m = inspect(&valid, &[]);
    checks.check("ok-\\xff.so (valid)", &shown(&valid), &m, Expect::Robust);
    let doc = m.json().unwrap_or_default();
    let named = doc["artifacts"][0]["path"]
        .as_str()
        .is_some_and(|p| p.ends_with("ok-\u{fffd}.so"));
    if !named {
        checks.failures.push(format!(
            "JSON does not name ok-\\xff.so: {}",
            doc["artifacts"][0]["path"]
        ));
    }
    let mut table = plugctl();
    table.args(["inspect"]).arg(&valid);
    let m = measure(table);
    if !String::from_utf8_lossy(&m.stdout).contains("ok-\u{fffd}.so") || m.code != Some(0) {
        checks.failures.push(format!(
            "table output does not name ok-\\xff.so: {}",
            String::from_utf8_lossy(&m.stdout)
        ));
    }
    checks.assert_ok("non-UTF-8 names");
}

// ---------------------------------------------------------------------------
// Loops: DT_NEEDED cycles and symlink loops on the library search path

/// The real C host's line for one library: `OK` or the dlerror text.
fn dlhost(lib: &Path, ld_library_path: Option<&str>) -> String {
    let fx = fixtures();
    let mut command = Command::new(fx.path("c/dlhost"));
    for var in ["LD_LIBRARY_PATH", "LD_PRELOAD", "GLIBC_TUNABLES"] {
        command.env_remove(var);
    }
    if let Some(p) = ld_library_path {
        command.env("LD_LIBRARY_PATH", p);
    }
    let out = command.arg(lib).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().next().unwrap_or("").to_string();
    match line.strip_prefix("ERR ") {
        Some(rest) => rest
            .split_once(": ")
            .map_or(rest.to_string(), |(_, e)| e.to_string()),
        None => line.split_whitespace().next().unwrap_or("").to_string(),
    }
}

/// plugctl's prediction for one library in the C host: `OK` or the predicted error.
fn predicted(m: &Measured) -> String {
    let doc = m.json().unwrap_or_default();
    let load = &doc["artifacts"][0]["load"];
    if load["outcome"] == "ok" {
        "OK".into()
    } else {
        load["error"].as_str().unwrap_or("?").to_string()
    }
}

#[test]
fn cyclic_dt_needed_chain_loads_once() {
    let fx = fixtures();
    let dlhost_path = fx.path("c/dlhost");
    let mut checks = Checks::default();
    for rel in [
        "malformed/cycle/libcycle_a.so",
        "malformed/cycle/libcycle_b.so",
    ] {
        let lib = fx.path(rel);
        let m = inspect(
            &lib,
            &[
                OsStr::new("--tree"),
                OsStr::new("--host"),
                dlhost_path.as_os_str(),
            ],
        );
        checks.check(rel, &shown(&lib), &m, Expect::Robust);
        let (real, said) = (dlhost(&lib, None), predicted(&m));
        if real != "OK" || said != "OK" {
            checks
                .failures
                .push(format!("{rel}: dlopen says {real:?}, plugctl {said:?}"));
        }
    }
    checks.assert_ok("DT_NEEDED cycle");
}

#[test]
fn symlink_loops_on_the_library_path() {
    let fx = fixtures();
    let dir = tempfile::tempdir().unwrap();
    // A link to itself, and two links to each other, both named like the needed library.
    let one = dir.path().join("self");
    std::fs::create_dir(&one).unwrap();
    std::os::unix::fs::symlink("libdep.so.1", one.join("libdep.so.1")).unwrap();
    let two = dir.path().join("pair");
    std::fs::create_dir(&two).unwrap();
    std::os::unix::fs::symlink("other", two.join("libdep.so.1")).unwrap();
    std::os::unix::fs::symlink("libdep.so.1", two.join("other")).unwrap();
    let deps = fx.path("c/search/deps");
    let lib = fx.path("c/search/libuses_nopath.so");
    let dlhost_path = fx.path("c/dlhost");
    let mut checks = Checks::default();
    for (label, path) in [
        ("self loop", one.display().to_string()),
        ("two-link loop", two.display().to_string()),
        (
            "loop, then the real directory",
            format!("{}:{}", one.display(), deps.display()),
        ),
        (
            "real directory, then the loop",
            format!("{}:{}", deps.display(), two.display()),
        ),
    ] {
        let m = inspect(
            &lib,
            &[
                OsStr::new("--host"),
                dlhost_path.as_os_str(),
                OsStr::new("--ld-library-path"),
                OsStr::new(&path),
            ],
        );
        checks.check(
            &format!("libuses_nopath.so, {label}"),
            &shown(&lib),
            &m,
            Expect::Robust,
        );
        let (real, said) = (dlhost(&lib, Some(&path)), predicted(&m));
        eprintln!("    dlopen: {real}\n    plugctl: {said}");
        if real != said {
            checks.failures.push(format!(
                "{label}: dlopen says {real:?}, plugctl predicts {said:?}"
            ));
        }
    }
    // The looping link itself as the artifact.
    let link = one.join("libdep.so.1");
    let m = inspect(&link, &[]);
    checks.check(
        "self loop as the artifact",
        &shown(&link),
        &m,
        Expect::Error,
    );
    checks.assert_ok("symlink loops");
}
