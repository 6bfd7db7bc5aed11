//! seccomp-bpf for the child: learn the system calls a load really makes, and enforce an
//! OCI/Docker seccomp profile while naming every denied call.
//!
//! Both modes use `SECCOMP_RET_USER_NOTIF` (Linux 5.0+, `CONTINUE` since 5.5): the
//! sandbox stage installs a filter with a listener and hands the listener to plugctl
//! over a socket; plugctl's listener thread then sees each notified call with its
//! number and thread, and answers it.
//!
//! * learn: every call notifies; plugctl records it and lets it continue. Chosen over
//!   ptrace/strace (needs a tracer binary and ptrace permission, and slows every
//!   call), `SECCOMP_RET_LOG` (lands in the kernel audit log, which an unprivileged
//!   or containerised plugctl often cannot read) and `SECCOMP_RET_TRACE` (needs a
//!   ptrace tracer): it needs nothing but the kernel and sees exactly what the filter
//!   sees, from the target's `execve` on.
//! * enforce: the profile's allowed calls return `ALLOW` inside the kernel at full
//!   speed; everything else notifies, and plugctl answers as the profile says
//!   (`SCMP_ACT_ERRNO` with its errno, a kill for `SCMP_ACT_KILL*`), recording the
//!   call. So the child sees what Docker or runc would do, and the report names the
//!   first denied call instead of a bare `EPERM` or `SIGSYS`.
//!
//! x86-64 only: other architectures and the x32 ABI are refused by the filter.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

#[cfg(target_arch = "x86_64")]
#[path = "syscalls_x86_64.rs"]
mod table;
#[cfg(not(target_arch = "x86_64"))]
mod table {
    pub const SYSCALLS: &[(u32, &str)] = &[];
}

/// The fd on which the sandbox stage sends the listener; the filter lets `sendmsg` on it
/// through so the hand-over itself is not trapped.
pub const HANDOFF_FD: RawFd = 5;

/// The default deny-list, always on top of the user's mode (Docker's default profile
/// semantics for a process without capabilities): file-system and namespace changes,
/// tracing and other processes' memory, kernel modules and keys, BPF and perf, clocks,
/// swap, reboot. A hit is answered `EPERM` and named in the report.
pub const DENY_LIST: &[&str] = &[
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "setns",
    "unshare",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "query_module",
    "get_kernel_syms",
    "kexec_load",
    "kexec_file_load",
    "keyctl",
    "add_key",
    "request_key",
    "open_by_handle_at",
    "name_to_handle_at",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "nfsservctl",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "vhangup",
];

/// `clone` flags that create namespaces: refused like `unshare`.
const CLONE_NS_FLAGS: u32 = 0x7e02_0080;
/// `clone3` cannot be filtered by argument: it fails with `ENOSYS` (as under Docker), so
/// glibc falls back to `clone`, whose flags the filter checks.
const NR_CLONE: u32 = 56;
const NR_CLONE3: u32 = 435;
/// `reboot(MARK_A, MARK_B)`: the sandbox stage's last call before `execve`. Everything
/// the listener sees before it is the isolation probe, everything after is the target.
pub const MARK_A: u64 = 0x706c_7567;
pub const MARK_B: u64 = 0x6374_6c21;
const NR_REBOOT: u32 = 169;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const NR_SENDMSG: u32 = 46;

pub fn name_of(nr: u32) -> String {
    table::SYSCALLS
        .iter()
        .find(|(n, _)| *n == nr)
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| format!("syscall_{nr}"))
}

pub fn nr_of(name: &str) -> Option<u32> {
    table::SYSCALLS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(nr, _)| *nr)
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Record and write a minimal allow-list profile to this file.
    Learn { out: PathBuf },
    /// Enforce this profile.
    Enforce { profile: PathBuf },
}

/// An OCI / Docker seccomp profile (the subset plugctl reads and writes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Older Docker profiles name one call per rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Argument conditions (`{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}`): read only
    /// to warn that they are not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<ArgCondition>>,
}

