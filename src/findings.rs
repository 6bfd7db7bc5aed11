//! Finding codes: the one source of truth behind table, JSON, SARIF and `explain`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

macro_rules! codes {
    ($( $variant:ident = $id:literal, $severity:ident, $title:literal, $explain:literal; )*) => {
        /// Every finding plugctl can emit. The `PCnnn` spelling is stable.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }
            /// A one-line title.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
            /// The long explanation shown by `plugctl explain`.
            pub fn explanation(self) -> &'static str {
                match self { $(Code::$variant => $explain,)* }
            }
        }
    };
}

codes! {
    PartlyUnreadable = "PC001", Warning, "part of the file could not be read",
        "A section, table or string of the ELF file points outside the file or is malformed. plugctl read everything else; facts that depend on the broken part are missing. ld.so reads only program headers and the dynamic segment, so the object may still load, but a tool or linker produced a damaged file. Fix: rebuild the artifact; check the transfer (truncated upload, partial download).";
    NotAGoPlugin = "PC010", Error, "not a Go plugin",
        "The artifact given as a plugin was not built with -buildmode=plugin (its Go build info says another build mode, or it is not a Go binary at all). plugin.Open of such a file fails: an executable gives `plugin.Open(\"…\"): … cannot dynamically load position-independent executable` or similar, a c-shared library loads but exports no Go plugin symbols. Fix: build with `go build -buildmode=plugin -o NAME.so ./PKG`.";
    HostWithoutCgo = "PC011", Error, "host built without cgo cannot open plugins",
        "The Go host was built with CGO_ENABLED=0. Go's plugin package is implemented with cgo (dlopen); without it plugin.Open always returns `plugin: not implemented`. Fix: rebuild the host with `CGO_ENABLED=1` and a C compiler available.";
    ExecutableStack = "PC012", Warning, "object asks for an executable stack",
        "PT_GNU_STACK is missing or has PF_X. glibc up to 2.40 makes every thread stack executable when such an object is dlopened (a security weakening); glibc 2.41 and later refuse to dlopen it with `cannot enable executable stack as shared object requires: Invalid argument`. Fix: link with `-z noexecstack` (gcc/ld) or mark the assembly sources with `.note.GNU-stack`.";
    GlibcTooNew = "PC013", Error, "requires a newer glibc than the target has",
        "The object's version references (verneed) ask libc.so.6 for a GLIBC_x.y version the target system's C library does not define. ld.so refuses it with ``version `GLIBC_x.y' not found (required by PATH)``. Fix: build on (or with a sysroot of) the oldest glibc you deploy to, e.g. in a container of the target distribution.";
    StaticTlsUser = "PC014", Info, "uses initial-exec (static) TLS",
        "The object carries DF_STATIC_TLS or TPOFF relocations: its thread-local block must fit in the static TLS area reserved at process start-up. Objects dlopened later share a small surplus (about 1.6 KB on glibc 2.36 by default). Go plugins need 8 bytes (the g pointer). Fix when it fails: compile C code with `-ftls-model=global-dynamic`, or raise the surplus with `GLIBC_TUNABLES=glibc.rtld.optional_static_tls=N`.";
    MuslObject = "PC015", Warning, "linked against musl libc",
        "The object was linked against musl (it needs `libc.so` or a musl interpreter). It cannot be loaded into a glibc process: glibc finds its own `libc.so`, a linker script, and fails with `…/libc.so: invalid ELF header`. Fix: build the object against glibc (or run the host on musl too).";
    RaceOrSanitizer = "PC016", Info, "built with the race detector or a sanitizer",
        "The Go build settings show -race, -asan or -msan. Such builds change the compiled code of every package, so a plugin loads only into a host built with the same setting (the package hash check fails otherwise). Fix: build host and plugin with the same -race/-asan/-msan flags.";
    InitReadsEnv = "PC017", Warning, "plugin reads environment variables during init",
        "The plugin's package initialisers call os.Getenv or os.LookupEnv. They run inside plugin.Open, so a host that sets the variables (e.g. DEEPSEEK_API_KEY, DEEPSEEK_BASE_URL) after plugin.Open leaves the plugin with empty values, silently. Fix: set the variables before plugin.Open, or read them lazily in an Init function.";
    PackageMismatch = "PC100", Error, "plugin was built with a different version of a shared package",
        "Host and plugin both contain a package whose export-data hash differs. Go checks the packages in the order of the plugin's own hash table and reports the first mismatch: `plugin.Open(\"PATH\"): plugin was built with a different version of package IMPORT/PATH`. Causes: a different toolchain release, -trimpath/-race/-gcflags/-asan/-msan/GOEXPERIMENT on one side only, or a shared module at different source. Fix: rebuild the plugin with exactly the host's toolchain, flags and module versions (`plugctl build --host HOST`).";
    ToolchainMinorSkew = "PC101", Error, "host and plugin come from different Go minor releases",
        "The Go runtime of the host reads the plugin's module data with its own struct layout. Between minor releases (1.21 → 1.22, 1.26 → 1.27) that layout and the runtime's tables change, and the host usually crashes inside plugin.Open (SIGSEGV in plugin.lastmoduleinit or `fatal error: runtime: no plugin module data`) without any error value. Fix: build the plugin with the host's exact toolchain (`go version -m HOST`).";
    ToolchainPatchSkew = "PC102", Error, "host and plugin come from different Go patch releases",
        "Host and plugin were built by different patch releases of one Go minor version. Standard-library packages that changed between the releases get different hashes and plugin.Open fails with the first of them. Fix: build the plugin with the host's exact toolchain release.";
    PluginPathCollision = "PC103", Error, "another plugin with the same plugin path is already loaded",
        "Go identifies a plugin by its plugin path (the main package's import path). Opening a second, different file with the same plugin path in one process fails with `plugin.Open(\"PATH\"): plugin already loaded`. Fix: give each build a distinct package path (or build name), or load only one of them.";
    HostNotGo = "PC104", Info, "host is not a Go program",
        "The host has no Go build info: only the dynamic loader's checks apply (a C program can dlopen a Go plugin, but cannot use its Go symbols). Go's plugin checks are not evaluated.";
    BuildSettingSkew = "PC105", Warning, "host and plugin differ in a build setting",
        "A build setting that changes compiled packages differs between host and plugin (e.g. -trimpath, -race, -gcflags, -tags, GOAMD64, GOEXPERIMENT). Some of these (GOAMD64, tags, -ldflags) are harmless for loading; the package-hash comparison decides. Fix: build both with the same settings.";
    ModuleSkew = "PC106", Warning, "host and plugin use different versions of a shared module",
        "A module that both host and plugin depend on has a different version, checksum or replacement. If any of its packages is linked into both, plugin.Open fails with a package mismatch. Fix: require the host's version in the plugin's go.mod (`go mod edit -require=MOD@VERSION`), or build with `plugctl build --host HOST`.";
    MissingLibrary = "PC200", Error, "a needed shared library cannot be found",
        "A DT_NEEDED library of the object (or of one of its dependencies) is not found by ld.so's search: DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.cache, default directories. dlopen fails with `NAME: cannot open shared object file: No such file or directory`. Fix: install the library in the target image, or ship it and point DT_RUNPATH at it (`-Wl,-rpath,'$ORIGIN/lib'`).";
    VersionNotFound = "PC201", Error, "a required symbol version is not defined by the library found",
        "The object needs a symbol version (verneed) that the library actually found does not define (verdef). ld.so fails with ``version `X' not found (required by PATH)``. Fix: deploy the library version the object was linked against, or rebuild against the older one.";
    UndefinedSymbol = "PC202", Error, "an undefined symbol has no definition in the process",
        "With RTLD_NOW (what Go's plugin.Open uses) every non-weak undefined symbol must be defined by the host, its libraries or the new objects. dlopen fails with `PATH: undefined symbol: NAME`. Fix: link the library that defines it (`-lNAME`) into the object, or make the host export it (`-rdynamic`).";
    StaticTlsExhausted = "PC203", Error, "static TLS surplus exhausted",
        "The object uses initial-exec TLS and is loaded after start-up, so its TLS block must fit in the static TLS surplus. When it does not, dlopen fails with `PATH: cannot allocate memory in static TLS block`. Fix: compile with `-ftls-model=global-dynamic`, link the library into the host at start-up, or raise `GLIBC_TUNABLES=glibc.rtld.optional_static_tls=BYTES`.";
    WrongClass = "PC204", Error, "wrong ELF class for the host",
        "The object is 32-bit and the host 64-bit (or the reverse). dlopen fails with `PATH: wrong ELF class: ELFCLASS32`. Fix: build the object for the host's architecture.";
    WrongMachine = "PC205", Error, "built for another CPU architecture",
        "The object's e_machine differs from the host's (e.g. aarch64 object, x86-64 host). glibc reports this misleadingly: for a direct dlopen `cannot open shared object file: No such file or directory` (ld.so skips files of another machine during its search). Fix: build for the host's GOARCH/target (`GOARCH=amd64`, the matching cross compiler).";
    WrongLibc = "PC206", Error, "built against another C library",
        "The object needs a different C library than the host's (musl vs glibc). Fix: build the object against the host's C library.";
    NotElf = "PC207", Error, "not an ELF object",
        "The file is empty, too short or does not start with the ELF magic. dlopen fails with `PATH: file too short` or `PATH: invalid ELF header`. Fix: check that the right file was shipped (not a text file, a Git LFS pointer or an archive).";
    Truncated = "PC208", Error, "truncated ELF file",
        "The ELF header is present but headers or segments run past the end of the file. dlopen fails with an error such as `PATH: file too short` or `cannot read file data`. Fix: re-transfer or rebuild the file.";
    LoaderOnly = "PC209", Info, "prediction covers the dynamic loader only",
        "No Go host was given, or the host is not a Go program: plugctl predicts what ld.so does (dependencies, versions, symbols, TLS) for a minimal C program that dlopens the object. Go's plugin.Open checks need `--host HOST`.";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl std::str::FromStr for Code {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.id().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("unknown finding code `{text}` (see `plugctl explain --list`)"))
    }
}

/// One diagnostic: what was observed, why it matters, and the exact fix.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// One line naming the file and the fact.
    pub message: String,
    /// Why it matters (what will happen).
    pub why: String,
    /// The command or flag that fixes it; empty for purely informational findings.
    pub fix: String,
}

impl Finding {
    pub fn new(
        code: Code,
        message: impl Into<String>,
        why: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            code,
            severity: code.severity(),
            message: message.into(),
            why: why.into(),
            fix: fix.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = Code::ALL.iter().map(|c| c.id()).collect();
        assert!(ids.iter().all(|id| id.len() == 5 && id.starts_with("PC")));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Code::ALL.len());
    }

    #[test]
    fn codes_parse_back() {
        for code in Code::ALL {
            assert_eq!(code.id().parse::<Code>().unwrap(), *code);
        }
        assert!("PC999".parse::<Code>().is_err());
    }
}
