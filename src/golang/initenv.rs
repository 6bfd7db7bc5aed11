//! Environment variables a plugin's main package reads while it initialises, that is
//! during `plugin.Open`, before the host can set them.
//!
//! x86-64, arm64 and 386, without a disassembler: the machine code of `<pluginpath>.init` (package
//! variable initialisers), `<pluginpath>.init.N` (`func init`) and their closures is
//! scanned for `CALL rel32` (`E8`) whose target is exactly `os.Getenv`, `os.LookupEnv`,
//! `syscall.Getenv`, `os.Environ`, `syscall.Environ` or `os.ExpandEnv`. Calls into other functions of the
//! main package are followed (bounded). A variable name is recovered only when the call is
//! preceded by the register-ABI string setup the Go compiler emits for a constant:
//! `LEAQ name(%rip), %rax` (`48 8D 05 rel32`) and `MOVL $len, %ebx` (`BB imm32`), in
//! either order, immediately before the call (NOP padding allowed); otherwise the read is counted as unnamed.
//! On arm64 the calls are `BL imm26` and the name is `ADRP x0` + `ADD x0, x0, #lo12` with
//! the length in x1 (`MOVZ x1` or `ORR x1, xzr, #bitmask`) among the three instructions
//! before the call. On 386 (ABI0: arguments on the stack; plugins are position
//! independent) the calls are `CALL rel32` too and the name is set up as
//! `CALL __x86.get_pc_thunk.R` + `LEAL disp32(R), R` (`8D` mod=10), then `MOVL R, 0(SP)`
//! (`89 /r 24`) and `MOVL $len, 4(SP)` (`C7 44 24 04 imm32`) in either order, optionally
//! followed by the GOT setup `CALL __x86.get_pc_thunk.bx` + `LEAL disp32(BX), BX` right
//! before the call (as `go tool objdump` shows for go1.26/1.27 plugins). Other
//! architectures are not scanned.
//! Only the main package is scanned: other packages' `init` also runs at `plugin.Open`
//! unless the host already initialised them, which cannot be known from the plugin alone.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Serialize;

use super::image::Image;

