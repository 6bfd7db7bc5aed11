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
    /// The object's own `.gnu.hash` table, used instead of `defs` when it is readable:
    /// nothing to build, as ld.so does it.
    gnu: Option<GnuHash>,
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
        let class = match sym.version_name() {
            None => 0,
            Some(v) => match artifact.versions.defined.iter().position(|d| d == v) {
                Some(0) => 2,
                _ => 3,
            },
        };
        Def {
            version: sym.version_name(),
            class,
            hidden: sym.version_hidden,
        }
    }
}

/// `DT_GNU_HASH`, located in the artifact's bytes: buckets and chains (the Bloom filter
/// is only a shortcut and is skipped).
#[derive(Debug, Clone, Copy)]
struct GnuHash {
    nbuckets: u32,
    symoffset: u32,
    buckets: usize,
    chains: usize,
    /// Chain entries in the file (one per symbol from `symoffset` on).
    nchains: usize,
    big_endian: bool,
}

/// The 32-bit word at byte `at` of `bytes`, in the file's byte order.
fn word32(bytes: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(crate::elf::endian::uint(word, big_endian) as u32)
}

impl GnuHash {
    fn read(artifact: &Artifact) -> Option<GnuHash> {
        let section = artifact.section(".gnu.hash")?;
        let data = artifact.section_data(".gnu.hash")?;
        let big_endian = artifact.identity.endianness == crate::elf::Endianness::Big;
        let word = |at: usize| word32(data, at, big_endian);
        let (nbuckets, symoffset, bloom_size) = (word(0)?, word(4)?, word(8)?);
        let bloom_word = artifact.identity.class.pointer_size();
        let buckets = 16usize.checked_add((bloom_size as usize).checked_mul(bloom_word)?)?;
        let chains = buckets.checked_add((nbuckets as usize).checked_mul(4)?)?;
        let symbols = artifact.symbols.len() + 1;
        if nbuckets == 0 || chains > data.len() || symoffset as usize > symbols {
            return None;
        }
        let nchains = (data.len() - chains) / 4;
        if nchains < symbols - symoffset as usize {
            return None;
        }
        let base = usize::try_from(section.offset).ok()?;
        Some(GnuHash {
            nbuckets,
            symoffset,
            buckets: base + buckets,
            chains: base + chains,
            nchains,
            big_endian,
        })
    }

    fn word(&self, bytes: &[u8], at: usize) -> Option<u32> {
        word32(bytes, at, self.big_endian)
    }

    /// `.dynsym` indices (1-based, like ELF) whose name hash is `dl_new_hash(name)`.
    fn candidates(&self, bytes: &[u8], name: &str) -> Vec<usize> {
        let hash = name.bytes().fold(5381u32, |h, c| {
            h.wrapping_mul(33).wrapping_add(u32::from(c))
        });
        let mut out = Vec::new();
        let bucket = (hash % self.nbuckets) as usize;
        let Some(mut index) = self.word(bytes, self.buckets + 4 * bucket) else {
            return out;
        };
        if index < self.symoffset {
            return out;
        }
        loop {
            let chain = (index - self.symoffset) as usize;
            if chain >= self.nchains {
                break;
            }
            let Some(value) = self.word(bytes, self.chains + 4 * chain) else {
                break;
            };
            if value | 1 == hash | 1 {
                out.push(index as usize);
            }
            if value & 1 != 0 {
                break;
            }
            index += 1;
        }
        out
    }
}

impl SymIndex {
    pub fn build(artifact: &Artifact) -> SymIndex {
        let has_versym = artifact.section(".gnu.version").is_some();
        let known = !artifact.sections.is_empty() && artifact.section(".dynsym").is_some();
        if let Some(gnu) = GnuHash::read(artifact) {
            return SymIndex {
                defs: Vec::new(),
                gnu: Some(gnu),
                has_versym,
                known,
            };
        }
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
            gnu: None,
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
        if let Some(gnu) = &self.gnu {
            let defs: Vec<Def> = gnu
                .candidates(artifact.bytes(), r.name)
                .into_iter()
                .filter_map(|i| artifact.symbols.get(i.checked_sub(1)?))
                .filter(|sym| sym.name == r.name && is_definition(sym))
                .map(|sym| Def::of(artifact, sym))
                .collect();
            return accepts(&defs, self.has_versym, r.version);
        }
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
