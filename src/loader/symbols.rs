//! Symbol lookup as `elf/dl-lookup.c` (`do_lookup_x`, `check_match`) does it: which
//! definitions an object offers, and whether one satisfies a (possibly versioned)
//! reference.

use std::hash::{Hash, Hasher};

use crate::elf::{Artifact, DynSymbol, SymbolKind};

/// The definitions of one object, by name: `(hash of the name, index into
/// `artifact.symbols`)`, sorted by hash. Built without copying a single name, so indexing
/// a Go plugin's 30,000+ exports costs one allocation and one sort; names are compared
/// against the artifact at lookup time.
#[derive(Debug, Default)]
pub struct SymIndex {
    defs: Vec<(u64, u32)>,
    /// The object has a `.gnu.version` table; without one any definition matches.
    has_versym: bool,
    /// False when the object's symbol table could not be read (no section headers):
    /// lookups in it are then unknowable and never reported as failures.
    pub known: bool,
}

/// A reference to resolve: the name, and the version it asks for (from `.gnu.version_r`).
#[derive(Debug, Clone, Copy)]
pub struct Ref<'s> {
    pub name: &'s str,
    pub version: Option<&'s str>,
}

fn name_hash(name: &str) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    name.hash(&mut hasher);
    hasher.finish()
}

/// What `check_match` needs of one definition.
struct Def<'a> {
    version: Option<&'a str>,
    /// The version index class: 0 for `VER_NDX_LOCAL`/`VER_NDX_GLOBAL` (unversioned), 2 for
    /// the first version the object defines, 3 for any later one (`check_match` treats
    /// index 2 as the default for unversioned references).
    class: u8,
    /// `name@VER` rather than `name@@VER`.
    hidden: bool,
}

impl<'a> Def<'a> {
    fn of(artifact: &'a Artifact, sym: &'a DynSymbol) -> Def<'a> {
        let class = match &sym.version {
            None => 0,
            Some(v) => match artifact.versions.defined.iter().position(|d| d == v) {
                Some(0) => 2,
                _ => 3,
            },
        };
        Def {
            version: sym.version.as_deref(),
            class,
            hidden: sym.version_hidden,
        }
    }
}

impl SymIndex {
    pub fn build(artifact: &Artifact) -> SymIndex {
        let has_versym = artifact.section(".gnu.version").is_some();
        let known = !artifact.sections.is_empty() && artifact.section(".dynsym").is_some();
        let mut defs: Vec<(u64, u32)> = artifact
            .symbols
            .iter()
            .enumerate()
            .filter(|(_, sym)| is_definition(sym))
            .filter_map(|(i, sym)| Some((name_hash(&sym.name), u32::try_from(i).ok()?)))
            .collect();
        defs.sort_unstable();
        SymIndex {
            defs,
            has_versym,
            known,
        }
    }

    /// An object without a symbol table (`known`: whether that is certain).
    pub fn empty(known: bool) -> SymIndex {
        SymIndex {
            known,
            ..SymIndex::default()
        }
    }

    /// Whether `artifact` (the object this index was built from) has a definition
    /// `check_match` accepts for `r`.
    pub fn provides(&self, artifact: &Artifact, r: Ref<'_>) -> bool {
        let hash = name_hash(r.name);
        let start = self.defs.partition_point(|(h, _)| *h < hash);
        let defs: Vec<Def> = self.defs[start..]
            .iter()
            .take_while(|(h, _)| *h == hash)
            .filter_map(|(_, i)| artifact.symbols.get(*i as usize))
            .filter(|sym| sym.name == r.name)
            .map(|sym| Def::of(artifact, sym))
            .collect();
        accepts(&defs, self.has_versym, r.version)
    }
}

/// `check_match`'s version rule over the definitions of one name.
fn accepts(defs: &[Def], has_versym: bool, version: Option<&str>) -> bool {
    if defs.is_empty() {
        return false;
    }
    if !has_versym {
        return true;
    }
    {
        match version {
            // A versioned reference takes the same version, or an unversioned default.
            Some(want) => defs
                .iter()
                .any(|d| d.version == Some(want) || (d.class == 0 && !d.hidden)),
            // An unversioned reference takes an unversioned or base-version definition, or
            // the only non-hidden versioned one.
            None => {
                defs.iter().any(|d| d.class < 3)
                    || defs.iter().filter(|d| d.class == 3 && !d.hidden).count() == 1
            }
        }
    }
}

/// A symbol ld.so can bind a reference to.
fn is_definition(sym: &DynSymbol) -> bool {
    if !sym.is_export() || sym.name.is_empty() {
        return false;
    }
    let allowed = matches!(
        sym.kind,
        SymbolKind::NoType
            | SymbolKind::Object
            | SymbolKind::Func
            | SymbolKind::Common
            | SymbolKind::Tls
            | SymbolKind::Ifunc
    );
    // check_match: a zero value is "no definition" except for TLS (and SHN_ABS, which the
    // model does not record; such symbols are version nodes in practice).
    allowed && (sym.value != 0 || sym.kind == SymbolKind::Tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs<'a>(list: &[(Option<&'a str>, u8, bool)]) -> Vec<Def<'a>> {
        list.iter()
            .map(|&(version, class, hidden)| Def {
                version,
                class,
                hidden,
            })
            .collect()
    }

    #[test]
    fn versioned_reference_needs_that_version_or_an_unversioned_default() {
        let f = defs(&[(Some("FOO_1.0"), 2, false)]);
        let g = defs(&[(None, 0, false)]);
        assert!(accepts(&f, true, Some("FOO_1.0")));
        assert!(!accepts(&f, true, Some("FOO_2.0")));
        assert!(accepts(&g, true, Some("FOO_2.0")));
        assert!(!accepts(&[], true, None));
    }

    #[test]
    fn unversioned_reference_takes_the_only_versioned_definition() {
        assert!(accepts(&defs(&[(Some("V2"), 3, false)]), true, None));
        assert!(!accepts(
            &defs(&[(Some("V2"), 3, false), (Some("V3"), 3, false)]),
            true,
            None
        ));
        assert!(!accepts(&defs(&[(Some("V2"), 3, true)]), true, None));
    }

    #[test]
    fn an_object_without_versions_accepts_any_definition() {
        assert!(accepts(&defs(&[(Some("V2"), 3, true)]), false, Some("V9")));
    }
}
