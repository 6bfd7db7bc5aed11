//! Decoding the bytes of an ELF file into the model, the way the loader sees it:
//! identity and dynamic section from the program headers, symbol tables, versions and
//! relocations from the section headers. A broken part is recorded as a problem and the
//! rest is still read.

use object::Endianness;
use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader, SectionTable};

use super::cstr::{c_str, until_nul};
use super::model::*;
use super::names;
use super::words::RelocatedWords;
use super::{MAX_ENTRIES, ReadError};
use crate::alongside::{PARALLEL_BYTES, alongside};

mod relocs;
mod symbols;

use relocs::{relocations, tls};
pub use symbols::parse_dotted;
use symbols::{read_verdef, symbols_and_versions};

/// Everything parsed from the bytes; the caller adds the path and keeps the bytes.
pub struct Parsed {
    pub identity: Identity,
    pub dynamic: Dynamic,
    pub versions: Versions,
    pub symbols: Vec<DynSymbol>,
    pub tls: Tls,
    pub segments: Segments,
    pub sections: Vec<Section>,
    pub relocations: Vec<DynReloc>,
    pub loads: Vec<LoadSegment>,
    /// Read while decoding for big files only.
    pub relocated_words: Option<RelocatedWords>,
    pub problems: Vec<String>,
}

const EI_NIDENT: usize = 16;
/// Longer than any real program interpreter path (PATH_MAX).
const MAX_INTERP: usize = 4096;

/// Bounds the bytes of names copied out of one file: a hostile table can point a million
/// entries at one string a megabyte long.
struct Names {
    left: usize,
    dropped: usize,
}

impl Names {
    const BUDGET: usize = 64 << 20;

    fn new() -> Names {
        Names {
            left: Self::BUDGET,
            dropped: 0,
        }
    }

    /// `bytes` as a string, or `None` once the budget is spent.
    fn take(&mut self, bytes: &[u8]) -> Option<String> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.take_str(text),
            Err(_) => self
                .charge(bytes.len())
                .then(|| String::from_utf8_lossy(bytes).into_owned()),
        }
    }

    /// A name already known to be UTF-8, or `None` once the budget is spent.
    fn take_str<S: for<'t> From<&'t str>>(&mut self, text: &str) -> Option<S> {
        self.charge(text.len()).then(|| S::from(text))
    }

    fn charge(&mut self, len: usize) -> bool {
        if len > self.left {
            self.dropped += 1;
            return false;
        }
        self.left -= len;
        true
    }
}

/// Reads the identification bytes and dispatches on class.
pub fn parse(data: &[u8]) -> Result<Parsed, ReadError> {
    if data.is_empty() {
        return Err(ReadError::Empty);
    }
    if data.len() < 4 || data[..4] != elf::ELFMAG {
        return Err(ReadError::NotElf(describe_magic(data)));
    }
    if data.len() < EI_NIDENT {
        return Err(ReadError::Truncated(format!(
            "{} bytes, shorter than the ELF identification",
            data.len()
        )));
    }
    match data[4] {
        c if c == elf::ELFCLASS32.0 => {
            parse_class::<elf::FileHeader32<Endianness>>(data, Class::Elf32)
        }
        c if c == elf::ELFCLASS64.0 => {
            parse_class::<elf::FileHeader64<Endianness>>(data, Class::Elf64)
        }
        other => Err(ReadError::Unsupported(format!(
            "invalid ELF class byte {other:#x}"
        ))),
    }
}

/// The versions an object defines (`Verdef`, base entry left out), read without
/// decoding the rest of the file: what the loader needs from libc.so.6.
pub fn defined_versions(data: &[u8]) -> Option<Vec<String>> {
    fn of<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Option<Vec<String>> {
        let header = Elf::parse(data).ok()?;
        let endian = header.endian().ok()?;
        let sections = header.sections(endian, data).ok()?;
        let mut versions = Versions::default();
        read_verdef(
            &sections,
            endian,
            data,
            &mut versions,
            &mut Names::new(),
            &mut Vec::new(),
        );
        Some(versions.defined)
    }
    match data.get(4)? {
        1 => of::<elf::FileHeader32<Endianness>>(data),
        2 => of::<elf::FileHeader64<Endianness>>(data),
        _ => None,
    }
}

