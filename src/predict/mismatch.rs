//! Why a package hash differs between the binary that bound the package first (the host,
//! or an earlier plugin in the same process) and the plugin being opened: the toolchain,
//! a build setting that reaches that package, a module version, or the module's source.
//! Only causes that change the hash of the named package are reported.

use std::path::{Path, PathBuf};

use crate::elf::Artifact;
use crate::findings::Code;
use crate::golang::sources::{FileTable, is_local_path};
use crate::golang::{GoFacts, Module, is_std_package, module_of};

/// One side of the comparison: a binary's Go facts and, when available, its file (for
/// the source directories recorded in its `pclntab`).
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub facts: &'a GoFacts,
    pub artifact: Option<&'a Artifact>,
}

pub struct MismatchCause {
    pub code: Code,
    /// What differs, in one clause ("-trimpath: plugin true, host unset").
    pub summary: String,
    /// The specific fix, when the cause dictates one (else the caller rebuilds like the host).
    pub fix: Option<String>,
}

/// Settings that change the compiled form of every package they apply to.
const EVERY_PACKAGE: &[&str] = &["-trimpath", "-race", "-msan", "-asan", "GOEXPERIMENT"];
/// Per-package flags (`-gcflags=[pattern=]args`): they reach a package only when their
/// pattern matches it; without a pattern they apply to the packages named on the command
/// line (the main package), which host and plugin never share.
const PER_PACKAGE: &[&str] = &["-gcflags", "-asmflags"];

/// Why `package` hashes differently in `first` (who bound it) and `plugin`; `first_name`
/// names the first side in the text ("host", or an earlier plugin's file name).
pub fn explain(first: Side, first_name: &str, plugin: Side, package: &str) -> MismatchCause {
    let (a, b) = (first.facts, plugin.facts);
    if a.version != b.version {
        return MismatchCause {
            code: Code::ToolchainPatchSkew,
            summary: format!("toolchain {} vs {first_name}'s {}", b.version, a.version),
            fix: None,
        };
    }
    let differing = settings_reaching(a, b, package, first_name);
    if !differing.is_empty() {
        return MismatchCause {
            code: Code::BuildSettingSkew,
            summary: differing.join(", "),
            fix: None,
        };
    }
    if let Some(cause) = module_difference(first, first_name, plugin, package) {
        return cause;
    }
    MismatchCause {
        code: Code::PackageMismatch,
        summary: format!(
            "same toolchain, settings and module versions in build info; the source of package {package} differs (a local edit, or a replaced module whose content build info cannot show)"
        ),
        fix: Some(format!(
            "build the plugin from exactly the source of {package} that the {first_name} was built from (same module version and directory; `plugctl build --host HOST` aligns them)"
        )),
    }
}

/// The settings that differ between `a` and `b` *for `package`*, described.
fn settings_reaching(a: &GoFacts, b: &GoFacts, package: &str, a_name: &str) -> Vec<String> {
    let describe = |key: &str, av: Option<&str>, bv: Option<&str>| {
        format!(
            "{key}: plugin {}, {a_name} {}",
            bv.unwrap_or("unset"),
            av.unwrap_or("unset")
        )
    };
    let mut out = Vec::new();
    for key in EVERY_PACKAGE {
        let (av, bv) = (a.setting(key), b.setting(key));
        if av != bv {
            out.push(describe(key, av, bv));
        }
    }
    for key in PER_PACKAGE {
        let (av, bv) = (a.setting(key), b.setting(key));
        if effective_flags(av, package) != effective_flags(bv, package) {
            out.push(describe(key, av, bv));
        }
    }
    let (av, bv) = (a.setting("-cover"), b.setting("-cover"));
    if av != bv && covered(a, package) | covered(b, package) {
        out.push(describe("-cover", av, bv));
    }
    out
}

/// The arguments a `-gcflags`-style setting passes when compiling `package`.
fn effective_flags<'v>(value: Option<&'v str>, package: &str) -> &'v str {
    let Some(value) = value else { return "" };
    match split_pattern(value) {
        Some((pattern, args)) if pattern_matches(pattern, package) => args,
        Some(_) => "",
        // No pattern: the packages named on the command line, i.e. the main package.
        None => "",
    }
}

