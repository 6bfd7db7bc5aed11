//! What the dynamic loader writes into each relocated word at load time, with the load
//! base taken as 0: `B + A` for relative relocations, `S + A` for symbol relocations
//! whose symbol this file defines, unknown for the ones bound to another object. The Go
//! reader needs it to follow pointers in a position-independent plugin's data.
//!
//! Every read is bounds-checked and every count capped, as in the rest of `elf`.

use super::model::{Class, Endianness, LoadSegment, Section};
use super::{endian, vaddr_to_offset};

const SHT_RELA: u32 = 4;
const SHT_REL: u32 = 9;
const SHT_DYNSYM: u32 = 11;
const REL_SECTION_PREFIX: &str = ".rel";
/// Relocation tables past this many entries in all are left unread.
const MAX_ENTRIES: u64 = super::MAX_ENTRIES as u64;

/// What a dynamic relocation puts in a word at load time (load base 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelocValue {
    /// A known value: `B + A` for relative relocations, `S + A` for a defined symbol.
    Value(u64),
    /// Bound to a symbol that is not defined in this file.
    External,
}

/// The relocated words of one file, sorted by address: those with a known value (16 bytes
/// each, a big plugin has 49,000), and apart the few bound to other objects.
#[derive(Debug, Default)]
pub struct RelocatedWords {
    values: Vec<(u64, u64)>,
    external: Vec<u64>,
}

impl RelocatedWords {
    /// The relocation applied at `addr`, if any.
    pub fn at(&self, addr: u64) -> Option<RelocValue> {
        if let Ok(i) = self.values.binary_search_by_key(&addr, |r| r.0) {
            return Some(RelocValue::Value(self.values[i].1));
        }
        self.external
            .binary_search(&addr)
            .ok()
            .map(|_| RelocValue::External)
    }

    /// Addresses of the words that a relocation sets to `value`, in address order.
    pub fn relocated_to(&self, value: u64) -> impl Iterator<Item = u64> + '_ {
        self.values
            .iter()
            .filter(move |r| r.1 == value)
            .map(|r| r.0)
    }

    /// Reads every `.rel*` section's relocations of the machine's relative and
    /// symbol-plus-addend kinds.
    pub(super) fn read(
        data: &[u8],
        class: Class,
        endianness: Endianness,
        machine_id: u16,
        sections: &[Section],
        loads: &[LoadSegment],
    ) -> RelocatedWords {
        let (relative, absolute) = reloc_kinds(machine_id);
        if relative.is_empty() {
            return RelocatedWords::default();
        }
        let file = File {
            data,
            is64: class == Class::Elf64,
            big_endian: endianness == Endianness::Big,
        };
        // Entries still allowed over all sections: hostile headers can point a thousand
        // sections at the same megabytes.
        let mut left = MAX_ENTRIES;
        let tables: Vec<(&[u8], bool)> = sections
            .iter()
            .filter_map(|section| {
                let rela = section.kind == SHT_RELA;
                if !(rela || section.kind == SHT_REL)
                    || !section.name.starts_with(REL_SECTION_PREFIX)
                {
                    return None;
                }
                let size = file.reloc_entry_size(rela);
                let count = section.size / size;
                left = left.checked_sub(count)?;
                Some((file.slice(section.offset, count * size)?, rela))
            })
            .collect();
        // Sized once: a big plugin has 49,000 of them.
        let count = tables
            .iter()
            .map(|(table, rela)| table.len() / file.reloc_entry_size(*rela) as usize)
            .sum();
        let mut values = Vec::with_capacity(count);
        let mut external = Vec::new();
        let dynsym = DynsymTable::of(&file, sections);
        let word = if file.is64 { 8 } else { 4 };
        for (table, rela) in tables {
            // Whole entries sliced from the table: no bounds check per field.
            for entry in table.chunks_exact(file.reloc_entry_size(rela) as usize) {
                let r_offset = file.uint(&entry[..word]);
                let info = file.uint(&entry[word..2 * word]);
                let addend = rela.then(|| file.uint(&entry[2 * word..3 * word]));
                let (sym, typ, addend) = if file.is64 {
                    let (sym, typ) = if machine_id == 8 {
                        // MIPS64 little-endian packs r_info differently; not supported.
                        (0, 0)
                    } else {
                        (info >> 32, info & 0xffff_ffff)
                    };
                    (sym, typ as u32, addend)
                } else {
                    let addend = addend.map(|a| a as u32 as i32 as i64 as u64);
                    (info >> 8, (info & 0xff) as u32, addend)
                };
                // REL: the addend is the word in place.
                let addend = match addend {
                    Some(a) => a,
                    None => file.word_at(loads, r_offset).unwrap_or(0),
                };
                if relative.contains(&typ) {
                    values.push((r_offset, addend));
                } else if absolute.contains(&typ) {
                    match dynsym.defined_value(&file, sym) {
                        Some(value) => values.push((r_offset, value.wrapping_add(addend))),
                        None => external.push(r_offset),
                    }
                }
            }
        }
        sort_by_address(&mut values);
        external.sort_unstable();
        RelocatedWords { values, external }
    }
}

