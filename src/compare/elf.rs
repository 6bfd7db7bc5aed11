//! The ELF side of a comparison: dynamic section, symbol versions, section sizes.

use std::collections::{BTreeMap, BTreeSet};

use crate::elf::Artifact;

use super::{FieldDiff, SectionDiff};

pub(super) fn dynamic_diff(a: &Artifact, b: &Artifact) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(" ")
        }
    };
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            out.push(FieldDiff {
                field: name.into(),
                a: x,
                b: y,
            });
        }
    };
    field("NEEDED", list(&a.dynamic.needed), list(&b.dynamic.needed));
    field(
        "SONAME",
        a.dynamic.soname.clone().unwrap_or_default(),
        b.dynamic.soname.clone().unwrap_or_default(),
    );
    field(
        "RPATH",
        a.dynamic.rpath.join(":"),
        b.dynamic.rpath.join(":"),
    );
    field(
        "RUNPATH",
        a.dynamic.runpath.join(":"),
        b.dynamic.runpath.join(":"),
    );
    field(
        "FLAGS",
        list(&a.dynamic.flag_names),
        list(&b.dynamic.flag_names),
    );
    field(
        "interpreter",
        a.identity.interpreter.clone().unwrap_or_default(),
        b.identity.interpreter.clone().unwrap_or_default(),
    );
    field(
        "machine",
        a.identity.machine.clone(),
        b.identity.machine.clone(),
    );
    out
}

pub(super) fn version_diff(a: &Artifact, b: &Artifact) -> Vec<FieldDiff> {
    let needs = |x: &Artifact| -> BTreeSet<String> {
        x.versions
            .needed
            .iter()
            .flat_map(|n| {
                n.versions
                    .iter()
                    .map(move |v| format!("{}:{}", n.library, v.name))
            })
            .collect()
    };
    let (na, nb) = (needs(a), needs(b));
    let mut out = Vec::new();
    if na != nb {
        let only = |x: &BTreeSet<String>, y: &BTreeSet<String>| {
            let v: Vec<&String> = x.difference(y).collect();
            if v.is_empty() {
                "-".to_string()
            } else {
                v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
            }
        };
        out.push(FieldDiff {
            field: "needed versions only here".into(),
            a: only(&na, &nb),
            b: only(&nb, &na),
        });
    }
    if a.versions.max_glibc != b.versions.max_glibc {
        out.push(FieldDiff {
            field: "highest GLIBC".into(),
            a: a.versions.max_glibc.clone().unwrap_or_else(|| "-".into()),
            b: b.versions.max_glibc.clone().unwrap_or_else(|| "-".into()),
        });
    }
    out
}

pub(super) fn section_diff(a: &Artifact, b: &Artifact) -> Vec<SectionDiff> {
    let sizes = |x: &Artifact| -> BTreeMap<String, u64> {
        x.sections
            .iter()
            .filter(|s| !s.name.is_empty())
            .map(|s| (s.name.clone(), s.size))
            .collect()
    };
    let (sa, sb) = (sizes(a), sizes(b));
    let names: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
    let mut out: Vec<SectionDiff> = names
        .into_iter()
        .filter_map(|n| {
            let (x, y) = (sa.get(n).copied(), sb.get(n).copied());
            let delta = y.unwrap_or(0) as i64 - x.unwrap_or(0) as i64;
            (x != y).then(|| SectionDiff {
                name: n.clone(),
                a: x,
                b: y,
                delta,
            })
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.delta.unsigned_abs()));
    out.truncate(10);
    out
}
