//! The Go side of a comparison: toolchain, build settings, modules, the package hash
//! table and recorded source directories, with the cause of each package difference.

use std::collections::{BTreeMap, BTreeSet};

use crate::golang::sources::FileTable;
use crate::golang::{self, GoFacts, GoRole, Module};

use super::{
    Change, Diff, DirChange, Explanation, HASH_SETTINGS, ModuleDiff, PackageHashDiff, SettingDiff,
    Side,
};

fn normalized(key: &str, value: Option<&str>) -> Option<String> {
    match (key, value) {
        ("-trimpath" | "-race" | "-msan" | "-asan" | "-cover", Some("false")) => None,
        (_, Some(v)) => Some(v.to_string()),
        (_, None) => None,
    }
}

fn describe_module(m: &Module) -> String {
    let mut text = m.version.clone();
    if !m.sum.is_empty() {
        text.push_str(&format!(" {}", m.sum));
    }
    if let Some(r) = &m.replace {
        text.push_str(&format!(" => {}", r.path));
        if !r.version.is_empty() && r.version != "(devel)" {
            text.push_str(&format!(" {}", r.version));
        }
        if !r.sum.is_empty() {
            text.push_str(&format!(" {}", r.sum));
        }
    }
    text
}

pub(super) fn go_diff(
    diff: &mut Diff,
    ga: &GoFacts,
    gb: &GoFacts,
    a: &Side,
    b: &Side,
    cross: bool,
    labels: (&str, &str),
) {
    let (la, lb) = labels;
    if ga.version != gb.version {
        diff.go_version = Some(Change {
            a: Some(ga.version.clone()),
            b: Some(gb.version.clone()),
        });
    }
    // Settings, in A's order then B's.
    let mut keys: Vec<&str> = ga.settings.iter().map(|s| s.key.as_str()).collect();
    for s in &gb.settings {
        if !keys.contains(&s.key.as_str()) {
            keys.push(&s.key);
        }
    }
    for key in keys {
        let (va, vb) = (
            normalized(key, ga.setting(key)),
            normalized(key, gb.setting(key)),
        );
        if va == vb {
            continue;
        }
        let affects = HASH_SETTINGS.contains(&key);
        diff.settings.push(SettingDiff {
            key: key.to_string(),
            a: va,
            b: vb,
            affects_hashes: affects,
            // A host and a plugin differ in role-specific settings (-buildmode,
            // -ldflags, DefaultGODEBUG, vcs.*) by nature; only what changes hashes counts.
            significant: !cross || affects || key == "-tags",
        });
    }
    // Modules: the main modules and the deps, by path.
    let all = |g: &GoFacts| -> Vec<Module> {
        g.deps
            .iter()
            .cloned()
            .chain(g.main_module.clone())
            .collect()
    };
    let (ma, mb) = (all(ga), all(gb));
    let paths: BTreeSet<&str> = ma
        .iter()
        .chain(mb.iter())
        .map(|m| m.path.as_str())
        .collect();
    for path in paths {
        let (x, y) = (
            ma.iter().find(|m| m.path == path),
            mb.iter().find(|m| m.path == path),
        );
        let (dx, dy) = (x.map(describe_module), y.map(describe_module));
        if dx == dy {
            continue;
        }
        let in_both = x.is_some() && y.is_some();
        let is_main = |g: &GoFacts| g.main_module.as_ref().is_some_and(|m| m.path == path);
        diff.modules.push(ModuleDiff {
            path: path.to_string(),
            a: dx,
            b: dy,
            in_both,
            significant: if cross {
                in_both && !is_main(ga) && !is_main(gb)
            } else {
                true
            },
        });
    }
    if ga.plugin_path != gb.plugin_path {
        diff.plugin_path = Some(Change {
            a: ga.plugin_path.clone(),
            b: gb.plugin_path.clone(),
        });
    }
    // Recorded source file names.
    if a.files.has_absolute_paths() && b.files.has_absolute_paths() {
        let (ra, rb) = (a.files.goroot(), b.files.goroot());
        if ra != rb {
            diff.goroot = Some(Change {
                a: ra.map(|p| p.display().to_string()),
                b: rb.map(|p| p.display().to_string()),
            });
        }
        diff.source_dirs = dir_changes(&a.files, &b.files);
    }
    package_diff(diff, ga, gb, cross, (la, lb), &ma, &mb);
}

