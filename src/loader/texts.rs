//! The texts a real load fails with, and the one reader of them: a `dlerror()` text or a
//! Go `plugin.Open` error back to the [`Outcome`] the loader emulation predicts for the
//! same failure. Reality is read from what the loaders print (the runtime's children,
//! the matrix's own hosts), never from plugctl's prediction.
//!
//! Error formats (glibc 2.36 `dlerror()`), `%m` being `strerror(errno)`; each was seen
//! from a real dlopen (`agreement.rs`):
//!
//! | case | text | outcome |
//! |---|---|---|
//! | missing file or dependency | `<name as requested>: cannot open shared object file: %m` | missing-library |
//! | other-machine object, either byte order (skipped by the search) | same as missing: `...: No such file or directory` | wrong-machine when it names the plugin itself, else missing-library |
//! | 32-bit object (skipped, remembered) | `<name as requested>: wrong ELF class: ELFCLASS32` | wrong-class |
//! | not ELF / linker script (stops the search) | `<path opened>: invalid ELF header` | not-elf; wrong-libc for the `libc.so` linker script |
//! | shorter than 64 bytes | `<path opened>: file too short` | not-elf |
//! | program headers past the end | `<path opened>: cannot read file data` | truncated |
//! | a directory | `<path opened>: cannot read file data: Is a directory` | not-elf |
//! | other byte order with this `e_machine` (read in this order), bad OS ABI, padding | `<path opened>: ELF file data encoding not little-endian` (etc.) | wrong-machine |
//! | relocatable `.o` | `<path opened>: only ET_DYN and ET_EXEC can be loaded` | not-a-plugin |
//! | executable, PIE | `<name>: cannot dynamically load executable` / `... position-independent executable` | not-a-plugin |
//! | debug-info file | `<name>: object file has no dynamic section` | not-a-plugin |
//! | `-z nodlopen` | `<name>: shared object cannot be dlopen()ed` | not-a-plugin |
//! | version | ``<provider path>: version `V' not found (required by <requester path>)`` | version-not-found |
//! | x86 ISA level | `<path>: CPU ISA level is lower than required` | wrong-machine |
//! | symbol | `<requester path>: undefined symbol: <name>[, version <V>]` | undefined-symbol |
//! | static TLS | `<path of the TLS object>: cannot allocate memory in static TLS block` | static-tls |
//! | executable stack (glibc ≥ 2.41 only) | `<name>: cannot enable executable stack as shared object requires: Invalid argument` | not-a-plugin |
//! | segments past the end of the file | no error: the process dies with SIGBUS | crash |
//!
//! "name as requested" is the dlopen argument or the `DT_NEEDED` string; "path" is the
//! object's `l_name`: the string it was opened with (a search directory joined with the
//! name, unnormalised, e.g. `/opt/app/plugins/../lib/libx.so`, or the dlopen argument).
//!
//! A Go host wraps the same text: `plugin.Open("<path>"): <dlerror>`, and adds its own
//! (`runtime/plugin.go`, `plugin/plugin_dlopen.go`):
//!
//! | case | text | outcome |
//! |---|---|---|
//! | a package hash differs | `plugin.Open("<path>"): plugin was built with a different version of package <P>` | package-mismatch |
//! | same plugin path twice | `plugin.Open("<path>"): plugin already loaded` | already-loaded |
//! | host built with `CGO_ENABLED=0` | `plugin: not implemented` | not-implemented |
//! | the path does not resolve | `plugin.Open("<path>"): realpath failed` | not-elf |
//! | a file that failed before | the first error, then ` (previous failure)` | the first error's |

use std::path::Path;

use crate::elf::Arch;
use crate::verdict::Outcome;

/// What a real error text says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub outcome: Outcome,
    /// The package a `package-mismatch` names.
    pub package: Option<String>,
}

const MISMATCH: &str = "plugin was built with a different version of package ";

/// The outcome a `dlerror()` text or a Go `plugin.Open` error means, for the plugin at
/// `opened` (the path it was opened with, or its realpath: only needed to tell a
/// foreign-machine plugin, which glibc reports as "No such file", from a missing
/// library). `None`: a text none of the loaders prints.
pub fn classify(error: &str, opened: &Path) -> Option<Classified> {
    let e = error.trim_end().trim_end_matches(" (previous failure)");
    let outcome = |outcome| {
        Some(Classified {
            outcome,
            package: None,
        })
    };
    if let Some(i) = e.find(MISMATCH) {
        return Some(Classified {
            outcome: Outcome::PackageMismatch,
            package: Some(e[i + MISMATCH.len()..].trim().to_string()),
        });
    }
    const TEXTS: &[(&str, Outcome)] = &[
        ("plugin already loaded", Outcome::AlreadyLoaded),
        ("plugin: not implemented", Outcome::NotImplemented),
        ("realpath failed", Outcome::NotElf),
        (
            "cannot allocate memory in static TLS block",
            Outcome::StaticTls,
        ),
        ("wrong ELF class", Outcome::WrongClass),
        ("file too short", Outcome::NotElf),
        ("cannot read file data: Is a directory", Outcome::NotElf),
        ("cannot read file data", Outcome::Truncated),
        ("ELF file data encoding", Outcome::WrongMachine),
        (
            "CPU ISA level is lower than required",
            Outcome::WrongMachine,
        ),
        ("only ET_DYN and ET_EXEC can be loaded", Outcome::NotAPlugin),
        ("cannot dynamically load", Outcome::NotAPlugin),
        ("object file has no dynamic section", Outcome::NotAPlugin),
        ("shared object cannot be dlopen()ed", Outcome::NotAPlugin),
        ("cannot enable executable stack", Outcome::NotAPlugin),
        ("undefined symbol:", Outcome::UndefinedSymbol),
    ];
    if let Some((_, o)) = TEXTS.iter().find(|(text, _)| e.contains(text)) {
        return outcome(*o);
    }
    if let Some(named) = named_before(e, ": invalid ELF header") {
        // libc.so is a linker script: a plugin linked against it (-lc by path) gets this.
        let libc = Path::new(named).file_name().is_some_and(|n| n == "libc.so");
        return outcome(if libc {
            Outcome::WrongLibc
        } else {
            Outcome::NotElf
        });
    }
    if e.contains("version `") && e.contains("not found") {
        return outcome(Outcome::VersionNotFound);
    }
    if let Some(named) = named_before(e, ": cannot open shared object file") {
        // ld.so says this about the object itself when its e_machine is foreign.
        let foreign = names(named, opened) && foreign_elf(opened);
        return outcome(if foreign {
            Outcome::WrongMachine
        } else {
            Outcome::MissingLibrary
        });
    }
    None
}