/// Machine-specific relocation classes: (relative types, symbol+addend types).
fn reloc_kinds(machine: u16) -> (&'static [u32], &'static [u32]) {
    match machine {
        62 => (&[8], &[1, 6, 7]), // x86-64: RELATIVE; 64, GLOB_DAT, JUMP_SLOT
        183 => (&[1027], &[257, 1025, 1026]), // aarch64
        3 => (&[8], &[1, 6, 7]),  // i386
        40 => (&[23], &[2, 21, 22]), // arm
        243 => (&[3], &[2, 5]),   // riscv
        21 => (&[22], &[38, 20, 21]), // ppc64
        22 => (&[12], &[22, 10, 11]), // s390x
        258 => (&[3], &[2, 5]),   // loongarch
        8 => (&[3], &[2, 51, 5]), // mips
        _ => (&[], &[]),
    }
}

/// The file's bytes with its word size and byte order.
struct File<'a> {
    data: &'a [u8],
    is64: bool,
    big_endian: bool,
}

impl<'a> File<'a> {
    fn slice(&self, offset: u64, len: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(offset).ok()?;
        self.data
            .get(start..start.checked_add(usize::try_from(len).ok()?)?)
    }

    /// An unsigned integer in the file's byte order.
    fn uint(&self, bytes: &[u8]) -> u64 {
        endian::uint(bytes, self.big_endian)
    }

    /// The pointer-sized word the file holds at virtual address `addr`.
    fn word_at(&self, loads: &[LoadSegment], addr: u64) -> Option<u64> {
        let size = if self.is64 { 8 } else { 4 };
        let offset = vaddr_to_offset(loads, addr)?;
        Some(self.uint(self.slice(offset, size)?))
    }

    /// Bytes of one `Elf*_Rel` or `Elf*_Rela` entry.
    fn reloc_entry_size(&self, rela: bool) -> u64 {
        match (self.is64, rela) {
            (true, true) => 24,
            (true, false) => 16,
            (false, true) => 12,
            (false, false) => 8,
        }
    }
}

/// `.dynsym` read in place for relocation targets. A big plugin's 30,000 symbol-plus-addend
/// relocations name symbols in no particular order: 24-byte entries in the mapped file
/// miss the cache less than the 64-byte `DynSymbol`s, and need no decoded symbols.
struct DynsymTable<'a> {
    entries: &'a [u8],
    entry_size: usize,
}

