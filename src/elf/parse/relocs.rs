//! Dynamic relocations (`.rela.dyn`, `.rel.dyn`, `.rela.plt`) and the TLS model each
//! TLS relocation implies.

use object::Endianness;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, Rel, Rela, SectionHeader, SectionTable};

use super::super::model::*;
use super::MAX_ENTRIES;

#[derive(Default, Clone, Copy)]
pub(super) struct TlsCounts {
    static_model: usize,
    dynamic_model: usize,
}

/// Classifies a dynamic relocation type as a TLS model, per machine.
pub(super) fn tls_class(machine: u16, r_type: u32) -> Option<TlsModel> {
    use TlsModel::{Dynamic, InitialExec};
    let class = match machine {
        m if m == elf::EM_X86_64.0 => match r_type {
            t if t == elf::R_X86_64_TPOFF64.0 || t == elf::R_X86_64_TPOFF32.0 => InitialExec,
            t if t == elf::R_X86_64_DTPMOD64.0
                || t == elf::R_X86_64_DTPOFF64.0
                || t == elf::R_X86_64_TLSDESC.0 =>
            {
                Dynamic
            }
            _ => return None,
        },
        m if m == elf::EM_386.0 => match r_type {
            t if t == elf::R_386_TLS_TPOFF.0 || t == elf::R_386_TLS_TPOFF32.0 => InitialExec,
            t if t == elf::R_386_TLS_DTPMOD32.0
                || t == elf::R_386_TLS_DTPOFF32.0
                || t == elf::R_386_TLS_DESC.0 =>
            {
                Dynamic
            }
            _ => return None,
        },
        m if m == elf::EM_AARCH64.0 => match r_type {
            t if t == elf::R_AARCH64_TLS_TPREL.0 => InitialExec,
            t if t == elf::R_AARCH64_TLS_DTPMOD.0
                || t == elf::R_AARCH64_TLS_DTPREL.0
                || t == elf::R_AARCH64_TLSDESC.0 =>
            {
                Dynamic
            }
            _ => return None,
        },
        _ => return None,
    };
    Some(class)
}

pub(super) fn relocations<Elf: FileHeader<Endian = Endianness>>(
    sections: &SectionTable<'_, Elf>,
    endian: Endianness,
    data: &[u8],
    machine: u16,
    problems: &mut Vec<String>,
) -> (Vec<DynReloc>, TlsCounts) {
    let dynsym_index = sections
        .enumerate()
        .find(|(_, s)| s.sh_type(endian) == elf::SHT_DYNSYM)
        .map(|(i, _)| i.0);
    let is_dynamic = |section: &Elf::SectionHeader| {
        let link = section.sh_link(endian) as usize;
        dynsym_index.is_some_and(|i| i == link)
            || (link == 0 && section.sh_flags(endian).0 & elf::SHF_ALLOC.0 != 0)
    };
    // Sized once: a big plugin has 50,000 relocations, and growing the table by doubling
    // copied it into fresh pages five times over.
    let capacity: u64 = sections
        .iter()
        .filter(|s| is_dynamic(s))
        .filter_map(|s| {
            let entry = match s.sh_type(endian) {
                t if t == elf::SHT_RELA => std::mem::size_of::<Elf::Rela>(),
                t if t == elf::SHT_REL => std::mem::size_of::<Elf::Rel>(),
                _ => return None,
            };
            let size: u64 = s.sh_size(endian).into();
            Some(size.min(data.len() as u64) / entry as u64)
        })
        .sum();
    let mut out = Vec::with_capacity((capacity as usize).min(MAX_ENTRIES));
    let mut counts = TlsCounts::default();
    let mut record = |offset: u64, r_type: u32, symbol: u32| {
        match tls_class(machine, r_type) {
            Some(TlsModel::InitialExec) => counts.static_model += 1,
            Some(TlsModel::Dynamic) => counts.dynamic_model += 1,
            _ => {}
        }
        if symbol != 0 {
            out.push(DynReloc {
                offset,
                r_type,
                symbol,
            });
        }
    };
    // Entries still to read, over all sections (a hostile size claims billions).
    let mut left = MAX_ENTRIES;
    let mut skipped = 0usize;
    for section in sections.iter() {
        if !is_dynamic(section) {
            continue;
        }
        match section.rela(endian, data) {
            Ok(Some((relas, _))) => {
                let take = relas.len().min(left);
                (left, skipped) = (left - take, skipped + relas.len() - take);
                for r in &relas[..take] {
                    record(
                        r.r_offset(endian).into(),
                        r.r_type(endian, false).0,
                        r.r_sym(endian, false),
                    );
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => problems.push(format!("relocation section unreadable: {e}")),
        }
        match section.rel(endian, data) {
            Ok(Some((rels, _))) => {
                let take = rels.len().min(left);
                (left, skipped) = (left - take, skipped + rels.len() - take);
                for r in &rels[..take] {
                    record(
                        r.r_offset(endian).into(),
                        r.r_type(endian).0,
                        r.r_sym(endian),
                    );
                }
            }
            Ok(None) => {}
            Err(e) => problems.push(format!("relocation section unreadable: {e}")),
        }
    }
    if skipped > 0 {
        problems.push(format!(
            "{skipped} dynamic relocations not read: more than {MAX_ENTRIES} in all"
        ));
    }
    (out, counts)
}

pub(super) fn tls<Elf: FileHeader<Endian = Endianness>>(
    phdrs: &[Elf::ProgramHeader],
    endian: Endianness,
    counts: TlsCounts,
    static_tls_flag: bool,
) -> Tls {
    let segment = phdrs.iter().find(|p| p.p_type(endian) == elf::PT_TLS);
    let model = if segment.is_none() && counts.static_model == 0 && counts.dynamic_model == 0 {
        TlsModel::None
    } else if static_tls_flag || counts.static_model > 0 {
        TlsModel::InitialExec
    } else {
        TlsModel::Dynamic
    };
    Tls {
        size: segment.map(|p| p.p_memsz(endian).into()),
        align: segment.map(|p| p.p_align(endian).into()),
        init_size: segment.map(|p| p.p_filesz(endian).into()),
        static_relocations: counts.static_model,
        dynamic_relocations: counts.dynamic_model,
        model,
    }
}
