//! The one-paragraph verdict of a comparison: which difference explains the others.

use super::{Diff, Side};

pub(super) fn verdict(diff: &Diff, a: &Side, b: &Side) -> String {
    let cross = diff.a.role != diff.b.role;
    if diff.identical_bytes {
        return "identical files".into();
    }
    let mut parts: Vec<String> = Vec::new();
    if a.artifact.identity.machine_id != b.artifact.identity.machine_id {
        parts.push(format!(
            "different machines: {} vs {}",
            a.artifact.identity.machine, b.artifact.identity.machine
        ));
    }
    parts.extend(
        diff.explanations
            .iter()
            .filter(|e| e.packages > 0)
            .map(|e| e.text.clone()),
    );
    if diff.packages.differing.is_empty() {
        if let Some(v) = &diff.go_version {
            parts.push(format!(
                "Go version differs: {} vs {}",
                v.a.as_deref().unwrap_or("not Go"),
                v.b.as_deref().unwrap_or("not Go")
            ));
        }
        for s in diff.settings.iter().filter(|s| s.significant) {
            parts.push(format!(
                "{} differs: {} {}, {} {}",
                s.key,
                diff.a.label,
                s.a.as_deref().unwrap_or("unset"),
                diff.b.label,
                s.b.as_deref().unwrap_or("unset")
            ));
        }
        for m in diff.modules.iter().filter(|m| m.significant) {
            parts.push(format!("module {} differs", m.path));
        }
        if !diff.source_dirs.is_empty() && !cross {
            let pairs = diff.source_dir_pairs();
            let trim = a.go.as_ref().and_then(|g| g.setting("-trimpath")) == Some("true");
            parts.push(format!(
                "recorded source directories differ ({pairs}){}",
                if trim { "" } else { ": -trimpath is unset, so the build directory is written into the binary (file names, DWARF)" }
            ));
        }
        if let Some(p) = diff.plugin_path.as_ref().filter(|_| !cross) {
            parts.push(format!(
                "plugin path differs: {} vs {}",
                p.a.as_deref().unwrap_or("none"),
                p.b.as_deref().unwrap_or("none")
            ));
        }
    }
    if let Some(first) = &diff.first_mismatch {
        parts.push(format!("plugin.Open would fail: {first}"));
    }
    if cross && diff.same_build_facts {
        return format!(
            "no difference that matters for loading: same toolchain, and the {} packages {} and {} share have equal hashes{}",
            diff.packages.shared,
            diff.a.label,
            diff.b.label,
            if diff
                .settings
                .iter()
                .any(|s| s.key == "-tags" || s.affects_hashes)
            {
                " (the settings that differ change none of them)"
            } else {
                ""
            }
        );
    }
    if parts.is_empty() || diff.same_build_facts {
        let mut text = "same build facts".to_string();
        if !diff.sections.is_empty() {
            text.push_str(&format!(
                "; the bytes differ ({} section(s) differ in size)",
                diff.sections.len()
            ));
        } else {
            text.push_str("; the bytes differ");
        }
        if !parts.is_empty() {
            text.push_str(&format!("; {}", parts.join("; ")));
        }
        return text;
    }
    parts.join("; ")
}