fn describe_magic(data: &[u8]) -> String {
    let head = &data[..data.len().min(4)];
    if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("starts with {:?}", String::from_utf8_lossy(head))
    } else {
        let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
        format!("starts with bytes {}", hex.join(" "))
    }
}

fn parse_class<Elf: FileHeader<Endian = Endianness>>(
    data: &[u8],
    class: Class,
) -> Result<Parsed, ReadError>
where
    Elf::SectionHeader: Sync,
{
    let header_size = std::mem::size_of::<Elf>();
    if data.len() < header_size {
        return Err(ReadError::Truncated(format!(
            "{} bytes, shorter than the {header_size}-byte ELF header",
            data.len()
        )));
    }
    let header = Elf::parse(data).map_err(|e| ReadError::Unsupported(e.to_string()))?;
    let endian = header.endian().map_err(|_| {
        ReadError::Unsupported(format!("invalid data encoding byte {:#x}", data[5]))
    })?;
    let mut problems = Vec::new();

    let phdrs = header.program_headers(endian, data).map_err(|_| {
        ReadError::Truncated(format!(
            "program headers ({} entries at offset {:#x}) run past the end of the file ({} bytes)",
            header.e_phnum(endian),
            header.e_phoff(endian).into(),
            data.len()
        ))
    })?;
    let sections = match header.sections(endian, data) {
        Ok(table) => table,
        Err(_) => {
            problems.push(format!(
                "section headers ({} entries at offset {:#x}) are unreadable: symbols, versions and relocations not read",
                header.e_shnum(endian),
                header.e_shoff(endian).into()
            ));
            SectionTable::default()
        }
    };

    let loads = load_segments::<Elf>(phdrs, endian);
    check_load_order(&loads, &mut problems);
    let mut names = Names::new();
    let segments = segment_facts::<Elf>(phdrs, endian);
    let interpreter = interpreter::<Elf>(phdrs, endian, data, &mut names, &mut problems);
    let dynamic = dynamic::<Elf>(phdrs, endian, data, &loads, &mut names, &mut problems);
    let mut section_problems = Vec::new();
    let section_list =
        section_list::<Elf>(&sections, endian, data, &mut names, &mut section_problems);
    let machine_id = header.e_machine(endian).0;
    let endianness = if endian == Endianness::Little {
        Endianness_::Little
    } else {
        Endianness_::Big
    };
    // A big file's relocations (those naming a symbol, and the words every one writes)
    // are read on a second thread while its symbols are decoded (a 15 MB Go plugin:
    // 49,000 relocations next to 33,000 symbols); a small file's words are read on first
    // use.
    let big = data.len() >= PARALLEL_BYTES;
    let read_relocations = || {
        let mut problems = Vec::new();
        let (relocations, tls_counts) =
            relocations::<Elf>(&sections, endian, data, machine_id, &mut problems);
        let words = big.then(|| {
            RelocatedWords::read(data, class, endianness, machine_id, &section_list, &loads)
        });
        (relocations, tls_counts, words, problems)
    };
    let decode_symbols =
        || symbols_and_versions::<Elf>(&sections, endian, data, &mut names, &mut problems);
    let ((symbols, versions), (relocations, tls_counts, relocated_words, mut reloc_problems)) =
        alongside(big, decode_symbols, read_relocations);
    problems.append(&mut reloc_problems);
    let tls = tls::<Elf>(phdrs, endian, tls_counts, dynamic.static_tls);
    problems.append(&mut section_problems);
    if names.dropped > 0 {
        problems.push(format!(
            "{} names not read: the file's tables name more than {} MiB of strings",
            names.dropped,
            Names::BUDGET >> 20
        ));
    }

    let e_type = header.e_type(endian);
    let kind = object_kind(e_type.0, interpreter.is_some(), dynamic.flags_1);
    let os_abi_id = header.e_ident().os_abi.0;
    let identity = Identity {
        class,
        endianness,
        machine_id,
        machine: names::machine(machine_id),
        os_abi: names::os_abi(os_abi_id),
        os_abi_id,
        kind,
        libc: infer_libc(interpreter.as_deref(), &dynamic.needed, &versions),
        interpreter,
    };
    Ok(Parsed {
        identity,
        dynamic,
        versions,
        symbols,
        tls,
        segments,
        sections: section_list,
        relocations,
        loads,
        relocated_words,
        problems,
    })
}

