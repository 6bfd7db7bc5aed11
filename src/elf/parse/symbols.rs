//! The dynamic symbol table and the symbol versions (`.gnu.version*`).

use std::sync::Arc;

use compact_str::CompactString;
use object::Endianness;
use object::elf;
use object::read::elf::{FileHeader, SectionHeader, SectionTable, Sym};

use super::super::cstr::c_str;
use super::super::model::*;
use super::{MAX_ENTRIES, Names};

pub(super) fn symbols_and_versions<Elf: FileHeader<Endian = Endianness>>(
    sections: &SectionTable<'_, Elf>,
    endian: Endianness,
    data: &[u8],
    names: &mut Names,
    problems: &mut Vec<String>,
) -> (Vec<DynSymbol>, Versions) {
    let mut versions = Versions::default();
    read_verneed(sections, endian, data, &mut versions, names, problems);
    read_verdef(sections, endian, data, &mut versions, names, problems);
    versions.max_glibc = max_glibc(&versions.needed);

    let table = match sections.symbols(endian, data, elf::SHT_DYNSYM) {
        Ok(table) => table,
        Err(e) => {
            problems.push(format!("dynamic symbol table unreadable: {e}"));
            return (Vec::new(), versions);
        }
    };
    let version_table = match sections.versions(endian, data) {
        Ok(table) => table,
        Err(e) => {
            problems.push(format!("symbol version tables unreadable: {e}"));
            None
        }
    };
    // The string table's bytes, names cut at their NUL.
    let strtab: &[u8] = sections
        .section(table.string_section())
        .ok()
        .and_then(|s| s.data(endian, data).ok())
        .unwrap_or(&[]);
    warm(strtab);
    // The whole table checked once: tens of thousands of names are then cut out of it
    // without checking each one again (a name starting inside a character is not a
    // `str` slice and takes the checked path).
    let strtab_text = std::str::from_utf8(strtab).ok();
    let name_at = |offset: u32| c_str(strtab, offset.into());
    let checked = |offset: u32, bytes: &[u8]| -> Option<&str> {
        let start = offset as usize;
        strtab_text.and_then(|text| text.get(start..start + bytes.len()))
    };
    if table.len() > MAX_ENTRIES {
        problems.push(format!(
            "dynamic symbol table claims {} entries: only the first {MAX_ENTRIES} read",
            table.len()
        ));
    }
    let mut symbols = Vec::with_capacity(table.len().min(MAX_ENTRIES));
    let mut bad_names = 0usize;
    let mut version_names: Vec<Option<Option<Arc<String>>>> = Vec::new();
    for (index, sym) in table.enumerate().take(MAX_ENTRIES) {
        if index.0 == 0 {
            continue;
        }
        let name = match name_at(sym.st_name(endian)) {
            Some(name) => match checked(sym.st_name(endian), name) {
                Some(text) => names.take_str(text),
                None => names.take(name).map(CompactString::from),
            }
            .unwrap_or_default(),
            None => {
                bad_names += 1;
                CompactString::default()
            }
        };
        let (version, version_hidden) = version_table
            .as_ref()
            .map(|vt| {
                let versym = vt.version_index(endian, index);
                let slot = usize::from(versym.index().0);
                // A file has a handful of versions and tens of thousands of symbols: each
                // name is read once and shared.
                if version_names.len() <= slot {
                    version_names.resize(slot + 1, None);
                }
                let name = version_names[slot]
                    .get_or_insert_with(|| {
                        vt.version(versym.index())
                            .ok()
                            .flatten()
                            .and_then(|v| names.take(v.name()))
                            .map(Arc::new)
                    })
                    .clone();
                (name, versym.is_hidden())
            })
            .unwrap_or((None, false));
        symbols.push(DynSymbol {
            name,
            version,
            version_hidden,
            defined: !sym.is_undefined(endian),
            binding: binding(sym.st_bind().0),
            kind: symbol_kind(sym.st_type().0),
            value: sym.st_value(endian).into(),
            size: sym.st_size(endian).into(),
        });
    }
    if bad_names > 0 {
        problems.push(format!(
            "{bad_names} dynamic symbols have names outside the string table"
        ));
    }
    (symbols, versions)
}

/// Reads `bytes` once front to back so that the random accesses that follow hit the CPU
/// cache: `.dynsym` names its strings in no particular order, and a Go plugin's 800 kB
/// `.dynstr` read at random misses the cache on most names (measured: a big plugin's
/// symbols read in 2.8 ms instead of 3.1 ms).
pub(super) fn warm(bytes: &[u8]) {
    let sum = bytes.chunks(64).fold(0u8, |acc, line| acc ^ line[0]);
    std::hint::black_box(sum);
}

