//! Environment variables a plugin's main package reads while it initialises, that is
//! during `plugin.Open`, before the host can set them.
//!
//! x86-64 only, without a disassembler: the machine code of `<pluginpath>.init` (package
//! variable initialisers), `<pluginpath>.init.N` (`func init`) and their closures is
//! scanned for `CALL rel32` (`E8`) whose target is exactly `os.Getenv`, `os.LookupEnv`,
//! `syscall.Getenv`, `os.Environ`, `syscall.Environ` or `os.ExpandEnv`. Calls into other functions of the
//! main package are followed (bounded). A variable name is recovered only when the call is
//! preceded by the register-ABI string setup the Go compiler emits for a constant:
//! `LEAQ name(%rip), %rax` (`48 8D 05 rel32`) and `MOVL $len, %ebx` (`BB imm32`), in
//! either order, immediately before the call (NOP padding allowed); otherwise the read is counted as unnamed.
//! Only the main package is scanned: other packages' `init` also runs at `plugin.Open`
//! unless the host already initialised them, which cannot be known from the plugin alone.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Serialize;

use super::image::Image;

const X86_64: u16 = 62;
/// Bounds on the scan: functions followed, bytes per function.
const MAX_FUNCS: usize = 256;
const MAX_FUNC_SIZE: u64 = 1 << 20;
/// Bytes of code scanned in all (real init code is a few KiB).
const MAX_CODE: u64 = 16 << 20;
const MAX_NAME: u32 = 256;

/// The result of looking for environment reads in the plugin's init.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum InitEnvScan {
    /// The init code was scanned.
    Scanned {
        /// Functions of the main package scanned (init and what it calls).
        functions: usize,
        /// Calls to an environment reader whose variable name could not be recovered
        /// (computed names, `os.Environ`, `os.ExpandEnv`).
        unnamed_reads: usize,
    },
    /// Nothing could be seen; `init_env_reads` is empty because of this, not because the
    /// plugin reads nothing.
    NotScanned { reason: String },
}

/// The x86 NOP encodings assemblers pad with.
const NOPS: &[&[u8]] = &[
    &[0x90],
    &[0x66, 0x90],
    &[0x0f, 0x1f, 0x00],
    &[0x0f, 0x1f, 0x40, 0x00],
    &[0x0f, 0x1f, 0x44, 0x00, 0x00],
    &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
    &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
    &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

/// Env reader entry points and whether their first argument is the variable name.
const READERS: &[(&str, bool)] = &[
    ("os.Getenv", true),
    ("os.LookupEnv", true),
    ("syscall.Getenv", true),
    ("os.Environ", false),
    ("syscall.Environ", false),
    ("os.ExpandEnv", false),
];

struct Func<'n> {
    name: &'n str,
    addr: u64,
    size: u64,
}