/// The object a loader message is about: the text before `what`, after the last `: `
/// (a Go error puts `plugin.Open("…"): ` before it).
fn named_before<'a>(error: &'a str, what: &str) -> Option<&'a str> {
    let (head, _) = error.split_once(what)?;
    Some(head.rsplit(": ").next().unwrap_or(head))
}

/// Whether `named` (as a loader message names it) is the file `opened`.
fn names(named: &str, opened: &Path) -> bool {
    let named = Path::new(named);
    if named.as_os_str().is_empty() {
        return false;
    }
    named == opened
        || (named.is_relative() && opened.ends_with(named))
        || std::fs::canonicalize(named)
            .ok()
            .is_some_and(|n| std::fs::canonicalize(opened).ok() == Some(n))
}

/// An ELF file for another machine than this one.
fn foreign_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 20];
    let read = std::fs::metadata(path).is_ok_and(|m| m.is_file())
        && std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok();
    read && &head[..4] == b"\x7fELF"
        && u16::from_le_bytes([head[18], head[19]]) != Arch::native().machine
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(error: &str) -> Option<Outcome> {
        classify(error, Path::new("/nonexistent/plugins/x.so")).map(|c| c.outcome)
    }

    #[test]
    fn go_and_loader_texts_are_classified() {
        let mismatch = classify(
            "plugin.Open(\"plugins/x\"): plugin was built with a different version of package internal/goarch (previous failure)",
            Path::new("x.so"),
        )
        .unwrap();
        assert_eq!(mismatch.outcome, Outcome::PackageMismatch);
        assert_eq!(mismatch.package.as_deref(), Some("internal/goarch"));
        for (text, want) in [
            ("plugin: not implemented", Outcome::NotImplemented),
            (
                "plugin.Open(\"plugins/x\"): plugin already loaded",
                Outcome::AlreadyLoaded,
            ),
            (
                "plugin.Open(\"plugins/x.so\"): libfixssl.so.3: cannot open shared object file: No such file or directory",
                Outcome::MissingLibrary,
            ),
            (
                "plugin.Open(\"plugins/x.so\"): /lib/x86_64-linux-gnu/libc.so: invalid ELF header",
                Outcome::WrongLibc,
            ),
            ("plugins/mylibc.so: invalid ELF header", Outcome::NotElf),
            (
                "plugins/libtls_7.so: cannot allocate memory in static TLS block",
                Outcome::StaticTls,
            ),
            (
                "plugins/x.so: cannot read file data: Is a directory",
                Outcome::NotElf,
            ),
            ("plugins/x.so: cannot read file data", Outcome::Truncated),
            (
                "x.so: cannot dynamically load position-independent executable",
                Outcome::NotAPlugin,
            ),
            (
                "libz.so.1: version `ZLIB_9' not found (required by x.so)",
                Outcome::VersionNotFound,
            ),
            ("x.so: undefined symbol: foo", Outcome::UndefinedSymbol),
        ] {
            assert_eq!(outcome(text), Some(want), "{text}");
        }
        assert_eq!(outcome("something else"), None);
    }

    #[test]
    fn a_foreign_object_named_by_glibc_is_a_wrong_machine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugins/a.so");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        let foreign: u16 = if Arch::native().machine == 183 {
            62
        } else {
            183
        };
        elf[18..20].copy_from_slice(&foreign.to_le_bytes());
        std::fs::write(&path, &elf).unwrap();
        let about_it = format!(
            "plugin.Open(\"plugins/a.so\"): {}: cannot open shared object file: No such file or directory",
            path.display()
        );
        let c = |e: &str, p: &Path| classify(e, p).map(|c| c.outcome);
        assert_eq!(c(&about_it, &path), Some(Outcome::WrongMachine));
        let relative = "plugins/a.so: cannot open shared object file: No such file or directory";
        assert_eq!(c(relative, &path), Some(Outcome::WrongMachine));
        let other = "libdep.so: cannot open shared object file: No such file or directory";
        assert_eq!(c(other, &path), Some(Outcome::MissingLibrary));
        elf[18..20].copy_from_slice(&Arch::native().machine.to_le_bytes());
        std::fs::write(&path, &elf).unwrap();
        assert_eq!(c(&about_it, &path), Some(Outcome::MissingLibrary));
    }
}