const X86_64: u16 = 62;
const AARCH64: u16 = 183;
const I386: u16 = 3;
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
    let machine = image.art.identity.machine_id;
    if machine != X86_64 && machine != AARCH64 && machine != I386 {
        return not("init code is only scanned on x86-64, arm64 and i386");
    }
    let prefix = format!("{plugin_path}.");
    // Readers by address, and the main package's functions.
    let mut readers: HashMap<u64, bool> = HashMap::new();
    let mut funcs: Vec<Func> = Vec::new();
    for s in &image.art.symbols {
        if !s.defined || s.kind != crate::elf::SymbolKind::Func {
            continue;
        }
        let name = s.name.as_str();
        if let Some((_, named)) = READERS.iter().find(|r| r.0 == name) {
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
        let calls = if machine == AARCH64 {
            arm64_calls(f.addr, code)
        } else {
            x86_64_calls(f.addr, code)
        };
        for (at, target) in calls {
            if let Some(&named) = readers.get(&target) {
                let key = if machine == AARCH64 {
                    arm64_key_before(image, f.addr, code, at)
                } else if machine == I386 {
                    i386_key_before(image, f.addr, code, at)
                } else {
                    key_before(image, f.addr, code, at)
                };
                match named.then_some(key).flatten() {
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

/// `CALL rel32` instructions: (offset in `code`, target address).
fn x86_64_calls(func_addr: u64, code: &[u8]) -> Vec<(usize, u64)> {
    (0..code.len().saturating_sub(4))
        .filter(|&at| code[at] == 0xe8)
        .map(|at| {
            let rel = i32::from_le_bytes([code[at + 1], code[at + 2], code[at + 3], code[at + 4]]);
            let next = func_addr.wrapping_add(at as u64 + 5);
            (at, next.wrapping_add(rel as i64 as u64))
        })
        .collect()
}

fn arm64_word(code: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(code.get(at..at + 4)?.try_into().ok()?))
}

/// `BL imm26` instructions: (offset in `code`, target address).
fn arm64_calls(func_addr: u64, code: &[u8]) -> Vec<(usize, u64)> {
    (0..code.len() / 4)
        .map(|i| i * 4)
        .filter_map(|at| {
            let w = arm64_word(code, at)?;
            if w & 0xfc00_0000 != 0x9400_0000 {
                return None;
            }
            let offset = (((w & 0x03ff_ffff) << 6) as i32 >> 6) as i64 * 4;
            Some((
                at,
                func_addr
                    .wrapping_add(at as u64)
                    .wrapping_add(offset as u64),
            ))
        })
        .collect()
}

/// `DecodeBitMasks` of the A64 logical-immediate encoding (64-bit registers).
fn arm64_bitmask(n: u32, immr: u32, imms: u32) -> Option<u64> {
    let combined = (n << 6) | (!imms & 0x3f);
    if combined == 0 {
        return None;
    }
    let len = 31 - combined.leading_zeros();
    let size = 1u32 << len;
    let levels = size - 1;
    let (s, r) = (imms & levels, immr & levels);
    if s == levels {
        return None;
    }
    let welem = (1u64 << (s + 1)) - 1;
    let mask = if size == 64 {
        u64::MAX
    } else {
        (1u64 << size) - 1
    };
    let rotated = ((welem >> r) | (welem << ((size - r) % size))) & mask;
    let mut value = rotated;
    let mut width = size;
    while width < 64 {
        value |= value << width;
        width *= 2;
    }
    Some(value)
}

/// The constant string passed in x0/x1 to the `BL` at `call`: `ADRP x0` + `ADD x0` and a
/// constant into x1 among the three instructions before it.
fn arm64_key_before(image: &Image, func_addr: u64, code: &[u8], call: usize) -> Option<String> {
    let start = call.checked_sub(12)?;
    let words: Vec<(u64, u32)> = (0..3)
        .map(|k| {
            let at = start + 4 * k;
            Some((func_addr.wrapping_add(at as u64), arm64_word(code, at)?))
        })
        .collect::<Option<_>>()?;
    let mut page = None;
    let mut addr = None;
    let mut len = None;
    for &(pc, w) in &words {
        let rd = w & 31;
        if w & 0x9f00_0000 == 0x9000_0000 && rd == 0 {
            // ADRP x0, page
            let imm = (((w >> 5) & 0x7ffff) << 2) | ((w >> 29) & 3);
            let imm = ((imm << 11) as i32 >> 11) as i64;
            page = Some((pc & !0xfff).wrapping_add((imm << 12) as u64));
        } else if w & 0xff80_0000 == 0x9100_0000 && rd == 0 && (w >> 5) & 31 == 0 {
            // ADD x0, x0, #imm12{, LSL #12}
            let imm = u64::from((w >> 10) & 0xfff) << if w & (1 << 22) != 0 { 12 } else { 0 };
            addr = page.map(|p: u64| p.wrapping_add(imm));
        } else if w & 0xff80_0000 == 0xd280_0000 && rd == 1 {
            // MOVZ x1, #imm16{, LSL #hw*16}
            len = Some(u64::from((w >> 5) & 0xffff) << (16 * ((w >> 21) & 3)));
        } else if w & 0xff80_0000 == 0xb200_0000 && rd == 1 && (w >> 5) & 31 == 31 {
            // ORR x1, xzr, #bitmask (MOV x1, #imm)
            len = arm64_bitmask((w >> 22) & 1, (w >> 16) & 0x3f, (w >> 10) & 0x3f);
        }
    }
    let (addr, len) = (addr?, len?);
    if len == 0 || len > u64::from(MAX_NAME) {
        return None;
    }
    constant_name(image, addr, len)
}

/// The `len` bytes at `addr`, when they look like a variable name.
fn constant_name(image: &Image, addr: u64, len: u64) -> Option<String> {
    let bytes = image.bytes(addr, len)?;
    let ok = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    ok.then(|| String::from_utf8_lossy(bytes).into_owned())
}

/// `CALL rel32` at `at` whose target is a `__x86.get_pc_thunk.R` (`MOVL (SP), R; RET`):
/// the register R it loads with the address after the call.
fn i386_thunk_call(image: &Image, func_addr: u64, code: &[u8], at: usize) -> Option<u8> {
    let call = code.get(at..at + 5)?;
    if call[0] != 0xe8 {
        return None;
    }
    let rel = i32::from_le_bytes([call[1], call[2], call[3], call[4]]);
    let target = func_addr
        .wrapping_add(at as u64 + 5)
        .wrapping_add(rel as i64 as u64);
    let thunk = image.bytes(target, 4)?;
    // 8B /r with mod=00 rm=100 (SIB) base=ESP: MOVL (SP), R.
    (thunk[0] == 0x8b && thunk[1] & 0xc7 == 0x04 && thunk[2] == 0x24 && thunk[3] == 0xc3)
        .then_some((thunk[1] >> 3) & 7)
}

/// `CALL thunk.R; LEAL disp32(R), R` ending at `end`: (R, the address it computes).
fn i386_pc_lea(image: &Image, func_addr: u64, code: &[u8], end: usize) -> Option<(u8, u64)> {
    let lea = end.checked_sub(6)?;
    let l = code.get(lea..end)?;
    // 8D /r, mod=10 (disp32), reg == rm, rm != ESP (that would need a SIB byte).
    let (reg, rm) = ((l[1] >> 3) & 7, l[1] & 7);
    if l[0] != 0x8d || l[1] >> 6 != 2 || reg != rm || rm == 4 {
        return None;
    }
    if i386_thunk_call(image, func_addr, code, lea.checked_sub(5)?)? != reg {
        return None;
    }
    let disp = i32::from_le_bytes([l[2], l[3], l[4], l[5]]);
    Some((
        reg,
        func_addr
            .wrapping_add(lea as u64)
            .wrapping_add(disp as i64 as u64),
    ))
}

/// The constant string passed on the stack (0(SP) pointer, 4(SP) length) to the call at
/// `call` on 386, if the instructions right before it store it there.
fn i386_key_before(image: &Image, func_addr: u64, code: &[u8], call: usize) -> Option<String> {
    // The GOT setup for the call (`CALL thunk.bx; LEAL disp32(BX), BX`) may come between.
    let end = match i386_pc_lea(image, func_addr, code, call) {
        Some((3, _)) => call - 11,
        _ => call,
    };
    // MOVL R, 0(SP) = 89 /r 24 with mod=00 rm=100 (3 bytes);
    // MOVL $imm32, 4(SP) = C7 44 24 04 imm32 (8 bytes).
    let store_ptr = |at: usize| -> Option<u8> {
        let b = code.get(at..at + 3)?;
        (b[0] == 0x89 && b[1] & 0xc7 == 0x04 && b[2] == 0x24).then_some((b[1] >> 3) & 7)
    };
    let store_len = |at: usize| -> Option<u32> {
        let b = code.get(at..at + 8)?;
        (b[..4] == [0xc7, 0x44, 0x24, 0x04]).then(|| u32::from_le_bytes([b[4], b[5], b[6], b[7]]))
    };
    let (reg, len, lea_end) = if let (Some(len), Some(reg)) = (
        end.checked_sub(8).and_then(store_len),
        end.checked_sub(11).and_then(store_ptr),
    ) {
        (reg, len, end - 11)
    } else if let (Some(reg), Some(len)) = (
        end.checked_sub(3).and_then(store_ptr),
        end.checked_sub(11).and_then(store_len),
    ) {
        (reg, len, end - 11)
    } else {
        return None;
    };
    let (r, addr) = i386_pc_lea(image, func_addr, code, lea_end)?;
    if r != reg || len == 0 || len > MAX_NAME {
        return None;
    }
    constant_name(image, addr, u64::from(len))
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
    constant_name(image, addr, u64::from(len))
}

#[cfg(test)]
mod arm64_tests {
    use super::*;

    #[test]
    fn logical_immediates_decode_like_the_arm_arm() {
        // ORR x1, xzr, #0x10 = b27c03e1 (N=1, immr=60, imms=0).
        assert_eq!(arm64_bitmask(1, 60, 0), Some(0x10));
        // #0xff = N=1, immr=0, imms=7.
        assert_eq!(arm64_bitmask(1, 0, 7), Some(0xff));
        // 0x5555... = N=0, size 2, imms=0b111100, immr=0.
        assert_eq!(arm64_bitmask(0, 0, 0b11_1100), Some(0x5555_5555_5555_5555));
        assert_eq!(arm64_bitmask(1, 0, 63), None);
    }

    #[test]
    fn bl_targets_are_pc_relative_words() {
        // bl -0x66c4 words from 0x1e5c04: 97ff664b -> 0x1bf530.
        let code = 0x97ff_664bu32.to_le_bytes();
        assert_eq!(arm64_calls(0x1e5c04, &code), [(0, 0x1bf530)]);
    }
}