/// Scans the init code of the plugin whose symbols start with `plugin_path.`.
pub(crate) fn scan(image: &Image, plugin_path: &str) -> (Vec<String>, InitEnvScan) {
    let not = |reason: &str| {
        (
            Vec::new(),
            InitEnvScan::NotScanned {
                reason: reason.into(),
            },
        )
    };
    if image.art.identity.machine_id != X86_64 {
        return not("init code is only scanned on x86-64");
    }
    let prefix = format!("{plugin_path}.");
    // Readers by address, and the main package's functions.
    let mut readers: HashMap<u64, bool> = HashMap::new();
    let mut funcs: Vec<Func> = Vec::new();
    for s in &image.art.symbols {
        if !s.defined || s.kind != crate::elf::SymbolKind::Func {
            continue;
        }
        if let Some((_, named)) = READERS.iter().find(|r| r.0 == s.name) {
            readers.insert(s.value, *named);
        } else if s.name.starts_with(&prefix) {
            funcs.push(Func {
                name: &s.name,
                addr: s.value,
                size: s.size,
            });
        }
    }
    // Stripped of .dynsym entries? Look in .symtab as well.
    let mut symtab_funcs: Vec<(String, u64, u64)> = Vec::new();
    if funcs.is_empty() {
        image.symtab_funcs_with_prefix(&prefix, |n, a, sz| symtab_funcs.push((n.into(), a, sz)));
        funcs.extend(symtab_funcs.iter().map(|(n, a, sz)| Func {
            name: n,
            addr: *a,
            size: *sz,
        }));
    }
    if readers.is_empty() {
        let names: Vec<&str> = READERS.iter().map(|r| r.0).collect();
        for (i, found) in image.symtab_lookup(&names).into_iter().enumerate() {
            if let Some((addr, _)) = found {
                readers.insert(addr, READERS[i].1);
            }
        }
    }
    let init_name = format!("{plugin_path}.init");
    let roots: Vec<usize> = funcs
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.name == init_name
                || f.name
                    .strip_prefix(&init_name)
                    .is_some_and(|r| r.starts_with('.'))
        })
        .map(|(i, _)| i)
        .collect();
    if roots.is_empty() {
        return (
            Vec::new(),
            InitEnvScan::Scanned {
                functions: 0,
                unnamed_reads: 0,
            },
        );
    }
    if readers.is_empty() {
        // No environment reader is linked in: nothing can read the environment this way.
        return (
            Vec::new(),
            InitEnvScan::Scanned {
                functions: roots.len(),
                unnamed_reads: 0,
            },
        );
    }
    let by_addr: HashMap<u64, usize> = funcs.iter().enumerate().map(|(i, f)| (f.addr, i)).collect();
    let mut queue: VecDeque<usize> = roots.into_iter().collect();
    let mut seen: HashSet<usize> = queue.iter().copied().collect();
    let mut names: Vec<String> = Vec::new();
    let mut unnamed = 0usize;
    let mut scanned = 0usize;
    let mut code_left = MAX_CODE;
    while let Some(i) = queue.pop_front() {
        if scanned >= MAX_FUNCS || code_left == 0 {
            break;
        }
        scanned += 1;
        let f = &funcs[i];
        let Some(code) = image.bytes(f.addr, f.size.min(MAX_FUNC_SIZE).min(code_left)) else {
            continue;
        };
        code_left -= code.len() as u64;
        for at in 0..code.len().saturating_sub(4) {
            if code[at] != 0xe8 {
                continue;
            }
            let rel = i32::from_le_bytes([code[at + 1], code[at + 2], code[at + 3], code[at + 4]]);
            let next = f.addr.wrapping_add(at as u64 + 5);
            let target = next.wrapping_add(rel as i64 as u64);
            if let Some(&named) = readers.get(&target) {
                match named.then(|| key_before(image, f.addr, code, at)).flatten() {
                    Some(name) => {
                        if !names.contains(&name) {
                            names.push(name);
                        }
                    }
                    None => unnamed += 1,
                }
            } else if let Some(&j) = by_addr.get(&target)
                && seen.insert(j)
            {
                queue.push_back(j);
            }
        }
    }
    (
        names,
        InitEnvScan::Scanned {
            functions: scanned,
            unnamed_reads: unnamed,
        },
    )
}

/// The constant string passed in RAX/RBX to the call at `call`, if the two instructions
/// right before it set them up.
fn key_before(image: &Image, func_addr: u64, code: &[u8], call: usize) -> Option<String> {
    // MOVL $imm32, %ebx = BB imm32 (5 bytes); LEAQ rel32(%rip), %rax = 48 8D 05 rel32 (7).
    let mov_len = |end: usize| -> Option<u32> {
        let s = end.checked_sub(5)?;
        (code[s] == 0xbb)
            .then(|| u32::from_le_bytes([code[s + 1], code[s + 2], code[s + 3], code[s + 4]]))
    };
    let lea_target = |end: usize| -> Option<u64> {
        let s = end.checked_sub(7)?;
        if code[s..s + 3] != [0x48, 0x8d, 0x05] {
            return None;
        }
        let rel = i32::from_le_bytes([code[s + 3], code[s + 4], code[s + 5], code[s + 6]]);
        Some(
            func_addr
                .wrapping_add(end as u64)
                .wrapping_add(rel as i64 as u64),
        )
    };
    // The assembler may pad before a call with multi-byte NOPs.
    let mut ends = vec![call];
    let mut frontier = vec![call];
    for _ in 0..2 {
        let mut next = Vec::new();
        for &e in &frontier {
            for nop in NOPS {
                if let Some(s) = e.checked_sub(nop.len())
                    && &code[s..e] == *nop
                    && !ends.contains(&s)
                {
                    ends.push(s);
                    next.push(s);
                }
            }
        }
        frontier = next;
    }
    let found = ends.iter().find_map(|&end| {
        if let (Some(len), Some(addr)) = (mov_len(end), end.checked_sub(5).and_then(lea_target)) {
            Some((addr, len))
        } else if let (Some(addr), Some(len)) =
            (lea_target(end), end.checked_sub(7).and_then(mov_len))
        {
            Some((addr, len))
        } else {
            None
        }
    });
    let (addr, len) = found?;
    if len == 0 || len > MAX_NAME {
        return None;
    }
    let bytes = image.bytes(addr, u64::from(len))?;
    let ok = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    ok.then(|| String::from_utf8_lossy(bytes).into_owned())
}
