//! A bounds-checked view of a Go binary's memory image as the linker left it: virtual
//! addresses read through the `PT_LOAD` segments, pointer-sized words with their dynamic
//! relocations applied (load base 0), Go strings and slices, and the static `.symtab`.
//!
//! Every read returns `None` instead of running past the file, and every count is capped
//! by the size of the data it describes, so hostile input cannot cause a panic, a large
//! allocation or a long loop.

use crate::elf::cstr::c_str;
use crate::elf::endian;
use crate::elf::words::{RelocValue, RelocatedWords};
use crate::elf::{Artifact, Class, Endianness};

const PT_LOAD: u32 = 1;
const PF_W: u32 = 2;
const SHT_SYMTAB: u32 = 2;
/// A `.symtab` claiming more entries than this is left unread.
const MAX_ENTRIES: u64 = crate::elf::MAX_ENTRIES as u64;

/// One `PT_LOAD` segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    pub vaddr: u64,
    pub offset: u64,
    pub file_size: u64,
    pub writable: bool,
}

pub(crate) struct Image<'a> {
    pub art: &'a Artifact,
    pub data: &'a [u8],
    /// Pointer size in bytes: 4 or 8.
    pub ptr: u64,
    pub big_endian: bool,
    pub loads: Vec<Load>,
    /// What the loader writes into the relocated words (the artifact's, built once).
    relocated: &'a RelocatedWords,
}

impl<'a> Image<'a> {
    pub fn new(art: &'a Artifact) -> Image<'a> {
        let data = art.bytes();
        let ptr = if art.identity.class == Class::Elf64 {
            8
        } else {
            4
        };
        let big_endian = art.identity.endianness == Endianness::Big;
        let mut image = Image {
            art,
            data,
            ptr,
            big_endian,
            loads: Vec::new(),
            relocated: art.relocated_words(),
        };
        image.loads = image.parse_loads();
        image
    }

    /// An unsigned integer from `bytes` in the file's byte order.
    pub fn uint_of(&self, bytes: &[u8]) -> u64 {
        self.uint(bytes)
    }

    /// Addresses of the words that a relocation sets to `value`.
    pub fn relocated_to(&self, value: u64) -> impl Iterator<Item = u64> + 'a {
        self.relocated.relocated_to(value)
    }

    fn uint(&self, bytes: &[u8]) -> u64 {
        endian::uint(bytes, self.big_endian)
    }

    /// An unsigned integer of `size` bytes at file offset `off`.
    fn file_uint(&self, off: u64, size: u64) -> Option<u64> {
        let start = usize::try_from(off).ok()?;
        let end = start.checked_add(usize::try_from(size).ok()?)?;
        Some(self.uint(self.data.get(start..end)?))
    }