/// `all=-N -l` → (`all`, `-N -l`); `-N -l` → None. A pattern never starts with `-`.
fn split_pattern(value: &str) -> Option<(&str, &str)> {
    if value.starts_with('-') {
        return None;
    }
    value.split_once('=')
}

/// `go help packages`: `all`, `std`, `cmd`, and import path patterns with `...`.
/// Relative patterns (`./...`) depend on the build directory, which build info does not
/// record: they are taken to reach every non-standard package (the conservative choice).
fn pattern_matches(pattern: &str, package: &str) -> bool {
    let std = is_std_package(package);
    match pattern {
        "all" => true,
        "std" => std,
        "cmd" => package == "cmd" || package.starts_with("cmd/"),
        p if p.starts_with('.') => !std,
        p => glob_matches(p, package),
    }
}

/// `...` matches any string (including `/`); `net/...` also matches `net` itself.
fn glob_matches(pattern: &str, package: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix("/...")
        && package == prefix
    {
        return true;
    }
    let mut parts = pattern.split("...");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = package.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    if parts.is_empty() {
        return rest.is_empty();
    }
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// `-cover` without `-coverpkg` instruments the packages of the main module.
fn covered(facts: &GoFacts, package: &str) -> bool {
    facts
        .main_module
        .as_ref()
        .is_some_and(|m| package == m.path || package.starts_with(&format!("{}/", m.path)))
}

/// The module that provides `package` in a build (a dependency or the main module).
fn owner<'f>(facts: &'f GoFacts, package: &str) -> Option<&'f Module> {
    module_of(facts.deps.iter().chain(facts.main_module.as_ref()), package)
}

fn describe_module(m: &Module) -> String {
    let mut text = format!("{}@{}", m.path, m.version);
    if let Some(r) = &m.replace {
        text.push_str(&format!(" => {} {}", r.path, r.version));
    }
    text
}

/// A module providing `package` whose version, checksum, replacement or source
/// directory differs between the two builds.
fn module_difference(
    first: Side,
    first_name: &str,
    plugin: Side,
    package: &str,
) -> Option<MismatchCause> {
    let (h, p) = (owner(first.facts, package)?, owner(plugin.facts, package)?);
    let (hd, pd) = (describe_module(h), describe_module(p));
    if hd != pd
        || h.sum != p.sum
        || h.replace.as_ref().map(|r| &r.sum) != p.replace.as_ref().map(|r| &r.sum)
    {
        let fix = match &h.replace {
            // A local directory: point at the very directory the first side compiled
            // (without -trimpath the directory is part of the hash), else its path as
            // its go.mod wrote it.
            Some(r) if is_local_path(&r.path) => match source_dir(first, h, package) {
                Some(dir) => format!(
                    "go mod edit -replace={}={} (the directory the {first_name} was built from), then rebuild the plugin",
                    h.path,
                    dir.display()
                ),
                None => format!(
                    "go mod edit -replace={}={} (the {first_name}'s replacement, relative to its module), then rebuild the plugin",
                    h.path, r.path
                ),
            },
            Some(r) => format!(
                "go mod edit -replace={}={}@{} (the {first_name}'s replacement), then rebuild the plugin",
                h.path, r.path, r.version
            ),
            None => format!(
                "go mod edit -require={}@{} && go mod tidy, then rebuild the plugin",
                h.path, h.version
            ),
        };
        return Some(MismatchCause {
            code: Code::ModuleSkew,
            summary: format!("module {pd} in the plugin, {hd} in the {first_name}"),
            fix: Some(fix),
        });
    }
    let first_dir = source_dir(first, h, package);
    let plugin_dir = source_dir(plugin, p, package);
    let (summary, fix) = match (&first_dir, &plugin_dir) {
        (Some(fdir), Some(pdir)) if fdir != pdir => (
            format!(
                "module {hd} is the same in build info, but the {first_name} compiled it from {} and the plugin from {}: without -trimpath the directory is part of every package hash",
                fdir.display(),
                pdir.display()
            ),
            format!(
                "build the plugin with {} taken from {} (go mod edit -replace={}={}), or build both with -trimpath",
                h.path,
                fdir.display(),
                h.path,
                fdir.display()
            ),
        ),
        (Some(fdir), _) => (
            format!(
                "module {hd} is the same in build info; its source differs from the {first_name}'s, which was compiled from {}",
                fdir.display()
            ),
            format!(
                "build the plugin with {} taken from {} (go mod edit -replace={}={})",
                h.path,
                fdir.display(),
                h.path,
                fdir.display()
            ),
        ),
        _ if h.replace.is_some() => (
            format!(
                "module {hd} is replaced in both builds; its source differs (build info cannot show a replacement's content, and the {first_name} was built with -trimpath, so its directory is not recorded)"
            ),
            format!(
                "point the plugin's replace of {} at exactly the source the {first_name} was built from (`plugctl build --host HOST --host-src DIR`)",
                h.path
            ),
        ),
        _ => return None,
    };
    Some(MismatchCause {
        code: Code::ModuleSkew,
        summary,
        fix: Some(fix),
    })
}

