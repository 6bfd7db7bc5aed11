//! Version checks (`_dl_check_map_versions`), the relocation order (`_dl_sort_maps`)
//! and symbol binding (`_dl_relocate_object`).

use std::collections::HashSet;

use super::{Failure, Loader, Note, OpenMode, Process, TlsUse};
use crate::elf::Binding;
use crate::elf::arch::RelocClass;
use crate::loader::symbols::Ref;
use crate::verdict::Outcome;

impl<'a> Loader<'a> {
    /// `_dl_check_map_versions` for one object (non-verbose: only hard failures).
    pub(super) fn check_versions(&self, p: &Process<'a>, m: usize) -> Result<(), Failure> {
        let Some(art) = p.maps[m].file.artifact() else {
            return Ok(());
        };
        for need in &art.versions.needed {
            let Some(provider) = find_needed(p, &need.library, m) else {
                continue;
            };
            let Some(provider_art) = p.maps[provider].file.artifact() else {
                continue;
            };
            if provider_art.versions.defined.is_empty()
                && provider_art.section(".gnu.version_d").is_none()
            {
                continue; // No version definitions: accepted silently.
            }
            let base = provider_art.dynamic.soname.as_deref();
            for v in &need.versions {
                if v.weak
                    || provider_art.versions.defined.iter().any(|d| d == &v.name)
                    || base == Some(v.name.as_str())
                {
                    continue;
                }
                let provider_name = p.maps[provider].dso_filename().to_string();
                let newest = newest_version(&provider_art.versions.defined, &v.name);
                return Err(Failure::new(
                    &provider_name,
                    &format!(
                        "version `{}' not found (required by {})",
                        v.name,
                        p.maps[m].dso_filename()
                    ),
                    0,
                    Outcome::VersionNotFound,
                    format!(
                        "{} needs {} from {}, which provides at most {}",
                        p.maps[m].dso_filename(),
                        v.name,
                        provider_name,
                        newest.unwrap_or_else(|| "other versions".into())
                    ),
                    format!(
                        "build against the {} found here, or run where {} provides {}",
                        need.library, need.library, v.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `_dl_relocate_object`: the lookups and static TLS allocations that can fail.
    pub(super) fn relocate(
        &self,
        p: &mut Process<'a>,
        m: usize,
        scope: &[usize],
        mode: OpenMode,
        tls: &mut TlsUse,
        notes: &mut Vec<Note>,
    ) -> Result<(), Failure> {
        let file = p.maps[m].file.clone();
        let Some(art) = file.artifact() else {
            return Ok(());
        };
        let lazy = mode.lazy && !self.env.bind_now && !file.bind_now;
        let classes = &self.reloc_classes;
        // TPOFF relocations against the null symbol (the object's own TLS) come first in
        // .rela.dyn (sorted right after the relative ones).
        let named_tpoff = art
            .relocations
            .iter()
            .filter(|r| classes.of(r.r_type) == RelocClass::Tpoff)
            .count();
        if art.tls.static_relocations > named_tpoff {
            self.static_tls(p, m, tls)?;
        }
        let mut lazy_undefined = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        for r in &art.relocations {
            let class = classes.of(r.r_type);
            if class == RelocClass::NoSymbol {
                continue;
            }
            let Some(sym) = art.relocation_symbol(r) else {
                continue;
            };
            let tls_reloc = matches!(class, RelocClass::Tpoff | RelocClass::Tlsdesc);
            let target = if sym.binding == Binding::Local {
                Some(m)
            } else if sym.defined && !tls_reloc {
                continue; // Resolves to itself at worst: cannot fail.
            } else {
                let wanted = Ref {
                    name: &sym.name,
                    version: sym.version_name(),
                };
                let copy = class == RelocClass::Copy;
                // The object itself: its own dynsym entry for this name is the answer
                // (a linker writes one entry per unversioned name), no index needed.
                let found = scope
                    .iter()
                    .copied()
                    .filter(|&s| !(copy && p.maps[s].is_main))
                    .find(|&s| {
                        if s == m && sym.version.is_none() {
                            sym.defined
                        } else {
                            p.maps[s].file.provides(wanted)
                        }
                    });
                match found {
                    Some(s) => Some(s),
                    None if sym.defined => Some(m),
                    None if sym.binding == Binding::Weak => None,
                    None if scope.iter().any(|&s| !p.maps[s].file.syms().known) => {
                        unknown.push(sym.name.to_string());
                        None
                    }
                    None if lazy && class == RelocClass::JumpSlot => {
                        lazy_undefined.push(sym.name.to_string());
                        None
                    }
                    None => {
                        let version = sym
                            .version_name()
                            .map(|v| format!(", version {v}"))
                            .unwrap_or_default();
                        let who = p.maps[m].dso_filename().to_string();
                        return Err(Failure::new(
                            &who,
                            &format!("undefined symbol: {}{version}", sym.name),
                            0,
                            Outcome::UndefinedSymbol,
                            format!(
                                "{who} uses {} but no object in its lookup scope (the host, its libraries{}, and this object's own dependencies) defines it",
                                sym.name,
                                if mode.global {
                                    ", RTLD_GLOBAL plugins"
                                } else {
                                    ""
                                }
                            ),
                            format!(
                                "link {who} against the library that defines {} (so it is in DT_NEEDED), or load that library first with RTLD_GLOBAL",
                                sym.name
                            ),
                        ));
                    }
                }
            };
            if lazy && class == RelocClass::JumpSlot {
                continue;
            }
            let Some(target) = target else { continue };
            if class == RelocClass::Tpoff {
                self.static_tls(p, target, tls)?;
            } else if class == RelocClass::Tlsdesc
                && !p.maps[target].static_tls
                && let Some(block) = p.maps[target].file.tls_block()
                && let Some(used) = p.tls.allocate(block, true)
            {
                // TLS descriptors take optional static TLS while it lasts, else dynamic.
                p.maps[target].static_tls = true;
                tls.static_blocks
                    .push((p.maps[target].l_name.clone(), used));
            }
        }
        if !unknown.is_empty() {
            unknown.dedup();
            notes.push(Note {
                code: "symbols-unknown",
                object: p.maps[m].l_name.clone(),
                message: format!(
                    "not checked because some objects in scope have no readable symbol table: {}",
                    unknown.join(", ")
                ),
            });
        }
        if !lazy_undefined.is_empty() {
            notes.push(Note {
                code: "lazy-undefined",
                object: p.maps[m].l_name.clone(),
                message: format!(
                    "loads only because of RTLD_LAZY: calling {} will abort the process with \"symbol lookup error\"",
                    lazy_undefined.join(", ")
                ),
            });
        }
        Ok(())
    }
}

/// `find_needed` of `dl-version.c`: a loaded object with that name, else one in `m`'s search list.
fn find_needed(p: &Process<'_>, name: &str, m: usize) -> Option<usize> {
    p.maps
        .iter()
        .position(|x| x.name_matches(name))
        .or_else(|| {
            let root = p.maps[m].root;
            p.maps[root]
                .searchlist
                .iter()
                .copied()
                .find(|&x| p.maps[x].name_matches(name))
        })
}

/// The newest version of the same family (`FOO_` prefix) an object defines.
fn newest_version(defined: &[String], wanted: &str) -> Option<String> {
    let prefix = wanted.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    defined
        .iter()
        .filter(|d| d.starts_with(prefix))
        .max_by_key(|d| crate::elf::parse_dotted(&d[prefix.len()..]))
        .cloned()
}

/// `_dl_sort_maps_dfs` on the search list, read backwards as `dl_open_worker_begin`
/// relocates: the DFS post-order, dependencies first, the root last.
pub(super) fn relocation_order(p: &Process<'_>, searchlist: &[usize]) -> Vec<usize> {
    fn dfs(p: &Process<'_>, m: usize, visited: &mut HashSet<usize>, out: &mut Vec<usize>) {
        if !visited.insert(m) {
            return;
        }
        for &d in &p.maps[m].deps {
            if !visited.contains(&d) && !p.maps[d].is_main {
                dfs(p, d, visited, out);
            }
        }
        out.push(m);
    }
    let mut visited = HashSet::new();
    let mut out = Vec::new();
    // The root's own l_initfini is not set yet while sorting: it has no edges here.
    let root = searchlist.first().copied();
    for &m in searchlist.iter().rev() {
        if Some(m) == root {
            if visited.insert(m) {
                out.push(m);
            }
        } else {
            dfs(p, m, &mut visited, &mut out);
        }
    }
    out
}
