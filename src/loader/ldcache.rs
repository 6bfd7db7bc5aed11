//! `/etc/ld.so.cache`, read the way glibc 2.36's `elf/dl-cache.c` reads it.
//!
//! Three layouts exist: the new format alone (`glibc-ld.so.cache1.1`, what ldconfig has
//! written since glibc 2.32), the old libc5 format (`ld.so-1.7.0`), and the old format with
//! the new one embedded after its entry table. Entries are sorted with `_dl_cache_libcmp`
//! (digits compare numerically) and looked up by binary search; when several entries have
//! the same name, the first usable one wins, except that `glibc-hwcaps` entries (listed
//! first) compete by priority.
//!
//! Parsing is bounded by the file size and never panics: string offsets are checked
//! before use, and a damaged file gives an error or fewer entries, like ld.so ignoring it.

use serde::Serialize;

use crate::elf::cstr;

const MAGIC_OLD: &[u8] = b"ld.so-1.7.0";
const MAGIC_NEW: &[u8] = b"glibc-ld.so.cache1.1";
/// `sizeof (struct cache_file)`: 11 bytes of magic, padded, plus `nlibs`.
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
/// `sizeof (struct cache_file_new)`.
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
const EXTENSION_MAGIC: u32 = (-358342284i32) as u32;
const EXTENSION_TAG_GENERATOR: u32 = 0;
const EXTENSION_TAG_GLIBC_HWCAPS: u32 = 1;
/// `DL_CACHE_HWCAP_EXTENSION`: the low 32 bits index the glibc-hwcaps names.
const HWCAP_EXTENSION: u64 = 1 << 62;
const HWCAP_ISA_LEVEL_MASK: u64 = (1 << 10) - 1;

/// `FLAG_ELF_LIBC6 | FLAG_X8664_LIB64`: the only entry flags ld.so accepts on x86-64.
pub const FLAGS_X86_64: i32 = 0x0303;

/// Which of the three layouts the file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheFormat {
    /// `glibc-ld.so.cache1.1` only.
    New,
    /// `ld.so-1.7.0` only.
    Old,
    /// `ld.so-1.7.0` with a `glibc-ld.so.cache1.1` table after it; ld.so uses the new one.
    OldWithNew,
}

/// One cache entry: a soname (`key`) and the file it names (`path`).
#[derive(Debug, Clone, Serialize)]
pub struct CacheEntry {
    /// `FLAG_*` bits: ELF type and ABI (`0x303` = libc6, x86-64).
    pub flags: i32,
    pub key: String,
    pub path: String,
    /// The hwcap word (new format only): legacy hwcap bits, or a glibc-hwcaps reference.
    pub hwcap: u64,
    /// The glibc-hwcaps subdirectory this entry lives in (e.g. `x86-64-v3`), if any.
    pub hwcaps_subdir: Option<String>,
}

/// A parsed `ld.so.cache`.
#[derive(Debug, Clone, Serialize)]
pub struct LdCache {
    pub format: CacheFormat,
    /// Entries of the table ld.so searches, in file (sorted) order.
    pub entries: Vec<CacheEntry>,
    /// The glibc version that wrote the file (extension section), if recorded.
    pub generator: Option<String>,
    /// Parts that could not be read; ld.so would skip the same entries.
    pub problems: Vec<String>,
    #[serde(skip)]
    hwcaps_names: Vec<String>,
}

/// Why a cache file is not used at all (ld.so then searches without it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum CacheError {
    #[error("not an ld.so.cache file (unknown magic)")]
    BadMagic,
    #[error("ld.so.cache is truncated: {0}")]
    Truncated(String),
    #[error("ld.so.cache was written for the other byte order")]
    WrongEndian,
}