use super::model::Endianness as Endianness_;

fn object_kind(e_type: u16, has_interp: bool, flags_1: u64) -> ObjectKind {
    match e_type {
        t if t == elf::ET_EXEC.0 => ObjectKind::Executable,
        t if t == elf::ET_DYN.0 => {
            if has_interp || flags_1 & elf::DF_1_PIE.0 != 0 {
                ObjectKind::PieExecutable
            } else {
                ObjectKind::SharedObject
            }
        }
        t if t == elf::ET_REL.0 => ObjectKind::Relocatable,
        _ => ObjectKind::Other,
    }
}

fn load_segments<Elf: FileHeader<Endian = Endianness>>(
    phdrs: &[Elf::ProgramHeader],
    endian: Endianness,
) -> Vec<LoadSegment> {
    phdrs
        .iter()
        .filter(|p| p.p_type(endian) == elf::PT_LOAD)
        .map(|p| LoadSegment {
            vaddr: p.p_vaddr(endian).into(),
            offset: p.p_offset(endian).into(),
            file_size: p.p_filesz(endian).into(),
            mem_size: p.p_memsz(endian).into(),
        })
        .collect()
}

/// ld.so maps `PT_LOAD` segments in file order and requires ascending, disjoint
/// address ranges; anything else clobbers pages it has already mapped.
fn check_load_order(loads: &[LoadSegment], problems: &mut Vec<String>) {
    for (i, pair) in loads.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        if b.vaddr < a.vaddr.saturating_add(a.mem_size) {
            problems.push(format!(
                "PT_LOAD segments {} ({:#x}..{:#x}) and {} (from {:#x}) overlap or are out of order",
                i,
                a.vaddr,
                a.vaddr.saturating_add(a.mem_size),
                i + 1,
                b.vaddr
            ));
        }
    }
}

fn segment_facts<Elf: FileHeader<Endian = Endianness>>(
    phdrs: &[Elf::ProgramHeader],
    endian: Endianness,
) -> Segments {
    let stack = phdrs.iter().find(|p| p.p_type(endian) == elf::PT_GNU_STACK);
    Segments {
        has_gnu_stack: stack.is_some(),
        // Without PT_GNU_STACK the kernel and ld.so assume an executable stack.
        exec_stack: stack.is_none_or(|p| p.p_flags(endian).0 & elf::PF_X.0 != 0),
        relro: phdrs.iter().any(|p| p.p_type(endian) == elf::PT_GNU_RELRO),
        load_segments: phdrs
            .iter()
            .filter(|p| p.p_type(endian) == elf::PT_LOAD)
            .count(),
    }
}

fn interpreter<Elf: FileHeader<Endian = Endianness>>(
    phdrs: &[Elf::ProgramHeader],
    endian: Endianness,
    data: &[u8],
    names: &mut Names,
    problems: &mut Vec<String>,
) -> Option<String> {
    let phdr = phdrs.iter().find(|p| p.p_type(endian) == elf::PT_INTERP)?;
    match phdr.data(endian, data) {
        Ok(bytes) => names.take(until_nul(&bytes[..bytes.len().min(MAX_INTERP)])),
        Err(_) => {
            problems.push("PT_INTERP points past the end of the file".to_string());
            None
        }
    }
}

/// Maps a virtual address to a file offset through the `PT_LOAD` segments.
pub fn vaddr_to_offset(loads: &[LoadSegment], vaddr: u64) -> Option<u64> {
    loads.iter().find_map(|seg| {
        let delta = vaddr.checked_sub(seg.vaddr)?;
        // A hostile p_offset near u64::MAX: not backed by the file rather than overflowing.
        (delta < seg.file_size).then(|| seg.offset.checked_add(delta))?
    })
}

