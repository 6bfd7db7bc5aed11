//! Findings that need nothing but the artifact itself (no host).

use crate::elf::{Artifact, Libc, TlsModel, parse_dotted};
use crate::findings::{Code, Finding};

/// What this machine (or the target sysroot) provides, for checks that compare against it.
#[derive(Debug, Clone, Default)]
pub struct TargetFacts {
    /// The highest `GLIBC_x.y` version the target's libc.so.6 defines, e.g. `[2, 36]`.
    pub glibc: Option<Vec<u32>>,
}

pub fn findings(artifact: &Artifact, target: &TargetFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    let path = artifact.path.display();
    if !artifact.problems.is_empty() {
        out.push(Finding::new(
            Code::PartlyUnreadable,
            format!("{path}: {}", artifact.problems.join("; ")),
            "facts that depend on these parts are missing from this report",
            "rebuild or re-transfer the file",
        ));
    }
    if artifact.segments.exec_stack {
        let observed = if artifact.segments.has_gnu_stack {
            "PT_GNU_STACK has PF_X"
        } else {
            "no PT_GNU_STACK segment (the default is an executable stack)"
        };
        out.push(Finding::new(
            Code::ExecutableStack,
            format!("{path}: {observed}"),
            "glibc ≤ 2.40 makes all thread stacks executable on dlopen; glibc ≥ 2.41 refuses to load it",
            "link with -Wl,-z,noexecstack",
        ));
    }
    if let (Some(need), Some(have)) = (&artifact.versions.max_glibc, &target.glibc) {
        let need_key = parse_dotted(need.trim_start_matches("GLIBC_"));
        if need_key > *have {
            let have_text = have
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(".");
            out.push(Finding::new(
                Code::GlibcTooNew,
                format!("{path}: requires {need}, this system's glibc is {have_text}"),
                format!("ld.so will refuse it: version `{need}' not found (required by {path})"),
                format!("build against glibc {have_text} or older (a build container of the target distribution)"),
            ));
        }
    }
    if artifact.tls.model == TlsModel::InitialExec {
        let size = artifact.tls.size.unwrap_or(0);
        out.push(Finding::new(
            Code::StaticTlsUser,
            format!("{path}: initial-exec TLS, {size} bytes (DF_STATIC_TLS or TPOFF relocations)"),
            "dlopened after start-up, the block must fit in the small static TLS surplus (~1.6 KB on glibc 2.36)",
            "if loading fails: -ftls-model=global-dynamic, or GLIBC_TUNABLES=glibc.rtld.optional_static_tls=BYTES",
        ));
    }
    if artifact.identity.libc == Libc::Musl {
        out.push(Finding::new(
            Code::MuslObject,
            format!("{path}: linked against musl libc"),
            "a glibc process cannot load it (glibc finds its own libc.so linker script: invalid ELF header)",
            "build against glibc, or run the host on musl",
        ));
    }
    out
}