/// What the running ld.so accepts from the cache: derived from the machine.
#[derive(Debug, Clone, Serialize)]
pub struct CacheAbi {
    /// The exact `flags` an entry must have (x86-64: `0x303`).
    pub flags: i32,
    /// `GLRO(dl_hwcap) & hwcap_mask`, the legacy hwcap bits this CPU has (x86-64: `0x2`).
    pub hwcap: u64,
    /// Active glibc-hwcaps subdirectories, most preferred first (e.g. `x86-64-v3`, `x86-64-v2`).
    pub hwcaps_subdirs: Vec<String>,
    /// x86 ISA level bits the CPU supports (`GNU_PROPERTY_X86_ISA_1_*`: 1 baseline, 2 v2, 4 v3, 8 v4).
    pub isa_1: u32,
}

impl CacheAbi {
    /// The target's entry flags, no legacy hwcap bits (only x86-64 uses one here).
    pub fn for_arch(arch: &crate::elf::Arch, hwcaps_subdirs: Vec<String>, isa_1: u32) -> Self {
        if arch.machine == crate::elf::arch::X86_64.machine {
            return CacheAbi::x86_64(hwcaps_subdirs, isa_1);
        }
        CacheAbi {
            flags: arch.cache_flags,
            hwcap: 0,
            hwcaps_subdirs,
            isa_1,
        }
    }

    /// x86-64 with the given active glibc-hwcaps subdirectories and ISA level bits.
    pub fn x86_64(hwcaps_subdirs: Vec<String>, isa_1: u32) -> Self {
        CacheAbi {
            flags: FLAGS_X86_64,
            hwcap: 0x2,
            hwcaps_subdirs,
            isa_1,
        }
    }
}