fn dynamic<Elf: FileHeader<Endian = Endianness>>(
    phdrs: &[Elf::ProgramHeader],
    endian: Endianness,
    data: &[u8],
    loads: &[LoadSegment],
    names: &mut Names,
    problems: &mut Vec<String>,
) -> Dynamic {
    let mut out = Dynamic::default();
    let Some(phdr) = phdrs.iter().find(|p| p.p_type(endian) == elf::PT_DYNAMIC) else {
        return out;
    };
    let entries = match phdr.dynamic(endian, data) {
        Ok(Some(entries)) => entries,
        _ => {
            problems.push("PT_DYNAMIC points past the end of the file".to_string());
            return out;
        }
    };
    let end = entries.iter().position(|d| d.d_tag(endian) == elf::DT_NULL);
    if end.is_none() {
        problems.push("dynamic section has no DT_NULL terminator".to_string());
    }
    let mut entries = &entries[..end.unwrap_or(entries.len())];
    if entries.len() > MAX_ENTRIES {
        problems.push(format!(
            "dynamic section has {} entries: only the first {MAX_ENTRIES} read",
            entries.len()
        ));
        entries = &entries[..MAX_ENTRIES];
    }
    let value = |tag: elf::DynamicTag| -> Option<u64> {
        entries
            .iter()
            .find(|d| d.d_tag(endian) == tag)
            .map(|d| d.d_val(endian).into())
    };
    let strtab = match (value(elf::DT_STRTAB), value(elf::DT_STRSZ)) {
        (Some(addr), Some(size)) => vaddr_to_offset(loads, addr).and_then(|off| {
            let start = usize::try_from(off).ok()?;
            let end = start.checked_add(usize::try_from(size).ok()?)?;
            data.get(start..end.min(data.len()))
        }),
        _ => None,
    };
    if let (Some(addr), Some(size)) = (value(elf::DT_STRTAB), value(elf::DT_STRSZ))
        && let Some(off) = vaddr_to_offset(loads, addr)
        && off
            .checked_add(size)
            .is_none_or(|end| end > data.len() as u64)
    {
        problems.push(format!(
            "DT_STRSZ ({size} bytes from file offset {off:#x}) runs past the end of the file ({} bytes)",
            data.len()
        ));
    }
    if strtab.is_none() && !entries.is_empty() {
        problems
            .push("DT_STRTAB is missing or outside the file: library names not read".to_string());
    }
    let mut bad_strings = 0usize;
    let mut string = |offset: u64| -> Option<String> {
        let bytes = strtab.and_then(|t| c_str(t, offset));
        if bytes.is_none() {
            bad_strings += 1;
        }
        bytes.and_then(|b| names.take(b))
    };
    for entry in entries {
        let tag = entry.d_tag(endian);
        let val: u64 = entry.d_val(endian).into();
        match tag {
            t if t == elf::DT_NEEDED => out.needed.extend(string(val)),
            t if t == elf::DT_SONAME => out.soname = string(val),
            t if t == elf::DT_RPATH => out.rpath.extend(split_path(string(val))),
            t if t == elf::DT_RUNPATH => out.runpath.extend(split_path(string(val))),
            t if t == elf::DT_FLAGS => out.flags |= val,
            t if t == elf::DT_FLAGS_1 => out.flags_1 |= val,
            t if t == elf::DT_BIND_NOW => out.bind_now = true,
            _ => {}
        }
    }
    if bad_strings > 0 {
        problems.push(format!(
            "{bad_strings} dynamic entries name strings outside DT_STRTAB or without a NUL terminator"
        ));
    }
    out.bind_now |= out.flags & elf::DF_BIND_NOW.0 != 0 || out.flags_1 & elf::DF_1_NOW.0 != 0;
    out.static_tls = out.flags & elf::DF_STATIC_TLS.0 != 0;
    out.flag_names = names::dynamic_flags(out.flags, out.flags_1);
    out
}

fn split_path(value: Option<String>) -> Vec<String> {
    value
        .map(|s| s.split(':').map(str::to_string).collect())
        .unwrap_or_default()
}