/// Pairs recorded file names that exist on one side only by their longest common
/// suffix, and reports the differing prefixes (GOROOT excluded).
fn dir_changes(a: &FileTable, b: &FileTable) -> Vec<DirChange> {
    let strip_root = |t: &FileTable| -> BTreeSet<String> {
        let root = t.goroot().map(|g| format!("{}/src/", g.display()));
        t.files
            .iter()
            .filter(|f| f.starts_with('/'))
            .filter(|f| root.as_deref().is_none_or(|r| !f.starts_with(r)))
            .cloned()
            .collect()
    };
    let (fa, fb) = (strip_root(a), strip_root(b));
    let only_a: Vec<&String> = fa.difference(&fb).collect();
    let only_b: Vec<&String> = fb.difference(&fa).collect();
    let mut changes: BTreeMap<(String, String), usize> = BTreeMap::new();
    for x in &only_a {
        let best = only_b
            .iter()
            .map(|y| (common_suffix_len(x, y), *y))
            .filter(|(n, _)| *n > 0)
            .max_by_key(|(n, _)| *n);
        if let Some((n, y)) = best {
            let (px, py) = (&x[..x.len() - n], &y[..y.len() - n]);
            *changes
                .entry((
                    px.trim_end_matches('/').to_string(),
                    py.trim_end_matches('/').to_string(),
                ))
                .or_default() += 1;
        }
    }
    changes
        .into_iter()
        .map(|((a, b), files)| DirChange { a, b, files })
        .collect()
}

/// Length of the common suffix of two paths, in bytes, at a `/` boundary.
fn common_suffix_len(a: &str, b: &str) -> usize {
    let n = a
        .bytes()
        .rev()
        .zip(b.bytes().rev())
        .take_while(|(x, y)| x == y)
        .count();
    if n == a.len() && n == b.len() {
        return n;
    }
    // Back up to just after a separator so whole elements are compared.
    let tail = &a[a.len() - n..];
    match tail.find('/') {
        Some(i) => n - i,
        None => 0,
    }
}

/// Whether a cause applies to a package (by import path).
type Applies = Box<dyn Fn(&str) -> bool>;

fn package_diff(
    diff: &mut Diff,
    ga: &GoFacts,
    gb: &GoFacts,
    cross: bool,
    labels: (&str, &str),
    ma: &[Module],
    mb: &[Module],
) {
    let mut differing = hash_differences(diff, ga, gb, labels);
    if cross && (ga.role == GoRole::Plugin) != (gb.role == GoRole::Plugin) {
        diff.first_mismatch = differing.first().map(|d| {
            format!(
                "plugin was built with a different version of package {}",
                d.path
            )
        });
    }
    let causes = causes(diff, ga, gb, labels, ma, mb);
    diff.explanations.extend(attribute(&mut differing, &causes));
    diff.packages.differing = differing;
    if cross {
        // Between a host and a plugin a module difference matters only through a shared
        // package whose hash it changes (a replacement path spelled differently does not).
        for m in diff.modules.iter_mut() {
            m.significant = m.in_both
                && diff.packages.differing.iter().any(|d| {
                    golang::module_of(ma, &d.path).is_some_and(|o| o.path == m.path)
                        || golang::module_of(mb, &d.path).is_some_and(|o| o.path == m.path)
                });
        }
    }
}

/// Compares the package hash tables in the order plugin.Open checks them (the plugin's
/// table order), counting shared and equal packages into `diff.packages`.
fn hash_differences(
    diff: &mut Diff,
    ga: &GoFacts,
    gb: &GoFacts,
    (la, lb): (&str, &str),
) -> Vec<PackageHashDiff> {
    let (ordered, other, a_is_ordered, order) = if ga.role == GoRole::Plugin {
        (
            ga,
            gb,
            true,
            format!("the check order of {la}'s plugin table"),
        )
    } else if gb.role == GoRole::Plugin {
        (
            gb,
            ga,
            false,
            format!("the check order of {lb}'s plugin table"),
        )
    } else {
        (ga, gb, true, "sorted by import path".to_string())
    };
    diff.packages.order = order;
    let mut differing = Vec::new();
    for p in &ordered.package_hashes {
        let Some(q) = other.package_hash(&p.path) else {
            continue;
        };
        diff.packages.shared += 1;
        if p.hash == q.hash {
            diff.packages.equal += 1;
        } else {
            let (x, y) = if a_is_ordered {
                (p.hex(), q.hex())
            } else {
                (q.hex(), p.hex())
            };
            differing.push(PackageHashDiff {
                path: p.path.clone(),
                a: x,
                b: y,
                cause: String::new(),
            });
        }
    }
    let shared = diff.packages.shared;
    diff.packages.only_a = ga.package_hashes.len().saturating_sub(shared);
    diff.packages.only_b = gb.package_hashes.len().saturating_sub(shared);
    differing
}