    fn parse_loads(&self) -> Vec<Load> {
        let d = self.data;
        let is64 = self.ptr == 8;
        let (phoff, phentsize, phnum) = if is64 {
            (
                self.file_uint(0x20, 8),
                self.file_uint(0x36, 2),
                self.file_uint(0x38, 2),
            )
        } else {
            (
                self.file_uint(0x1c, 4),
                self.file_uint(0x2a, 2),
                self.file_uint(0x2c, 2),
            )
        };
        let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
            return Vec::new();
        };
        let min_entsize = if is64 { 56 } else { 32 };
        if phentsize < min_entsize {
            return Vec::new();
        }
        let mut out = Vec::new();
        for i in 0..phnum.min(4096) {
            let Some(base) = phoff.checked_add(i * phentsize) else {
                break;
            };
            if base.saturating_add(phentsize) > d.len() as u64 {
                break;
            }
            let p_type = self.file_uint(base, 4).unwrap_or(0) as u32;
            if p_type != PT_LOAD {
                continue;
            }
            let load = if is64 {
                Load {
                    writable: self.file_uint(base + 4, 4).unwrap_or(0) as u32 & PF_W != 0,
                    offset: self.file_uint(base + 8, 8).unwrap_or(0),
                    vaddr: self.file_uint(base + 16, 8).unwrap_or(0),
                    file_size: self.file_uint(base + 32, 8).unwrap_or(0),
                }
            } else {
                Load {
                    offset: self.file_uint(base + 4, 4).unwrap_or(0),
                    vaddr: self.file_uint(base + 8, 4).unwrap_or(0),
                    file_size: self.file_uint(base + 16, 4).unwrap_or(0),
                    writable: self.file_uint(base + 24, 4).unwrap_or(0) as u32 & PF_W != 0,
                }
            };
            out.push(load);
        }
        out
    }

    /// File offset of a virtual address, and the number of file bytes left in its segment.
    pub fn locate(&self, addr: u64) -> Option<(u64, u64)> {
        self.loads.iter().find_map(|l| {
            let delta = addr.checked_sub(l.vaddr)?;
            (delta < l.file_size).then(|| (l.offset.saturating_add(delta), l.file_size - delta))
        })
    }

    /// Exactly `len` bytes at `addr`, all inside one segment's file data.
    pub fn bytes(&self, addr: u64, len: u64) -> Option<&'a [u8]> {
        let (off, left) = self.locate(addr)?;
        if len > left {
            return None;
        }
        let start = usize::try_from(off).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.data.get(start..end)
    }

    /// Up to `max` bytes at `addr`, fewer if the segment ends first.
    pub fn bytes_upto(&self, addr: u64, max: u64) -> Option<&'a [u8]> {
        let (_, left) = self.locate(addr)?;
        self.bytes(addr, left.min(max))
    }

    /// The pointer-sized word in the file at `addr`, without relocations.
    fn file_word(&self, addr: u64) -> Option<u64> {
        Some(self.uint(self.bytes(addr, self.ptr)?))
    }

    /// The relocation applied at `addr`, if any.
    pub fn reloc_at(&self, addr: u64) -> Option<RelocValue> {
        self.relocated.at(addr)
    }

    /// The pointer-sized word at `addr` as the loader leaves it (load base 0).
    pub fn word(&self, addr: u64) -> Option<u64> {
        match self.reloc_at(addr) {
            Some(RelocValue::Value(v)) => {
                // Still require the address itself to be inside the file image.
                self.bytes(addr, self.ptr)?;
                Some(v)
            }
            Some(RelocValue::External) => None,
            None => self.file_word(addr),
        }
    }

    pub fn u32_at(&self, addr: u64) -> Option<u32> {
        Some(self.uint(self.bytes(addr, 4)?) as u32)
    }

    /// A Go string header (`ptr`, `len`) at `addr`; `len` is capped at `max`.
    pub fn go_string(&self, addr: u64, max: u64) -> Option<&'a [u8]> {
        let data = self.word(addr)?;
        let len = self.word(addr.checked_add(self.ptr)?)?;
        if len == 0 {
            return Some(&[]);
        }
        if len > max {
            return None;
        }
        self.bytes(data, len)
    }

    /// A Go slice header (`ptr`, `len`, `cap`) at `addr`.
    pub fn go_slice(&self, addr: u64) -> Option<(u64, u64, u64)> {
        let p = self.ptr;
        Some((
            self.word(addr)?,
            self.word(addr.checked_add(p)?)?,
            self.word(addr.checked_add(2 * p)?)?,
        ))
    }

    /// File data of a named section (not for `SHT_NOBITS`).
    pub fn section(&self, name: &str) -> Option<(u64, &'a [u8])> {
        let s = self.art.sections.iter().find(|s| s.name == name)?;
        if s.kind == 8 {
            return None;
        }
        let start = usize::try_from(s.offset).ok()?;
        let end = start.checked_add(usize::try_from(s.size).ok()?)?;
        Some((s.address, self.data.get(start..end)?))
    }

    /// Looks up `names` in the static symbol table (`.symtab`), in one pass. Returns
    /// (value, size) per name, `None` when absent (or when there is no `.symtab`).
    pub fn symtab_lookup(&self, names: &[&str]) -> Vec<Option<(u64, u64)>> {
        let mut out = vec![None; names.len()];
        let Some(symtab) = self.art.sections.iter().find(|s| s.kind == SHT_SYMTAB) else {
            return out;
        };
        let Some((_, strtab)) = self.section(".strtab") else {
            return out;
        };
        let entsize: u64 = if self.ptr == 8 { 24 } else { 16 };
        let count = symtab.size / entsize;
        if count > MAX_ENTRIES
            || symtab.offset.saturating_add(count * entsize) > self.data.len() as u64
        {
            return out;
        }
        let mut remaining = names.len();
        for i in 0..count {
            let at = symtab.offset + i * entsize;
            let Some(name_off) = self.file_uint(at, 4) else {
                break;
            };
            let Some(rest) = usize::try_from(name_off).ok().and_then(|o| strtab.get(o..)) else {
                continue;
            };
            // Compare in place: no scan for the terminator of every name.
            let Some(k) = names.iter().position(|n| {
                rest.len() > n.len() && rest[n.len()] == 0 && rest.starts_with(n.as_bytes())
            }) else {
                continue;
            };
            if out[k].is_some() {
                continue;
            }
            if let Some((v, s)) = self.symbol_value_size(at) {
                out[k] = Some((v, s));
                remaining -= 1;
                if remaining == 0 {
                    break;
                }
            }
        }
        out
    }

    /// Calls `f(name, value, size)` for every function symbol of `.symtab` whose name
    /// starts with `prefix`.
    pub fn symtab_funcs_with_prefix(&self, prefix: &str, mut f: impl FnMut(&str, u64, u64)) {
        let Some(symtab) = self.art.sections.iter().find(|s| s.kind == SHT_SYMTAB) else {
            return;
        };
        let Some((_, strtab)) = self.section(".strtab") else {
            return;
        };
        let entsize: u64 = if self.ptr == 8 { 24 } else { 16 };
        let count = symtab.size / entsize;
        if count > MAX_ENTRIES
            || symtab.offset.saturating_add(count * entsize) > self.data.len() as u64
        {
            return;
        }
        for i in 0..count {
            let at = symtab.offset + i * entsize;
            let info_at = if self.ptr == 8 { at + 4 } else { at + 12 };
            let Some(info) = self.file_uint(info_at, 1) else {
                break;
            };
            if info & 0xf != 2 {
                continue; // not STT_FUNC
            }
            let Some(name) = self.file_uint(at, 4).and_then(|o| c_str(strtab, o)) else {
                continue;
            };
            if !name.starts_with(prefix.as_bytes()) {
                continue;
            }
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            if let Some((v, s)) = self.symbol_value_size(at) {
                f(name, v, s);
            }
        }
    }

    /// `st_value` and `st_size` of the `.symtab` entry at file offset `at` (Elf64_Sym
    /// keeps them at 8 and 16, Elf32_Sym at 4 and 8).
    fn symbol_value_size(&self, at: u64) -> Option<(u64, u64)> {
        if self.ptr == 8 {
            Some((self.file_uint(at + 8, 8)?, self.file_uint(at + 16, 8)?))
        } else {
            Some((self.file_uint(at + 4, 4)?, self.file_uint(at + 8, 4)?))
        }
    }
}

/// Decodes an unsigned LEB128 varint (Go's `binary.Uvarint`): (value, bytes used).
pub(crate) fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x: u64 = 0;
    let mut s: u32 = 0;
    for (i, &byte) in b.iter().enumerate().take(10) {
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return None; // overflow
            }
            return Some((x | (u64::from(byte) << s), i + 1));
        }
        x |= u64::from(byte & 0x7f) << s;
        s += 7;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::uvarint;

    #[test]
    fn uvarint_decodes_and_rejects() {
        assert_eq!(uvarint(&[0x05]), Some((5, 1)));
        assert_eq!(uvarint(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(uvarint(&[]), None);
        assert_eq!(uvarint(&[0x80, 0x80]), None);
        assert_eq!(uvarint(&[0xff; 10]), None);
        assert_eq!(
            uvarint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Some((u64::MAX, 10))
        );
    }
}