/// One argument condition of a profile rule, as Docker and OCI write it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgCondition {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// What happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Allow,
    /// Fails with this errno.
    Errno(u32),
    /// The process is killed.
    Kill,
    /// Allowed and logged.
    Log,
}

impl Action {
    fn parse(text: &str, errno: Option<u32>, default_errno: Option<u32>) -> Result<Action> {
        Ok(match text {
            "SCMP_ACT_ALLOW" => Action::Allow,
            "SCMP_ACT_LOG" => Action::Log,
            "SCMP_ACT_ERRNO" => {
                Action::Errno(errno.or(default_errno).unwrap_or(libc::EPERM as u32))
            }
            // No tracer attached: the kernel fails a TRACE call with ENOSYS.
            "SCMP_ACT_TRACE" => Action::Errno(libc::ENOSYS as u32),
            "SCMP_ACT_KILL"
            | "SCMP_ACT_KILL_THREAD"
            | "SCMP_ACT_KILL_PROCESS"
            | "SCMP_ACT_TRAP" => Action::Kill,
            other => bail!("seccomp action {other} is not supported"),
        })
    }

    pub fn describe(self) -> String {
        match self {
            Action::Allow => "allowed".into(),
            Action::Log => "allowed (logged)".into(),
            Action::Errno(e) => format!("failed with {}", errno_name(e)),
            Action::Kill => "process killed".into(),
        }
    }
}

pub fn errno_name(e: u32) -> String {
    match e as i32 {
        libc::EPERM => "EPERM".into(),
        libc::EACCES => "EACCES".into(),
        libc::ENOSYS => "ENOSYS".into(),
        other => format!("errno {other}"),
    }
}

/// The filter and how to answer notified calls.
#[derive(Debug, Clone)]
pub struct Plan {
    pub learn: bool,
    /// BPF instructions: (code, jt, jf, k), answered by plugctl's listener.
    pub filter: Vec<(u16, u8, u8, u32)>,
    /// The same policy decided in the kernel alone, for sandboxes whose kernel has no
    /// `SECCOMP_RET_USER_NOTIF` (gVisor): denied calls are not named then. `None` when
    /// the mode cannot work without a listener (learn).
    pub fallback: Option<Vec<(u16, u8, u8, u32)>>,
    rules: HashMap<u32, Action>,
    default: Action,
    /// Rule features plugctl does not apply (argument filters), for the report.
    pub warnings: Vec<String>,
    pub profile_path: Option<PathBuf>,
}