/// The directory a binary compiled `module` from, read from its `pclntab` file names
/// (absolute only without `-trimpath`).
fn source_dir(side: Side, module: &Module, package: &str) -> Option<PathBuf> {
    let table = FileTable::read(side.artifact?);
    if !table.has_absolute_paths() {
        return None;
    }
    let replacement = module.replace.as_ref().map(|r| r.path.as_str());
    table.module_dir(&module.path, &[package], replacement)
}

/// The directory of a plugin's main package, from its `pclntab` (non-trimpath builds),
/// for a `go build` command the user can run as printed.
pub fn main_package_dir(facts: &GoFacts, artifact: Option<&Artifact>) -> Option<PathBuf> {
    let table = FileTable::read(artifact?);
    let module = facts.main_module.as_ref()?;
    let package = facts.main_path.as_deref()?;
    let root = table.main_module_dir(&module.path, &[package], &[])?;
    let sub = package
        .strip_prefix(&module.path)
        .unwrap_or("")
        .trim_start_matches('/');
    Some(if sub.is_empty() {
        root
    } else {
        Path::new(&root).join(sub)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_package_flags_reach_only_matching_packages() {
        assert_eq!(effective_flags(Some("all=-N -l"), "internal/abi"), "-N -l");
        assert_eq!(effective_flags(Some("-N -l"), "internal/abi"), "");
        assert_eq!(effective_flags(Some("std=-B"), "example.com/x"), "");
        assert_eq!(effective_flags(Some("std=-B"), "net/http"), "-B");
        assert_eq!(
            effective_flags(Some("example.com/shared/...=-N"), "example.com/shared"),
            "-N"
        );
        assert_eq!(
            effective_flags(Some("example.com/.../x=-N"), "example.com/a/b/x"),
            "-N"
        );
        assert_eq!(
            effective_flags(Some("example.com/a=-N"), "example.com/ab"),
            ""
        );
        assert_eq!(effective_flags(None, "net"), "");
    }

    fn with_settings(settings: &[(&str, &str)]) -> GoFacts {
        let mut facts = crate::gobuild::test_support::go_facts("go1.26.6");
        facts.settings = settings
            .iter()
            .map(|(key, value)| crate::golang::BuildSetting {
                key: key.to_string(),
                value: value.to_string(),
            })
            .collect();
        facts
    }

    #[test]
    fn only_settings_that_reach_the_package_are_causes() {
        let host = with_settings(&[]);
        // -trimpath reaches every package; -gcflags without a pattern only `main`.
        let plugin = with_settings(&[("-trimpath", "true"), ("-gcflags", "-N -l")]);
        let side = |facts| Side {
            facts,
            artifact: None,
        };
        let cause = explain(side(&host), "host", side(&plugin), "internal/goarch");
        assert_eq!(cause.code, Code::BuildSettingSkew);
        assert_eq!(cause.summary, "-trimpath: plugin true, host unset");
        // With a pattern that covers the package, -gcflags is a cause too.
        let plugin = with_settings(&[("-gcflags", "all=-N -l")]);
        let cause = explain(side(&host), "host", side(&plugin), "internal/abi");
        assert_eq!(cause.summary, "-gcflags: plugin all=-N -l, host unset");
    }

    #[test]
    fn standard_library_is_told_by_the_first_element() {
        assert!(is_std_package("internal/goarch"));
        assert!(!is_std_package("example.com/shared"));
    }
}