fn u32_at(data: &[u8], offset: usize) -> Option<u32> {
    let bytes = data.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

fn u64_at(data: &[u8], offset: usize) -> Option<u64> {
    let bytes = data.get(offset..offset.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// The NUL-terminated string at `offset`, if it is inside `table` and terminated there.
fn c_str(table: &[u8], offset: u32) -> Option<String> {
    cstr::c_str(table, offset.into()).map(|bytes| String::from_utf8_lossy(bytes).into_owned())
}

impl CacheFormat {
    /// The magic string(s) of the layout.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheFormat::New => "glibc-ld.so.cache1.1",
            CacheFormat::Old => "ld.so-1.7.0",
            CacheFormat::OldWithNew => "ld.so-1.7.0 with glibc-ld.so.cache1.1",
        }
    }
}

impl LdCache {
    /// Parses a cache file with the checks `_dl_load_cache_lookup` applies.
    pub fn parse(data: &[u8]) -> Result<LdCache, CacheError> {
        if data.len() > NEW_HEADER && data.starts_with(MAGIC_NEW) {
            let nlibs = u32_at(data, 20).unwrap_or(0) as usize;
            if (data.len() - NEW_HEADER) / NEW_ENTRY < nlibs {
                return Err(CacheError::Truncated(format!(
                    "{nlibs} entries do not fit in {} bytes",
                    data.len()
                )));
            }
            check_endian(data[28])?;
            return Ok(Self::parse_new(data, 0, CacheFormat::New));
        }
        if data.len() > OLD_HEADER && data.starts_with(MAGIC_OLD) {
            let nlibs = u32_at(data, 12).unwrap_or(0) as usize;
            if (data.len() - OLD_HEADER) / OLD_ENTRY < nlibs {
                return Err(CacheError::Truncated(format!(
                    "{nlibs} entries do not fit in {} bytes",
                    data.len()
                )));
            }
            // The new table follows the old one, aligned like ALIGN_CACHE (8 bytes).
            let offset = (OLD_HEADER + nlibs * OLD_ENTRY).next_multiple_of(8);
            let has_new =
                data.len() >= offset + NEW_HEADER && data[offset..].starts_with(MAGIC_NEW);
            if has_new {
                check_endian(data[offset + 28])?;
                return Ok(Self::parse_new(data, offset, CacheFormat::OldWithNew));
            }
            return Ok(Self::parse_old(data, nlibs));
        }
        Err(CacheError::BadMagic)
    }

    fn parse_old(data: &[u8], nlibs: usize) -> LdCache {
        let strings_start = OLD_HEADER + nlibs * OLD_ENTRY;
        let table = &data[strings_start.min(data.len())..];
        let mut cache = LdCache::empty(CacheFormat::Old);
        for i in 0..nlibs {
            let at = OLD_HEADER + i * OLD_ENTRY;
            let (Some(flags), Some(key), Some(value)) =
                (u32_at(data, at), u32_at(data, at + 4), u32_at(data, at + 8))
            else {
                break;
            };
            cache.push(flags as i32, c_str(table, key), c_str(table, value), 0, i);
        }
        cache
    }

    /// The new table at `base`; its string offsets count from `base`.
    fn parse_new(data: &[u8], base: usize, format: CacheFormat) -> LdCache {
        let header = &data[base..];
        let nlibs = u32_at(header, 20).unwrap_or(0) as usize;
        let mut cache = LdCache::empty(format);
        cache.entries.reserve(nlibs.min(header.len() / NEW_ENTRY));
        let extension_offset = u32_at(header, 32).unwrap_or(0);
        cache.read_extensions(header, extension_offset);
        for i in 0..nlibs {
            let at = NEW_HEADER + i * NEW_ENTRY;
            let (Some(flags), Some(key), Some(value), Some(hwcap)) = (
                u32_at(header, at),
                u32_at(header, at + 4),
                u32_at(header, at + 8),
                u64_at(header, at + 16),
            ) else {
                cache
                    .problems
                    .push(format!("entry {i} runs past the end of the file"));
                break;
            };
            cache.push(
                flags as i32,
                c_str(header, key),
                c_str(header, value),
                hwcap,
                i,
            );
        }
        cache
    }

    fn empty(format: CacheFormat) -> LdCache {
        LdCache {
            format,
            entries: Vec::new(),
            generator: None,
            problems: Vec::new(),
            hwcaps_names: Vec::new(),
        }
    }

    fn push(
        &mut self,
        flags: i32,
        key: Option<String>,
        path: Option<String>,
        hwcap: u64,
        index: usize,
    ) {
        let (Some(key), Some(path)) = (key, path) else {
            self.problems
                .push(format!("entry {index} names a string outside the file"));
            return;
        };
        let hwcaps_subdir = is_hwcap_extension(hwcap)
            .then(|| {
                self.hwcaps_names
                    .get((hwcap & 0xffff_ffff) as usize)
                    .cloned()
            })
            .flatten();
        self.entries.push(CacheEntry {
            flags,
            key,
            path,
            hwcap,
            hwcaps_subdir,
        });
    }

    fn read_extensions(&mut self, header: &[u8], offset: u32) {
        if offset == 0 {
            return;
        }
        let offset = offset as usize;
        if !offset.is_multiple_of(4) || u32_at(header, offset) != Some(EXTENSION_MAGIC) {
            self.problems
                .push("extension directory is misaligned or has a bad magic".into());
            return;
        }
        let count = u32_at(header, offset + 4).unwrap_or(0) as usize;
        for i in 0..count.min(64) {
            let at = offset + 8 + i * 16;
            let (Some(tag), Some(start), Some(size)) = (
                u32_at(header, at),
                u32_at(header, at + 8),
                u32_at(header, at + 12),
            ) else {
                self.problems
                    .push("extension directory runs past the end of the file".into());
                return;
            };
            let Some(section) =
                header.get(start as usize..(start as usize).saturating_add(size as usize))
            else {
                self.problems.push(format!(
                    "extension section {tag} runs past the end of the file"
                ));
                continue;
            };
            match tag {
                EXTENSION_TAG_GENERATOR => {
                    self.generator = Some(
                        String::from_utf8_lossy(section)
                            .trim_end_matches('\0')
                            .to_string(),
                    );
                }
                EXTENSION_TAG_GLIBC_HWCAPS if size % 4 == 0 && start % 4 == 0 && size > 0 => {
                    self.hwcaps_names = section
                        .chunks_exact(4)
                        .map(|c| {
                            c_str(header, u32::from_le_bytes(c.try_into().unwrap_or_default()))
                                .unwrap_or_default()
                        })
                        .collect();
                }
                _ => {}
            }
        }
    }

    /// The path ld.so takes from the cache for `name`, exactly like `search_cache`:
    /// binary search with `_dl_cache_libcmp`, back to the first entry of that name, then
    /// the first entry with acceptable flags and hwcaps (glibc-hwcaps entries by priority).
    pub fn lookup(&self, name: &str, abi: &CacheAbi) -> Option<&str> {
        let entries = &self.entries;
        // Bits ld.so ignores in a legacy hwcap word: the CPU's own, the platform bits
        // (48..52 on x86) and the TLS bit.
        let platform_bits: u64 = 0xf << 48;
        let exclude = !(abi.hwcap | platform_bits | (1u64 << 63));
        let (mut left, mut right) = (0isize, entries.len() as isize - 1);
        while left <= right {
            let mut middle = (left + right) / 2;
            let cmp = libcmp(name.as_bytes(), entries[middle as usize].key.as_bytes());
            if cmp == std::cmp::Ordering::Equal {
                left = middle;
                while middle > 0
                    && libcmp(name.as_bytes(), entries[middle as usize - 1].key.as_bytes()).is_eq()
                {
                    middle -= 1;
                }
                let mut best: Option<(&str, usize)> = None;
                while middle <= right {
                    let entry = &entries[middle as usize];
                    middle += 1;
                    if middle - 1 > left && !libcmp(name.as_bytes(), entry.key.as_bytes()).is_eq() {
                        break;
                    }
                    if entry.flags != abi.flags {
                        continue;
                    }
                    let named = is_hwcap_extension(entry.hwcap);
                    if named {
                        let level = 1u32 << ((entry.hwcap >> 32) & HWCAP_ISA_LEVEL_MASK).min(31);
                        if level & abi.isa_1 != level {
                            continue;
                        }
                    } else if best.is_some() {
                        break;
                    }
                    if !named && entry.hwcap & exclude != 0 {
                        continue;
                    }
                    if !named && entry.hwcap & platform_bits != 0 {
                        // x86-64's AT_PLATFORM ("x86_64") has no platform bit: never matches.
                        continue;
                    }
                    if named {
                        let priority = entry
                            .hwcaps_subdir
                            .as_ref()
                            .and_then(|d| abi.hwcaps_subdirs.iter().position(|s| s == d))
                            .map(|p| p + 1);
                        let Some(priority) = priority else { continue };
                        if best.is_some_and(|(_, p)| priority >= p) {
                            continue;
                        }
                        best = Some((&entry.path, priority));
                    } else {
                        best = Some((&entry.path, usize::MAX));
                        // The flags matched exactly: nothing better can follow.
                        break;
                    }
                }
                return best.map(|(p, _)| p);
            }
            // ldconfig sorts the table in descending libcmp order.
            if cmp == std::cmp::Ordering::Less {
                left = middle + 1;
            } else {
                right = middle - 1;
            }
        }
        None
    }
}

fn check_endian(flags: u8) -> Result<(), CacheError> {
    // 0: unknown (accepted), 2: little endian; 1 (invalid) and 3 (big) are refused.
    if flags == 0 || flags & 3 == 2 {
        Ok(())
    } else {
        Err(CacheError::WrongEndian)
    }
}

fn is_hwcap_extension(hwcap: u64) -> bool {
    ((hwcap >> 32) & !HWCAP_ISA_LEVEL_MASK) == (HWCAP_EXTENSION >> 32)
}

/// `_dl_cache_libcmp`: byte order, except that runs of digits compare as numbers.
/// `Greater` means `a` sorts after `b`.
pub fn libcmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut i, mut j) = (0, 0);
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    while at(a, i) != 0 {
        let (ca, cb) = (at(a, i), at(b, j));
        if ca.is_ascii_digit() {
            if !cb.is_ascii_digit() {
                return Ordering::Greater;
            }
            let (mut va, mut vb) = (0u64, 0u64);
            while at(a, i).is_ascii_digit() {
                va = va.wrapping_mul(10).wrapping_add(u64::from(at(a, i) - b'0'));
                i += 1;
            }
            while at(b, j).is_ascii_digit() {
                vb = vb.wrapping_mul(10).wrapping_add(u64::from(at(b, j) - b'0'));
                j += 1;
            }
            if va != vb {
                return va.cmp(&vb);
            }
        } else if cb.is_ascii_digit() {
            return Ordering::Less;
        } else if ca != cb {
            return ca.cmp(&cb);
        } else {
            i += 1;
            j += 1;
        }
    }
    at(a, i).cmp(&at(b, j))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a new-format cache from (key, path, flags, hwcap) rows, sorted as ldconfig does.
    pub(crate) fn build_new(rows: &[(&str, &str, i32, u64)], hwcaps: &[&str]) -> Vec<u8> {
        let mut rows: Vec<_> = rows.to_vec();
        // ldconfig sorts in descending libcmp order (stable within one name).
        rows.sort_by(|a, b| libcmp(b.0.as_bytes(), a.0.as_bytes()));
        let table_end = NEW_HEADER + rows.len() * NEW_ENTRY;
        let mut strings = Vec::new();
        let add = |s: &str, strings: &mut Vec<u8>| -> u32 {
            let off = (table_end + strings.len()) as u32;
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            off
        };
        let mut entries = Vec::new();
        for (key, path, flags, hwcap) in &rows {
            let k = add(key, &mut strings);
            let v = add(path, &mut strings);
            entries.push((*flags, k, v, *hwcap));
        }
        let hwcap_offsets: Vec<u32> = hwcaps.iter().map(|h| add(h, &mut strings)).collect();
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC_NEW);
        out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&[2, 0, 0, 0]);
        let ext_pos = out.len();
        out.extend_from_slice(&[0u8; 16]);
        assert_eq!(out.len(), NEW_HEADER);
        for (flags, k, v, hwcap) in entries {
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&hwcap.to_le_bytes());
        }
        out.extend_from_slice(&strings);
        if !hwcaps.is_empty() {
            while out.len() % 4 != 0 {
                out.push(0);
            }
            let data_at = out.len();
            for off in &hwcap_offsets {
                out.extend_from_slice(&off.to_le_bytes());
            }
            let dir_at = out.len();
            out.extend_from_slice(&EXTENSION_MAGIC.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&EXTENSION_TAG_GLIBC_HWCAPS.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&(data_at as u32).to_le_bytes());
            out.extend_from_slice(&((hwcap_offsets.len() * 4) as u32).to_le_bytes());
            out[ext_pos..ext_pos + 4].copy_from_slice(&(dir_at as u32).to_le_bytes());
        }
        out
    }

    fn abi() -> CacheAbi {
        CacheAbi::x86_64(vec!["x86-64-v3".into(), "x86-64-v2".into()], 1 | 2 | 4)
    }

    #[test]
    fn libcmp_compares_digits_numerically() {
        use std::cmp::Ordering::*;
        assert_eq!(libcmp(b"libfoo.so.10", b"libfoo.so.9"), Greater);
        assert_eq!(libcmp(b"libfoo.so.1", b"libfoo.so.1"), Equal);
        assert_eq!(libcmp(b"libfoo.so", b"libfoo.so.1"), Less);
        assert_eq!(libcmp(b"lib1", b"liba"), Greater);
    }

    #[test]
    fn new_format_lookup_prefers_the_machine_flags() {
        let data = build_new(
            &[
                ("libz.so.1", "/lib32/libz.so.1", 3, 0),
                (
                    "libz.so.1",
                    "/lib/x86_64-linux-gnu/libz.so.1",
                    FLAGS_X86_64,
                    0,
                ),
                (
                    "libc.so.6",
                    "/lib/x86_64-linux-gnu/libc.so.6",
                    FLAGS_X86_64,
                    0,
                ),
                ("libm.so.6", "/libx32/libm.so.6", 0x0803, 0),
            ],
            &[],
        );
        let cache = LdCache::parse(&data).unwrap();
        assert_eq!(cache.format, CacheFormat::New);
        assert_eq!(
            cache.lookup("libz.so.1", &abi()),
            Some("/lib/x86_64-linux-gnu/libz.so.1")
        );
        assert_eq!(
            cache.lookup("libc.so.6", &abi()),
            Some("/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(cache.lookup("libm.so.6", &abi()), None);
        assert_eq!(cache.lookup("libnope.so", &abi()), None);
    }

    #[test]
    fn glibc_hwcaps_entries_win_by_priority() {
        let v2 = HWCAP_EXTENSION | 1; // index 1 = x86-64-v2 in the names below
        let v3 = HWCAP_EXTENSION;
        let v4 = HWCAP_EXTENSION | 2 | (3u64 << 32);
        let data = build_new(
            &[
                (
                    "libx.so.1",
                    "/usr/lib/glibc-hwcaps/x86-64-v4/libx.so.1",
                    FLAGS_X86_64,
                    v4,
                ),
                (
                    "libx.so.1",
                    "/usr/lib/glibc-hwcaps/x86-64-v2/libx.so.1",
                    FLAGS_X86_64,
                    v2,
                ),
                (
                    "libx.so.1",
                    "/usr/lib/glibc-hwcaps/x86-64-v3/libx.so.1",
                    FLAGS_X86_64,
                    v3,
                ),
                ("libx.so.1", "/usr/lib/libx.so.1", FLAGS_X86_64, 0),
            ],
            &["x86-64-v3", "x86-64-v2", "x86-64-v4"],
        );
        let cache = LdCache::parse(&data).unwrap();
        // Sorting is stable, so the rows keep this order: v4 (CPU lacks it), v2, v3, plain.
        assert_eq!(
            cache.lookup("libx.so.1", &abi()),
            Some("/usr/lib/glibc-hwcaps/x86-64-v3/libx.so.1")
        );
        let baseline = CacheAbi::x86_64(vec![], 1);
        assert_eq!(
            cache.lookup("libx.so.1", &baseline),
            Some("/usr/lib/libx.so.1")
        );
    }

    #[test]
    fn old_format_is_read() {
        let names = b"libfoo.so.1\0/opt/libfoo.so.1\0";
        let mut data = Vec::new();
        data.extend_from_slice(MAGIC_OLD);
        data.push(0);
        data.extend_from_slice(&1u32.to_le_bytes());
        data.extend_from_slice(&FLAGS_X86_64.to_le_bytes());
        data.extend_from_slice(&0u32.to_le_bytes());
        data.extend_from_slice(&12u32.to_le_bytes());
        data.extend_from_slice(names);
        let cache = LdCache::parse(&data).unwrap();
        assert_eq!(cache.format, CacheFormat::Old);
        assert_eq!(
            cache.lookup("libfoo.so.1", &abi()),
            Some("/opt/libfoo.so.1")
        );
    }

    #[test]
    fn garbage_never_panics() {
        assert_eq!(LdCache::parse(b"").unwrap_err(), CacheError::BadMagic);
        let mut data = MAGIC_NEW.to_vec();
        data.resize(NEW_HEADER + 1, 0xff);
        assert!(matches!(
            LdCache::parse(&data),
            Err(CacheError::Truncated(_))
        ));
        // Every prefix and a few corruptions of a valid file.
        let good = build_new(
            &[("liba.so.1", "/a/liba.so.1", FLAGS_X86_64, 0)],
            &["x86-64-v2"],
        );
        for len in 0..good.len() {
            let _ = LdCache::parse(&good[..len])
                .map(|c| c.lookup("liba.so.1", &abi()).map(str::to_string));
        }
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1du64);
        for _ in 0..2000 {
            let mut bad = good.clone();
            let state = rng.next();
            let at = (state % bad.len() as u64) as usize;
            bad[at] = (state >> 32) as u8;
            let _ = LdCache::parse(&bad).map(|c| c.lookup("liba.so.1", &abi()).map(str::to_string));
        }
    }

    #[test]
    fn this_machines_cache_finds_libc() {
        let Ok(data) = std::fs::read("/etc/ld.so.cache") else {
            return;
        };
        let cache = LdCache::parse(&data).unwrap();
        let found = cache.lookup("libc.so.6", &abi());
        assert!(
            found.is_some_and(|p| p.ends_with("/libc.so.6")),
            "{found:?}"
        );
    }
}