fn stmt(code: u32, k: u32) -> (u16, u8, u8, u32) {
    (code as u16, 0, 0, k)
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> (u16, u8, u8, u32) {
    (code as u16, jt, jf, k)
}

/// A filter: the deny-list answers `deny_ret` (namespace-creating `clone` too, `clone3`
/// `ENOSYS`), then `listed` calls return `listed_ret` and all others `default_ret`.
fn build_filter(
    listed: &[u32],
    listed_ret: u32,
    default_ret: u32,
    deny_ret: u32,
) -> Vec<(u16, u8, u8, u32)> {
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let jeq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let jge = libc::BPF_JMP | 0x30 /* BPF_JGE */ | libc::BPF_K;
    let jset = libc::BPF_JMP | 0x40 /* BPF_JSET */ | libc::BPF_K;
    let ret = libc::BPF_RET | libc::BPF_K;
    let mut f = vec![
        stmt(ld, 4), // seccomp_data.arch
        jump(jeq, AUDIT_ARCH_X86_64, 1, 0),
        stmt(ret, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(ld, 0), // seccomp_data.nr
        jump(jge, X32_SYSCALL_BIT, 0, 1),
        stmt(ret, libc::SECCOMP_RET_KILL_PROCESS),
        // The hand-over: sendmsg(HANDOFF_FD, ...) passes.
        jump(jeq, NR_SENDMSG, 0, 3),
        stmt(ld, 16), // args[0], low word
        jump(jeq, HANDOFF_FD as u32, 0, 1),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
        stmt(ld, 0),
        // clone with namespace flags.
        jump(jeq, NR_CLONE, 0, 3),
        stmt(ld, 16),
        jump(jset, CLONE_NS_FLAGS, 0, 1),
        stmt(ret, deny_ret),
        stmt(ld, 0),
        jump(jeq, NR_CLONE3, 0, 1),
        stmt(ret, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    ];
    for nr in deny_list() {
        f.push(jump(jeq, nr, 0, 1));
        f.push(stmt(ret, deny_ret));
    }
    for nr in listed {
        f.push(jump(jeq, *nr, 0, 1));
        f.push(stmt(ret, listed_ret));
    }
    f.push(stmt(ret, default_ret));
    f
}

fn deny_list() -> Vec<u32> {
    DENY_LIST.iter().filter_map(|n| nr_of(n)).collect()
}

/// Whether the deny-list refuses this call (`clone` only with namespace flags).
fn is_denied(nr: u32, arg0: u64) -> bool {
    if nr == NR_CLONE {
        return arg0 & u64::from(CLONE_NS_FLAGS) != 0;
    }
    DENY_LIST.iter().any(|n| nr_of(n) == Some(nr))
}

/// The in-kernel return value of an action (for sandboxes without user notification).
fn kernel_ret(a: Action) -> u32 {
    match a {
        Action::Allow | Action::Log => libc::SECCOMP_RET_ALLOW,
        Action::Errno(e) => libc::SECCOMP_RET_ERRNO | (e & 0xffff),
        Action::Kill => libc::SECCOMP_RET_KILL_PROCESS,
    }
}

impl Plan {
    /// No user profile: only the default deny-list.
    pub fn deny_list_only() -> Plan {
        let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        Plan {
            learn: false,
            filter: build_filter(
                &[],
                0,
                libc::SECCOMP_RET_ALLOW,
                libc::SECCOMP_RET_USER_NOTIF,
            ),
            fallback: Some(build_filter(&[], 0, libc::SECCOMP_RET_ALLOW, eperm)),
            rules: HashMap::new(),
            default: Action::Allow,
            warnings: Vec::new(),
            profile_path: None,
        }
    }

    pub fn learn(out: &Path) -> Plan {
        Plan {
            learn: true,
            filter: build_filter(
                &[],
                0,
                libc::SECCOMP_RET_USER_NOTIF,
                libc::SECCOMP_RET_USER_NOTIF,
            ),
            fallback: None,
            rules: HashMap::new(),
            default: Action::Allow,
            warnings: Vec::new(),
            profile_path: Some(out.to_path_buf()),
        }
    }

    pub fn enforce(path: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("seccomp profile {}", path.display()))?;
        let profile: Profile = serde_json::from_str(&text).with_context(|| {
            format!(
                "seccomp profile {}: not an OCI seccomp profile",
                path.display()
            )
        })?;
        let mut plan = Plan::from_profile(&profile)?;
        plan.profile_path = Some(path.to_path_buf());
        Ok(plan)
    }

    pub fn from_profile(profile: &Profile) -> Result<Plan> {
        if !cfg!(target_arch = "x86_64") {
            bail!("seccomp profiles are supported on x86-64 only");
        }
        if !profile.architectures.is_empty()
            && !profile
                .architectures
                .iter()
                .any(|a| a == "SCMP_ARCH_X86_64")
        {
            bail!("the profile does not list SCMP_ARCH_X86_64");
        }
        let default = Action::parse(&profile.default_action, None, profile.default_errno_ret)?;
        let mut rules = HashMap::new();
        let mut warnings = Vec::new();
        for rule in &profile.syscalls {
            let action = Action::parse(&rule.action, rule.errno_ret, profile.default_errno_ret)?;
            if rule.args.as_ref().is_some_and(|a| !a.is_empty()) {
                warnings.push(format!(
                    "argument conditions of the {} rule for {} are not applied: the rule counts for every call",
                    rule.action,
                    rule.names.join(",")
                ));
            }
            for name in rule.names.iter().chain(rule.name.iter()) {
                match nr_of(name) {
                    Some(nr) => {
                        rules.insert(nr, action);
                    }
                    None => {
                        warnings.push(format!("unknown system call `{name}` on x86-64: ignored"))
                    }
                }
            }
        }
        let in_kernel = |a: Action| matches!(a, Action::Allow);
        let (listed, listed_ret, default_ret) = if in_kernel(default) {
            let notify: Vec<u32> = rules
                .iter()
                .filter(|(_, a)| !in_kernel(**a))
                .map(|(n, _)| *n)
                .collect();
            (
                notify,
                libc::SECCOMP_RET_USER_NOTIF,
                libc::SECCOMP_RET_ALLOW,
            )
        } else {
            let allow: Vec<u32> = rules
                .iter()
                .filter(|(_, a)| in_kernel(**a))
                .map(|(n, _)| *n)
                .collect();
            (allow, libc::SECCOMP_RET_ALLOW, libc::SECCOMP_RET_USER_NOTIF)
        };
        let mut listed = listed;
        listed.sort_unstable();
        // Without a listener: every rule decided in the kernel.
        let mut by_ret: Vec<(u32, u32)> = rules
            .iter()
            .map(|(nr, a)| (*nr, kernel_ret(*a)))
            .filter(|(_, r)| *r != kernel_ret(default))
            .collect();
        by_ret.sort_unstable();
        let mut fallback = build_filter(
            &[],
            0,
            kernel_ret(default),
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        );
        let last = fallback.pop().expect("default return");
        let jeq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
        for (nr, r) in by_ret {
            fallback.push(jump(jeq, nr, 0, 1));
            fallback.push(stmt(libc::BPF_RET | libc::BPF_K, r));
        }
        fallback.push(last);
        Ok(Plan {
            learn: false,
            filter: build_filter(
                &listed,
                listed_ret,
                default_ret,
                libc::SECCOMP_RET_USER_NOTIF,
            ),
            fallback: Some(fallback),
            rules,
            default,
            warnings,
            profile_path: None,
        })
    }

    /// `learn`, `enforce`, or `deny-list` (no `--seccomp`).
    pub fn mode_name(&self) -> &'static str {
        if self.learn {
            "learn"
        } else if self.profile_path.is_some() {
            "enforce"
        } else {
            "deny-list"
        }
    }

    fn action_for(&self, nr: u32) -> Action {
        self.rules.get(&nr).copied().unwrap_or(self.default)
    }
}

/// A denied call.
#[derive(Debug, Clone, Serialize)]
pub struct Denial {
    pub syscall: String,
    /// `deny-list` (plugctl's default) or `profile` (the user's).
    pub by: &'static str,
    pub nr: u32,
    pub action: Action,
    /// The thread that made the first such call.
    pub tid: u32,
    pub count: u64,
    /// Milliseconds after the child started.
    pub at_ms: u64,
}

/// What the listener saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeccompReport {
    pub mode: String,
    pub method: String,
    /// learn: every call seen, with counts, by name.
    pub syscalls: BTreeMap<String, u64>,
    /// enforce: denied calls in the order first seen.
    pub denied: Vec<Denial>,
    pub profile: Option<String>,
    pub warnings: Vec<String>,
    /// The listener never arrived (seccomp unavailable), or an ioctl failed.
    pub error: Option<String>,
    /// Calls of the isolation probe (before the target's `execve`) the filter refused.
    pub probe_denied: Vec<String>,
    /// How the filter was installed, as the sandbox stage reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
    pub notifications: u64,
}