impl<'a> DynsymTable<'a> {
    fn of(file: &File<'a>, sections: &[Section]) -> DynsymTable<'a> {
        let entry_size = if file.is64 { 24 } else { 16 };
        let entries = sections
            .iter()
            .find(|s| s.kind == SHT_DYNSYM)
            .and_then(|s| file.slice(s.offset, s.size))
            .unwrap_or(&[]);
        DynsymTable {
            entries,
            entry_size,
        }
    }

    /// `st_value` of symbol `index` (as relocations name it; 0 is the null symbol) when
    /// this file defines it (`st_shndx` is not `SHN_UNDEF`).
    fn defined_value(&self, file: &File, index: u64) -> Option<u64> {
        let start = usize::try_from(index).ok()?.checked_mul(self.entry_size)?;
        let entry = self
            .entries
            .get(start..start.checked_add(self.entry_size)?)?;
        // Elf64_Sym: st_shndx at 6, st_value at 8; Elf32_Sym: st_value at 4, st_shndx at 14.
        let (shndx, value) = if file.is64 {
            (file.uint(&entry[6..8]), file.uint(&entry[8..16]))
        } else {
            (file.uint(&entry[14..16]), file.uint(&entry[4..8]))
        };
        (index != 0 && shndx != 0).then_some(value)
    }
}

/// Sorts relocations by the address they write. Go's linker emits `.rela.dyn` in a few
/// thousand ascending runs (49,000 entries in a big plugin): counting passes over 11-bit
/// digits of the address take a tenth of a comparison sort's time there, and their 2,048
/// counters stay in the L1 cache (16-bit digits needed 1 MB of freshly zeroed counters).
/// The digits are those of the address relative to the lowest, without the low bits all
/// addresses share (word alignment): a big plugin's 1.3 MB of relocated words take two
/// passes instead of three. Keys wider than 33 bits fall back to the comparison sort.
fn sort_by_address(relocs: &mut Vec<(u64, u64)>) {
    const DIGIT_BITS: u32 = 11;
    const MAX_PASSES: u32 = 3;
    if relocs.is_sorted_by_key(|r| r.0) {
        return;
    }
    let (low, high, any_bits) = relocs
        .iter()
        .fold((u64::MAX, 0, 0), |(low, high, bits), r| {
            (low.min(r.0), high.max(r.0), bits | r.0)
        });
    // Bits every address has clear (`any_bits` is not 0: the list is not sorted).
    let aligned = any_bits.trailing_zeros();
    let key_bits = u64::BITS - ((high - low) >> aligned).leading_zeros();
    let passes = key_bits.div_ceil(DIGIT_BITS);
    if relocs.len() < 1024 || passes > MAX_PASSES {
        relocs.sort_unstable_by_key(|r| r.0);
        return;
    }
    let mut scratch = relocs.clone();
    let mut starts = [0u32; 1 << DIGIT_BITS];
    for pass in 0..passes {
        let shift = aligned + pass * DIGIT_BITS;
        let digit = |r: &(u64, u64)| ((r.0 - low) >> shift) as usize & ((1 << DIGIT_BITS) - 1);
        starts.fill(0);
        for r in relocs.iter() {
            starts[digit(r)] += 1;
        }
        let mut next = 0;
        for slot in starts.iter_mut() {
            (*slot, next) = (next, next + *slot);
        }
        for r in relocs.iter() {
            let slot = &mut starts[digit(r)];
            scratch[*slot as usize] = *r;
            *slot += 1;
        }
        std::mem::swap(relocs, &mut scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_ENTRIES, RelocValue, RelocatedWords, sort_by_address};
    use crate::elf::{Class, Endianness, LoadSegment, Section};

    #[test]
    fn overlapping_tables_are_read_up_to_the_cap_in_all() {
        // 1,000 x86-64 R_X86_64_RELATIVE entries, named by 2,000 section headers: a
        // hostile file asking for two million entries gets the first 1,048 tables.
        let table: Vec<u8> = (0..1000u64)
            .flat_map(|i| {
                [0x1000 + 8 * i, 8, i]
                    .into_iter()
                    .flat_map(u64::to_le_bytes)
            })
            .collect();
        let sections: Vec<Section> = (0..2000)
            .map(|_| Section {
                name: ".rela.dyn".into(),
                kind: 4,
                address: 0,
                offset: 0,
                size: table.len() as u64,
            })
            .collect();
        let loads: [LoadSegment; 0] = [];
        let words = RelocatedWords::read(
            &table,
            Class::Elf64,
            Endianness::Little,
            62,
            &sections,
            &loads,
        );
        assert_eq!(words.values.len() as u64, MAX_ENTRIES / 1000 * 1000);
        assert_eq!(words.at(0x1000 + 8 * 999), Some(RelocValue::Value(999)));
    }

    #[test]
    fn words_bound_elsewhere_are_external_and_the_rest_have_values() {
        // .rela.dyn: R_X86_64_64 at 0x2000 against dynsym 1 (undefined); R_X86_64_64 at
        // 0x3000 against dynsym 2 (defined, value 0x500), addend 4; R_X86_64_RELATIVE at
        // 0x1000, addend 0x77.
        let rela: Vec<u8> = [
            [0x2000, (1 << 32) | 1, 0],
            [0x3000, (2 << 32) | 1, 4],
            [0x1000, 8, 0x77],
        ]
        .into_iter()
        .flatten()
        .flat_map(u64::to_le_bytes)
        .collect();
        let mut data = rela.clone();
        let dynsym_at = data.len() as u64;
        data.extend([0u8; 24 * 2]); // the null symbol, then an undefined one
        let mut defined = [0u8; 24];
        defined[6] = 1; // st_shndx
        defined[8..16].copy_from_slice(&0x500u64.to_le_bytes());
        data.extend(defined);
        let section = |name: &str, kind, offset, size| Section {
            name: name.into(),
            kind,
            address: 0,
            offset,
            size,
        };
        let sections = [
            section(".rela.dyn", 4, 0, rela.len() as u64),
            section(".dynsym", 11, dynsym_at, 72),
        ];
        let words =
            RelocatedWords::read(&data, Class::Elf64, Endianness::Little, 62, &sections, &[]);
        assert_eq!(words.at(0x1000), Some(RelocValue::Value(0x77)));
        assert_eq!(words.at(0x2000), Some(RelocValue::External));
        assert_eq!(words.at(0x3000), Some(RelocValue::Value(0x504)));
        assert_eq!(words.at(0x1008), None);
        assert_eq!(words.relocated_to(0x504).collect::<Vec<_>>(), [0x3000]);
    }

    #[test]
    fn relocations_sort_by_address_like_a_comparison_sort() {
        // Ascending runs at scattered bases, as Go's linker writes them, plus duplicates:
        // (alignment of the bases, span) giving one, two and three 11-bit digits, with
        // and without the shared low bits.
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1du64);
        for (align, span) in [
            (1, 0x0fff_0000),
            (8, 0x0fff_0000),
            (8, 0x13_0000),
            (4, 0x2000),
            (8, 0x1000),
        ] {
            let mut relocs = Vec::new();
            while relocs.len() < 5000 {
                let base = 0x40_0000 + (rng.next() % span) / align * align;
                for i in 0..(rng.next() % 40) {
                    relocs.push((base + 8 * i, rng.next()));
                }
            }
            relocs.push((relocs[7].0, 0));
            let mut expected = relocs.clone();
            expected.sort_by_key(|r| r.0);
            sort_by_address(&mut relocs);
            assert!(
                relocs.is_sorted_by_key(|r| r.0),
                "align {align} span {span:#x}"
            );
            let key = |v: &Vec<(u64, u64)>| {
                let mut v = v.clone();
                v.sort();
                v
            };
            assert_eq!(key(&relocs), key(&expected), "same entries");
        }
        // Wider than 33 bits: the comparison sort.
        let mut wide = vec![(u64::MAX - 1, 0), (3, 1)];
        wide.extend((0..2000).map(|i| (1000 - (i % 1000), i)));
        sort_by_address(&mut wide);
        assert!(wide.is_sorted_by_key(|r| r.0));
    }
}