pub(super) fn read_verneed<Elf: FileHeader<Endian = Endianness>>(
    sections: &SectionTable<'_, Elf>,
    endian: Endianness,
    data: &[u8],
    versions: &mut Versions,
    names: &mut Names,
    problems: &mut Vec<String>,
) {
    for section in sections.iter() {
        let Ok(Some((mut iter, link))) = section.gnu_verneed(endian, data) else {
            continue;
        };
        let Ok(strings) = sections.strings(endian, data, link) else {
            problems.push("version-needed strings unreadable".to_string());
            continue;
        };
        loop {
            match iter.next() {
                Ok(Some((need, mut auxes))) => {
                    let library = need
                        .file(endian, strings)
                        .ok()
                        .and_then(|b| names.take(b))
                        .unwrap_or_default();
                    let mut needed = Vec::new();
                    loop {
                        match auxes.next() {
                            Ok(Some(aux)) => needed.push(NeededVersion {
                                name: aux
                                    .name(endian, strings)
                                    .ok()
                                    .and_then(|b| names.take(b))
                                    .unwrap_or_default(),
                                weak: aux.vna_flags.get(endian).0 & elf::VER_FLG_WEAK.0 != 0,
                            }),
                            Ok(None) => break,
                            Err(e) => {
                                problems.push(format!("version-needed entry of {library}: {e}"));
                                break;
                            }
                        }
                    }
                    versions.needed.push(VersionNeed {
                        library,
                        versions: needed,
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    problems.push(format!("version-needed section: {e}"));
                    break;
                }
            }
        }
    }
}

pub(super) fn read_verdef<Elf: FileHeader<Endian = Endianness>>(
    sections: &SectionTable<'_, Elf>,
    endian: Endianness,
    data: &[u8],
    versions: &mut Versions,
    names: &mut Names,
    problems: &mut Vec<String>,
) {
    for section in sections.iter() {
        let Ok(Some((mut iter, link))) = section.gnu_verdef(endian, data) else {
            continue;
        };
        let Ok(strings) = sections.strings(endian, data, link) else {
            problems.push("version-definition strings unreadable".to_string());
            continue;
        };
        loop {
            match iter.next() {
                Ok(Some((def, mut auxes))) => {
                    if def.vd_flags.get(endian).0 & elf::VER_FLG_BASE.0 != 0 {
                        continue;
                    }
                    if let Ok(Some(aux)) = auxes.next()
                        && let Ok(name) = aux.name(endian, strings)
                        && let Some(name) = names.take(name)
                    {
                        versions.defined.push(name);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    problems.push(format!("version-definition section: {e}"));
                    break;
                }
            }
        }
    }
}

/// The highest `GLIBC_x.y[.z]` version in the needed list, compared numerically.
pub(super) fn max_glibc(needed: &[VersionNeed]) -> Option<String> {
    needed
        .iter()
        .flat_map(|n| n.versions.iter())
        .filter_map(|v| {
            v.name
                .strip_prefix("GLIBC_")
                .map(|rest| (parse_dotted(rest), &v.name))
        })
        .filter(|(key, _)| !key.is_empty())
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, name)| name.clone())
}

/// `"2.34"` → `[2, 34]`; anything non-numeric gives an empty key.
pub fn parse_dotted(text: &str) -> Vec<u32> {
    text.split('.')
        .map(|p| p.parse::<u32>())
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_default()
}

pub(super) fn binding(bind: u8) -> Binding {
    match bind {
        b if b == elf::STB_LOCAL.0 => Binding::Local,
        b if b == elf::STB_GLOBAL.0 => Binding::Global,
        b if b == elf::STB_WEAK.0 => Binding::Weak,
        b if b == elf::STB_GNU_UNIQUE.0 => Binding::Unique,
        _ => Binding::Other,
    }
}

pub(super) fn symbol_kind(kind: u8) -> SymbolKind {
    match kind {
        k if k == elf::STT_NOTYPE.0 => SymbolKind::NoType,
        k if k == elf::STT_OBJECT.0 => SymbolKind::Object,
        k if k == elf::STT_FUNC.0 => SymbolKind::Func,
        k if k == elf::STT_SECTION.0 => SymbolKind::Section,
        k if k == elf::STT_FILE.0 => SymbolKind::File,
        k if k == elf::STT_COMMON.0 => SymbolKind::Common,
        k if k == elf::STT_TLS.0 => SymbolKind::Tls,
        k if k == elf::STT_GNU_IFUNC.0 => SymbolKind::Ifunc,
        _ => SymbolKind::Other,
    }
}