impl SeccompReport {
    pub fn first_denied(&self) -> Option<&Denial> {
        self.denied.first()
    }
}

/// The learned profile: deny by default (EPERM), allow what was seen.
pub fn learned_profile(seen: &BTreeMap<String, u64>) -> Profile {
    Profile {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(libc::EPERM as u32),
        architectures: vec!["SCMP_ARCH_X86_64".into()],
        syscalls: vec![Rule {
            names: seen.keys().cloned().collect(),
            name: None,
            action: "SCMP_ACT_ALLOW".into(),
            errno_ret: None,
            args: None,
        }],
    }
}

// ---------------------------------------------------------------------------------------
// Child side (the sandbox stage)

fn prog_of(filter: &[(u16, u8, u8, u32)]) -> Vec<libc::sock_filter> {
    filter
        .iter()
        .map(|&(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k })
        .collect()
}

/// Installs the filter with a listener and sends the listener over `HANDOFF_FD`.
/// After this, every call the stage makes is filtered.
pub fn install(filter: &[(u16, u8, u8, u32)]) -> std::io::Result<()> {
    let mut prog = prog_of(filter);
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: prctl/syscall with valid arguments; `fprog` points to `prog`, alive here.
    unsafe {
        if libc::fcntl(HANDOFF_FD, libc::F_SETFD, libc::FD_CLOEXEC) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let listener = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &fprog as *const libc::sock_fprog,
        );
        if listener < 0 {
            return Err(std::io::Error::last_os_error());
        }
        send_fd(HANDOFF_FD, listener as RawFd)
    }
}