fn section_list<Elf: FileHeader<Endian = Endianness>>(
    sections: &SectionTable<'_, Elf>,
    endian: Endianness,
    data: &[u8],
    names: &mut Names,
    problems: &mut Vec<String>,
) -> Vec<Section> {
    let mut bad_names = 0usize;
    let mut past_eof = Vec::new();
    let list: Vec<Section> = sections
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let name = match sections.section_name(endian, s) {
                Ok(n) => names.take(n).unwrap_or_default(),
                Err(_) => {
                    bad_names += 1;
                    String::new()
                }
            };
            let section = Section {
                name,
                kind: s.sh_type(endian).0,
                address: s.sh_addr(endian).into(),
                offset: s.sh_offset(endian).into(),
                size: s.sh_size(endian).into(),
            };
            let in_file = section.kind == elf::SHT_NOBITS.0
                || section
                    .offset
                    .checked_add(section.size)
                    .is_some_and(|end| end <= data.len() as u64);
            if !in_file {
                past_eof.push(if section.name.is_empty() {
                    format!("#{index}")
                } else {
                    section.name.clone()
                });
            }
            section
        })
        .collect();
    if bad_names > 0 {
        problems.push(format!(
            "{bad_names} section names are outside .shstrtab or without a NUL terminator"
        ));
    }
    if !past_eof.is_empty() {
        problems.push(format!(
            "{} sections run past the end of the file ({} bytes): {}",
            past_eof.len(),
            data.len(),
            past_eof
                .iter()
                .take(4)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    list
}

fn infer_libc(interpreter: Option<&str>, needed: &[String], versions: &Versions) -> Libc {
    if let Some(interp) = interpreter {
        if interp.contains("ld-musl") {
            return Libc::Musl;
        }
        if interp.contains("ld-linux") || interp.contains("ld64.so") {
            return Libc::Glibc;
        }
    }
    if needed
        .iter()
        .any(|n| n.starts_with("libc.musl") || n == "libc.so")
    {
        return Libc::Musl;
    }
    if needed
        .iter()
        .any(|n| n == "libc.so.6" || n == "libc.so.6.1")
        || versions
            .needed
            .iter()
            .any(|n| n.versions.iter().any(|v| v.name.starts_with("GLIBC_")))
    {
        return Libc::Glibc;
    }
    if needed.is_empty() && interpreter.is_none() {
        Libc::None
    } else {
        Libc::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::symbols::max_glibc;
    use super::*;

    #[test]
    fn empty_input_is_its_own_error() {
        assert!(matches!(parse(&[]), Err(ReadError::Empty)));
    }

    #[test]
    fn text_is_not_elf() {
        let err = parse(b"#!/bin/sh\necho hi\n").err().unwrap();
        assert_eq!(err.to_string(), "not an ELF file (starts with \"#!/b\")");
    }

    #[test]
    fn identification_only_is_truncated() {
        let mut data = b"\x7fELF\x02\x01\x01".to_vec();
        data.resize(20, 0);
        assert!(matches!(parse(&data), Err(ReadError::Truncated(_))));
    }

    #[test]
    fn bad_class_byte_is_unsupported() {
        let mut data = b"\x7fELF\x07\x01\x01".to_vec();
        data.resize(64, 0);
        assert!(matches!(parse(&data), Err(ReadError::Unsupported(_))));
    }

    #[test]
    fn glibc_versions_compare_numerically() {
        let need = |names: &[&str]| VersionNeed {
            library: "libc.so.6".into(),
            versions: names
                .iter()
                .map(|n| NeededVersion {
                    name: n.to_string(),
                    weak: false,
                })
                .collect(),
        };
        let needed = vec![need(&[
            "GLIBC_2.9",
            "GLIBC_2.34",
            "GLIBC_2.2.5",
            "GLIBC_PRIVATE",
        ])];
        assert_eq!(max_glibc(&needed).as_deref(), Some("GLIBC_2.34"));
    }

    #[test]
    fn vaddr_mapping_respects_file_size() {
        let loads = [LoadSegment {
            vaddr: 0x1000,
            offset: 0x200,
            file_size: 0x100,
            mem_size: 0x400,
        }];
        assert_eq!(vaddr_to_offset(&loads, 0x1010), Some(0x210));
        assert_eq!(vaddr_to_offset(&loads, 0x1200), None);
        assert_eq!(vaddr_to_offset(&loads, 0x0fff), None);
    }
}
