//! Symbol lookup as `elf/dl-lookup.c` (`do_lookup_x`, `check_match`) does it: which
//! definitions an object offers, and whether one satisfies a (possibly versioned)
//! reference.

use std::collections::HashMap;

use crate::elf::{Artifact, SymbolKind};

/// One exported definition of a name.
#[derive(Debug, Clone)]
struct Def {
    version: Option<String>,
    /// The version index class: 0 for `VER_NDX_LOCAL`/`VER_NDX_GLOBAL` (unversioned), 2 for
    /// the first version the object defines, 3 for any later one (`check_match` treats
    /// index 2 as the default for unversioned references).
    class: u8,
    /// `name@VER` rather than `name@@VER`.
    hidden: bool,
}

/// The definitions of one object, by name.
#[derive(Debug, Default)]
pub struct SymIndex {
    defs: HashMap<String, Vec<Def>>,
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

impl SymIndex {
    pub fn build(artifact: &Artifact) -> SymIndex {
        let has_versym = artifact.section(".gnu.version").is_some();
        let known = !artifact.sections.is_empty() && artifact.section(".dynsym").is_some();
        let mut defs: HashMap<String, Vec<Def>> = HashMap::new();
        for sym in &artifact.symbols {
            if !sym.is_export() || sym.name.is_empty() {
                continue;
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
            // check_match: a zero value is "no definition" except for TLS (and SHN_ABS,
            // which the model does not record; such symbols are version nodes in practice).
            if !allowed || (sym.value == 0 && sym.kind != SymbolKind::Tls) {
                continue;
            }
            let class = match &sym.version {
                None => 0,
                Some(v) => match artifact.versions.defined.iter().position(|d| d == v) {
                    Some(0) => 2,
                    _ => 3,
                },
            };
            defs.entry(sym.name.clone()).or_default().push(Def {
                version: sym.version.clone(),
                class,
                hidden: sym.version_hidden,
            });
        }
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

    /// Whether this object has a definition `check_match` accepts for `r`.
    pub fn provides(&self, r: Ref<'_>) -> bool {
        let Some(defs) = self.defs.get(r.name) else {
            return false;
        };
        if !self.has_versym {
            return true;
        }
        match r.version {
            // A versioned reference takes the same version, or an unversioned default.
            Some(want) => defs
                .iter()
                .any(|d| d.version.as_deref() == Some(want) || (d.class == 0 && !d.hidden)),
            // An unversioned reference takes an unversioned or base-version definition, or
            // the only non-hidden versioned one.
            None => {
                defs.iter().any(|d| d.class < 3)
                    || defs.iter().filter(|d| d.class == 3 && !d.hidden).count() == 1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(defs: &[(&str, Option<&str>, u8, bool)]) -> SymIndex {
        let mut map: HashMap<String, Vec<Def>> = HashMap::new();
        for (name, version, class, hidden) in defs {
            map.entry(name.to_string()).or_default().push(Def {
                version: version.map(str::to_string),
                class: *class,
                hidden: *hidden,
            });
        }
        SymIndex {
            defs: map,
            has_versym: true,
            known: true,
        }
    }

    #[test]
    fn versioned_reference_needs_that_version_or_an_unversioned_default() {
        let idx = index(&[("f", Some("FOO_1.0"), 2, false), ("g", None, 0, false)]);
        assert!(idx.provides(Ref {
            name: "f",
            version: Some("FOO_1.0")
        }));
        assert!(!idx.provides(Ref {
            name: "f",
            version: Some("FOO_2.0")
        }));
        assert!(idx.provides(Ref {
            name: "g",
            version: Some("FOO_2.0")
        }));
        assert!(!idx.provides(Ref {
            name: "h",
            version: None
        }));
    }

    #[test]
    fn unversioned_reference_takes_the_only_versioned_definition() {
        let one = index(&[("f", Some("V2"), 3, false)]);
        assert!(one.provides(Ref {
            name: "f",
            version: None
        }));
        let two = index(&[("f", Some("V2"), 3, false), ("f", Some("V3"), 3, false)]);
        assert!(!two.provides(Ref {
            name: "f",
            version: None
        }));
        let hidden = index(&[("f", Some("V2"), 3, true)]);
        assert!(!hidden.provides(Ref {
            name: "f",
            version: None
        }));
    }
}