/// Installs a filter decided in the kernel alone (no listener).
pub fn install_plain(filter: &[(u16, u8, u8, u32)]) -> std::io::Result<()> {
    let mut prog = prog_of(filter);
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: as in `install`.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Tells the listener that the probe is over: the next calls are the target's.
pub fn mark_probe_done() {
    // SAFETY: reboot(2) with magic values the filter always refuses; no memory effects.
    unsafe { libc::syscall(libc::SYS_reboot, MARK_A, MARK_B, 0u64, 0u64) };
}

fn send_fd(sock: RawFd, fd: RawFd) -> std::io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE is a size computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: msghdr is plain data; the pointers refer to live buffers above.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        if libc::sendmsg(sock, &msg, 0) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn recv_fd(sock: RawFd) -> std::io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: as in send_fd.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: msghdr is plain data; the pointers refer to live buffers above; the fd
    // received is new and owned by us.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space;
        let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(None);
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Ok(None);
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(Some(OwnedFd::from_raw_fd(fd)))
    }
}

// ---------------------------------------------------------------------------------------
// Parent side (the listener)

fn poll_in(fd: RawFd, timeout_ms: i32) -> (bool, bool) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if n <= 0 {
        return (false, false);
    }
    (
        p.revents & libc::POLLIN != 0,
        p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0,
    )
}

