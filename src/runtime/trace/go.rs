//! Where to put the Go uprobes: file offsets of `runtime.gopanic`, `runtime.fatalpanic`,
//! `runtime.throw` and `runtime.fatal` in a Go executable (read with `object` from its
//! symbol table), and the offset of `goid` in `runtime.g` for its Go version.

use std::path::Path;

use anyhow::{Context, Result};
use object::{Object, ObjectSegment, ObjectSymbol};

/// (BPF program, Go function) pairs: the functions the uprobes go on.
pub const PROBES: &[(&str, &str)] = &[
    ("go_panic", "runtime.gopanic"),
    ("go_fatalpanic", "runtime.fatalpanic"),
    ("go_throw", "runtime.throw"),
    ("go_throw", "runtime.fatal"),
];

/// What a Go executable offers the uprobes.
#[derive(Debug, Clone, Default)]
pub struct GoTarget {
    /// (BPF program, function, file offset).
    pub probes: Vec<(&'static str, &'static str, u64)>,
    /// `offsetof(runtime.g, goid)`, when known for this version.
    pub goid_offset: Option<u64>,
    pub version: Option<String>,
}

/// `None` for a file that is not a Go executable with a symbol table.
pub fn target(path: &Path) -> Result<Option<GoTarget>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: a read-only mapping of a file plugctl does not modify; a file changed
    // underneath yields wrong offsets, not memory unsafety in safe code reading bytes.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .with_context(|| format!("mapping {}", path.display()))?;
    let Ok(elf) = object::File::parse(&*map) else {
        return Ok(None);
    };
    let mut probes = Vec::new();
    for sym in elf.symbols() {
        let Ok(name) = sym.name() else { continue };
        for (prog, func) in PROBES {
            if name == *func
                && let Some(off) = file_offset(&elf, sym.address())
            {
                probes.push((*prog, *func, off));
            }
        }
    }
    if probes.is_empty() {
        return Ok(None);
    }
    let version = crate::elf::Artifact::read(path)
        .ok()
        .and_then(|a| crate::golang::read(&a))
        .map(|g| g.version);
    Ok(Some(GoTarget {
        probes,
        goid_offset: version.as_deref().and_then(goid_offset),
        version,
    }))
}

/// The file offset of a virtual address, through the segment that maps it.
fn file_offset(elf: &object::File<'_>, addr: u64) -> Option<u64> {
    elf.segments().find_map(|s| {
        let (off, size) = s.file_range();
        (addr >= s.address() && addr < s.address() + size).then(|| addr - s.address() + off)
    })
}

/// `offsetof(runtime.g, goid)` on amd64, for the versions whose `runtime2.go` was read:
/// 152 in go1.21 and go1.22 (gobuf of 7 words, no syscallbp) and in go1.26 and go1.27
/// (gobuf of 6 words, plus syscallbp). Other versions: unknown (no goroutine id).
pub fn goid_offset(version: &str) -> Option<u64> {
    let v = crate::golang::parse_go_version(version)?;
    match (v.major, v.minor) {
        (1, 21 | 22 | 26 | 27) => Some(152),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goid_offset_only_for_versions_read() {
        assert_eq!(goid_offset("go1.26.6"), Some(152));
        assert_eq!(goid_offset("go1.21.13"), Some(152));
        assert_eq!(goid_offset("go1.24.1"), None);
        assert_eq!(goid_offset("devel"), None);
    }

    #[test]
    fn a_rust_binary_has_no_go_probes() {
        let exe = std::env::current_exe().unwrap();
        assert!(target(&exe).unwrap().is_none());
    }
}