/// The build-info differences that can change package hashes, most specific first, each
/// with the packages it applies to.
fn causes(
    diff: &Diff,
    ga: &GoFacts,
    gb: &GoFacts,
    (la, lb): (&str, &str),
    ma: &[Module],
    mb: &[Module],
) -> Vec<(String, Applies)> {
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unset".into());
    let mut causes: Vec<(String, Applies)> = Vec::new();
    // A different minor release changes every package; a patch release only those that
    // changed (and what depends on them), so more specific causes come first.
    let minor = ga.minor() != gb.minor();
    let toolchain = diff.go_version.as_ref().map(|v| {
        format!(
            "toolchain differs: {la} {}, {lb} {}{}",
            shown(&v.a),
            shown(&v.b),
            if minor {
                " (different minor releases: the runtime's layouts differ too, a host crashes)"
            } else {
                ""
            }
        )
    });
    if let Some(text) = toolchain.clone().filter(|_| minor) {
        causes.push((text, Box::new(|_| true)));
    }
    let hash_settings: Vec<&SettingDiff> =
        diff.settings.iter().filter(|s| s.affects_hashes).collect();
    if !hash_settings.is_empty() {
        let text = hash_settings
            .iter()
            .map(|s| {
                format!(
                    "{} differs: {la} {}, {lb} {}",
                    s.key,
                    shown(&s.a),
                    shown(&s.b)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        causes.push((text, Box::new(|_| true)));
    }
    for m in diff.modules.iter().filter(|m| m.in_both) {
        let path = m.path.clone();
        let (ma, mb) = (ma.to_vec(), mb.to_vec());
        causes.push((
            format!(
                "module {} differs: {la} {}, {lb} {}",
                m.path,
                shown(&m.a),
                shown(&m.b)
            ),
            Box::new(move |pkg: &str| {
                golang::module_of(&ma, pkg).is_some_and(|o| o.path == path)
                    || golang::module_of(&mb, pkg).is_some_and(|o| o.path == path)
            }),
        ));
    }
    if !diff.source_dirs.is_empty() {
        let pairs = diff.source_dir_pairs();
        causes.push((
            format!(
                "source directories differ ({pairs}); without -trimpath the directory is recorded and hashed into each package compiled from it"
            ),
            // Standard-library packages come from GOROOT, whose path is not hashed.
            Box::new(|pkg: &str| !golang::is_std_package(pkg)),
        ));
    }
    if let Some(text) = toolchain.filter(|_| !minor) {
        causes.push((text, Box::new(|_| true)));
    }
    if let Some(tags) = diff.settings.iter().find(|s| s.key == "-tags") {
        causes.push((
            format!(
                "-tags differs: {la} {}, {lb} {} (packages with tag-constrained files)",
                shown(&tags.a),
                shown(&tags.b)
            ),
            Box::new(|_| true),
        ));
    }
    causes
}

/// Gives each differing hash the first cause that applies to its package, and explains
/// each cause by how many hashes it accounts for (what none accounts for: the source).
fn attribute(differing: &mut [PackageHashDiff], causes: &[(String, Applies)]) -> Vec<Explanation> {
    let mut counts: Vec<usize> = vec![0; causes.len()];
    let mut unexplained = 0;
    for d in differing.iter_mut() {
        match causes.iter().position(|(_, applies)| applies(&d.path)) {
            Some(i) => {
                counts[i] += 1;
                d.cause = causes[i].0.clone();
            }
            None => {
                unexplained += 1;
                d.cause = "no build-info difference: the package's source differs".into();
            }
        }
    }
    let mut explanations = Vec::new();
    for ((text, _), n) in causes.iter().zip(&counts).filter(|(_, n)| **n > 0) {
        let packages = if *n == 1 {
            "1 differing package hash".to_string()
        } else {
            format!("{n} differing package hashes")
        };
        explanations.push(Explanation {
            text: format!("{text} — explains {packages}"),
            packages: *n,
        });
    }
    if unexplained > 0 {
        explanations.push(Explanation {
            text: format!(
                "{unexplained} package hash(es) differ with no difference in toolchain, settings, modules or recorded paths: the source differs (a replaced module at the same version, a local edit)"
            ),
            packages: unexplained,
        });
    }
    explanations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_at_separators() {
        assert_eq!(
            common_suffix_len("/tmp/a/greeter/main.go", "/tmp/b/greeter/main.go"),
            "/greeter/main.go".len()
        );
        assert_eq!(common_suffix_len("/x/amain.go", "/y/bmain.go"), 0);
    }

    #[test]
    fn dir_changes_pair_files() {
        let a = FileTable {
            files: vec![
                "/go/src/runtime/proc.go".into(),
                "/tmp/a/greeter/main.go".into(),
            ],
        };
        let b = FileTable {
            files: vec![
                "/go2/src/runtime/proc.go".into(),
                "/tmp/b/greeter/main.go".into(),
            ],
        };
        let changes = dir_changes(&a, &b);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].a.as_str(), changes[0].b.as_str()),
            ("/tmp/a", "/tmp/b")
        );
    }
}