/// Receives the listener on `sock` and answers notifications until every filtered task
/// is gone or `stop` is set (the parent sets it once the child is reaped).
pub fn listen(
    sock: OwnedFd,
    plan: Arc<Plan>,
    child_pid: u32,
    stop: Arc<AtomicBool>,
    started: Instant,
) -> SeccompReport {
    let mut report = SeccompReport {
        mode: plan.mode_name().into(),
        method: "SECCOMP_RET_USER_NOTIF listener in plugctl (no ptrace, no audit log)".into(),
        warnings: plan.warnings.clone(),
        profile: plan.profile_path.as_ref().map(|p| p.display().to_string()),
        ..SeccompReport::default()
    };
    // 1. The listener.
    let listener = loop {
        if stop.load(Ordering::Relaxed) {
            report.error = Some("the child ended before installing the seccomp filter".into());
            return report;
        }
        let (ready, hup) = poll_in(sock.as_raw_fd(), 50);
        if ready {
            match recv_fd(sock.as_raw_fd()) {
                Ok(Some(fd)) => break fd,
                Ok(None) => {
                    report.error = Some(
                        "the child closed the hand-over socket without a seccomp listener".into(),
                    );
                    return report;
                }
                Err(e) => {
                    report.error = Some(format!("receiving the seccomp listener: {e}"));
                    return report;
                }
            }
        } else if hup {
            report.error =
                Some("the child closed the hand-over socket without a seccomp listener".into());
            return report;
        }
    };
    drop(sock);
    // 2. Notifications.
    let fd = listener.as_raw_fd();
    let mut index: HashMap<u32, usize> = HashMap::new();
    let mut marked = false;
    loop {
        let (ready, hup) = poll_in(fd, 20);
        if !ready {
            if hup || stop.load(Ordering::Relaxed) {
                break;
            }
            continue;
        }
        // SAFETY: seccomp_notif is plain data; the kernel requires it zeroed.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: ioctl on the listener with a pointer to a live, correctly sized struct.
        let rc = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
        if rc != 0 {
            // ENOENT: the task died or the call was interrupted before we got it.
            continue;
        }
        report.notifications += 1;
        let nr = req.data.nr as u32;
        let name = name_of(nr);
        if !marked {
            // The probe: refused calls are noted, nothing is learned.
            if nr == NR_REBOOT && req.data.args[0] == MARK_A && req.data.args[1] == MARK_B {
                marked = true;
                answer(fd, req.id, -libc::EPERM, 0);
                continue;
            }
            // The user's profile is for the target; the probe meets the deny-list only.
            let action = if is_denied(nr, req.data.args[0]) {
                Action::Errno(libc::EPERM as u32)
            } else {
                Action::Allow
            };
            if !matches!(action, Action::Allow | Action::Log)
                && !report.probe_denied.contains(&name)
            {
                report.probe_denied.push(name);
            }
            match action {
                Action::Errno(e) => answer(fd, req.id, -(e as i32), 0),
                Action::Kill => answer(fd, req.id, -libc::EPERM, 0),
                _ => answer(fd, req.id, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
            }
            continue;
        }
        let (action, by) = if is_denied(nr, req.data.args[0]) {
            (Action::Errno(libc::EPERM as u32), "deny-list")
        } else if plan.learn {
            *report.syscalls.entry(name.clone()).or_insert(0) += 1;
            (Action::Allow, "profile")
        } else {
            (plan.action_for(nr), "profile")
        };
        let (error, flags) = match action {
            Action::Allow | Action::Log => {
                if action == Action::Log {
                    *report.syscalls.entry(name).or_insert(0) += 1;
                }
                (0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32)
            }
            Action::Errno(_) | Action::Kill => {
                match index.get(&nr) {
                    Some(&i) => report.denied[i].count += 1,
                    None => {
                        index.insert(nr, report.denied.len());
                        report.denied.push(Denial {
                            syscall: name,
                            by,
                            nr,
                            action,
                            tid: req.pid,
                            count: 1,
                            at_ms: started.elapsed().as_millis() as u64,
                        });
                    }
                }
                match action {
                    Action::Errno(e) => (-(e as i32), 0),
                    _ => {
                        // SAFETY: kill(2) of our own child.
                        unsafe { libc::kill(child_pid as libc::pid_t, libc::SIGKILL) };
                        (-libc::EPERM, 0)
                    }
                }
            }
        };
        answer(fd, req.id, error, flags);
    }
    report
}

fn answer(fd: RawFd, id: u64, error: i32, flags: u32) {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error,
        flags,
    };
    // SAFETY: ioctl on the listener with a live, correctly sized struct; ENOENT (task
    // gone) is ignored.
    unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
}

/// Gives the listener thread time to drain, then stops it.
pub fn settle() {
    std::thread::sleep(Duration::from_millis(10));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_names_round_trip() {
        if cfg!(target_arch = "x86_64") {
            assert_eq!(nr_of("openat"), Some(257));
            assert_eq!(name_of(0), "read");
            assert_eq!(name_of(100_000), "syscall_100000");
        }
    }

    #[test]
    fn profiles_compile_to_filters() {
        let learned = learned_profile(&BTreeMap::from([
            ("read".to_string(), 3),
            ("write".to_string(), 1),
        ]));
        let text = serde_json::to_string(&learned).unwrap();
        assert!(
            text.contains("\"defaultAction\":\"SCMP_ACT_ERRNO\""),
            "{text}"
        );
        let plan = Plan::from_profile(&learned).unwrap();
        assert_eq!(plan.action_for(0), Action::Allow);
        assert_eq!(plan.action_for(257), Action::Errno(1));
        // header (11) + clone checks (7) + deny-list + 2 per allowed call + default.
        assert_eq!(plan.filter.len(), 11 + 7 + 2 * deny_list().len() + 4 + 1);
        let docker: Profile = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
        )
        .unwrap();
        let plan = Plan::from_profile(&docker).unwrap();
        assert_eq!(plan.action_for(41), Action::Errno(13));
        assert_eq!(plan.action_for(0), Action::Allow);
    }
}
