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
    (@text) => { "" };
    (@text $text:literal) => { $text };
    (@docs) => { &[] };
    (@docs [$($doc:literal),*]) => { &[$($doc),*] };
    ($(
        $variant:ident = $id:literal, $severity:ident, $title:literal, $explain:literal
        $(, detect: $detect:literal)?
        $(, error: $error:literal)?
        $(, fix: $fix:literal)?
        $(, docs: [$($doc:literal),* $(,)?])?
        ;
    )*) => {
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
            /// The variant's name (`GlibcTooNew`): SARIF's `rule.name`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => stringify!($variant),)* }
            }
            /// A one-line title.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
            /// What the finding means (the first paragraph of `plugctl explain`).
            pub fn explanation(self) -> &'static str {
                match self { $(Code::$variant => $explain,)* }
            }
            /// How plugctl detects it: which facts of which files, compared with what.
            pub fn detection(self) -> &'static str {
                match self { $(Code::$variant => codes!(@text $($detect)?),)* }
            }
            /// The exact error (or behaviour) at run time that the finding predicts;
            /// empty for findings that predict no failure.
            pub fn runtime_error(self) -> &'static str {
                match self { $(Code::$variant => codes!(@text $($error)?),)* }
            }
            /// How to fix it, in general (each finding also carries a specific fix).
            pub fn fix(self) -> &'static str {
                match self { $(Code::$variant => codes!(@text $($fix)?),)* }
            }
            /// Links to the Go, glibc or ELF documentation behind the finding.
            pub fn docs(self) -> &'static [&'static str] {
                match self { $(Code::$variant => codes!(@docs $([$($doc),*])?),)* }
            }
        }
    };
}

codes! {
    PartlyUnreadable = "PC001", Warning, "part of the file could not be read",
        "A section, table or string of the ELF file points outside the file or is malformed. plugctl read everything else; facts that depend on the broken part are missing from the report. ld.so reads only the program headers and the dynamic segment, so the object may still load, but a tool or linker produced a damaged file.",
        detect: "The ELF reader keeps going past a bad part and records it: section headers, string tables, symbol or version tables, notes or Go build info whose offsets or sizes fall outside the file or do not parse.",
        error: "None by itself; what fails depends on the broken part (a damaged dynamic segment fails dlopen with `PATH: cannot read file data` or a symbol lookup error).",
        fix: "Rebuild the artifact and check the transfer (a truncated upload, a partial download, a stripped or patched file).",
        docs: ["https://man7.org/linux/man-pages/man5/elf.5.html", "https://refspecs.linuxfoundation.org/elf/gabi4+/contents.html"];
    NotAGoPlugin = "PC010", Error, "not a Go plugin",
        "The file given as a plugin was not built with `-buildmode=plugin`: its Go build info names another build mode, or it is not a Go binary at all. dlopen may well succeed, but no Go module registers itself with the host's runtime, so Go's plugin.Open cannot use it.",
        detect: "The `-buildmode` setting of the Go build info (`go version -m FILE` shows the same), or the absence of Go build info and of the plugin's module data symbols; when a Go host is given, plugctl simulates what the host's runtime does next.",
        error: "`fatal error: runtime: no plugin module data` for a C or c-shared object loaded first; `plugin.Open(\"NAME\"): plugin already loaded` when a Go plugin was loaded before it; a position-independent executable fails in dlopen with `cannot dynamically load position-independent executable`.",
        fix: "Build it with `go build -buildmode=plugin -o NAME.so ./PKG` (the package must be `main`).",
        docs: ["https://pkg.go.dev/plugin", "https://pkg.go.dev/cmd/go#hdr-Build_modes"];
    HostWithoutCgo = "PC011", Error, "host built without cgo cannot open plugins",
        "The Go host was built with `CGO_ENABLED=0`. Go's plugin package is implemented with cgo (it calls dlopen through C); without cgo the package is a stub whose Open always fails. Go turns cgo off by itself when no C compiler is found at build time.",
        detect: "The `CGO_ENABLED` setting in the host's Go build info is `0`.",
        error: "`plugin: not implemented` (returned by plugin.Open for every file).",
        fix: "Rebuild the host with `CGO_ENABLED=1` and a C compiler on PATH (`gcc`, or the one `go env CC` names); `plugctl doctor` checks both.",
        docs: ["https://pkg.go.dev/plugin", "https://pkg.go.dev/cmd/cgo"];
    ExecutableStack = "PC012", Warning, "object asks for an executable stack",
        "The object has no PT_GNU_STACK program header, or one with PF_X: it asks for an executable stack. glibc up to 2.40 then makes every thread stack of the process executable when the object is dlopened (a security weakening); glibc 2.41 and later refuse to dlopen it.",
        detect: "The program headers: PT_GNU_STACK missing (the default is executable) or carrying the PF_X flag.",
        error: "On glibc 2.41 and later: `PATH: cannot enable executable stack as shared object requires: Invalid argument`; earlier releases load it silently.",
        fix: "Link with `-Wl,-z,noexecstack` (gcc) or `-z noexecstack` (ld), and mark assembly sources with `.section .note.GNU-stack,\"\",@progbits`.",
        docs: ["https://sourceware.org/glibc/wiki/Release/2.41", "https://sourceware.org/binutils/docs/ld/Options.html"];
    GlibcTooNew = "PC013", Error, "requires a newer glibc than the target has",
        "The object's version references (verneed) ask libc.so.6 for a `GLIBC_x.y` version that the target system's C library does not define: it was linked against a newer glibc than the one it is deployed on.",
        detect: "The highest `GLIBC_x.y` in the object's verneed entries, compared with the highest version that the target's libc.so.6 defines (found through /etc/ld.so.cache or the default directories, under `--sysroot` when given).",
        error: "PATH: version `GLIBC_x.y' not found (required by PATH)",
        fix: "Build on (or with a sysroot of) the oldest glibc you deploy to, e.g. in a container of the target distribution; for Go, build the plugin where the host is built.",
        docs: ["https://man7.org/linux/man-pages/man8/ld.so.8.html", "https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/symversion.html"];
    StaticTlsUser = "PC014", Info, "uses initial-exec (static) TLS",
        "The object's thread-local storage uses the initial-exec model: its TLS block must live in the static TLS area that ld.so sizes at process start-up. Objects dlopened later share a small surplus (1664 bytes by default on glibc 2.36). Go plugins always need 8 bytes of it (the goroutine pointer `runtime.tlsg`).",
        detect: "DF_STATIC_TLS in DT_FLAGS, or TPOFF dynamic relocations (`R_X86_64_TPOFF64`, `R_X86_64_TPOFF32`) against a PT_TLS segment; the block's size and alignment come from PT_TLS.",
        error: "None by itself; when the surplus runs out it becomes PC203 (`cannot allocate memory in static TLS block`).",
        fix: "Nothing while it fits. When it does not: compile C code with `-ftls-model=global-dynamic`, or raise the surplus with `GLIBC_TUNABLES=glibc.rtld.optional_static_tls=BYTES`.",
        docs: ["https://www.akkadia.org/drepper/tls.pdf", "https://www.gnu.org/software/libc/manual/html_node/Dynamic-Linking-Tunables.html"];
    MuslObject = "PC015", Warning, "linked against musl libc",
        "The object was linked against musl libc (Alpine and other musl distributions, or `musl-gcc`). musl and glibc are not ABI-compatible: a glibc process cannot load it.",
        detect: "The object's DT_NEEDED names `libc.so` (musl's soname) rather than `libc.so.6`, or its interpreter is `/lib/ld-musl-*.so.1`.",
        error: "In a glibc process: `/usr/lib/x86_64-linux-gnu/libc.so: invalid ELF header` (glibc finds its own `libc.so`, a linker script), or undefined musl symbols.",
        fix: "Build the object against glibc (a glibc build container), or run the host on musl too.",
        docs: ["https://wiki.musl-libc.org/functional-differences-from-glibc.html"];
    RaceOrSanitizer = "PC016", Info, "built with the race detector or a sanitizer",
        "The binary was built with `-race`, `-asan` or `-msan`. These change the compiled code of every package, so a plugin loads only into a host built with the same setting.",
        detect: "The `-race`, `-asan` and `-msan` settings of the Go build info.",
        error: "None by itself; with a host built differently: `plugin.Open(\"NAME\"): plugin was built with a different version of package PATH` (PC100).",
        fix: "Build host and plugin with the same `-race`/`-asan`/`-msan` flags.",
        docs: ["https://go.dev/doc/articles/race_detector", "https://pkg.go.dev/cmd/go#hdr-Compile_packages_and_dependencies"];
    InitReadsEnv = "PC017", Warning, "plugin reads environment variables during init",
        "The plugin's package initialisers (package-level variable initialisers and `init` functions) read environment variables. They run inside plugin.Open, so a host that sets the variables only after plugin.Open (for example `DEEPSEEK_API_KEY` or `DEEPSEEK_BASE_URL` for an LLM client) leaves the plugin with empty values, silently.",
        detect: "A scan of the plugin's init functions (`PKG.init`, `PKG.init.N`) for calls to `os.Getenv`, `os.LookupEnv` and `syscall.Getenv`, with the variable names taken from the string constants passed to them.",
        error: "No error: the plugin sees empty values (an LLM client then fails later, e.g. with HTTP 401 or `missing API key`).",
        fix: "Set the variables before calling plugin.Open, or read them lazily (in an exported `Init` function or on first use) instead of at package initialisation.",
        docs: ["https://go.dev/ref/spec#Package_initialization", "https://pkg.go.dev/plugin", "https://pkg.go.dev/os#Getenv"];
    PackageMismatch = "PC100", Error, "plugin was built with a different version of a shared package",
        "Host and plugin both contain a package whose link-time hash differs. Go checks the packages in the order of the plugin's own hash table and reports the first mismatch. Causes: a different toolchain release, `-trimpath`/`-race`/`-gcflags`/`-asan`/`-msan`/`GOEXPERIMENT` on one side only, or a shared module built from different source.",
        detect: "The `go:link.pkghash.*` symbols of host and plugin, compared in the plugin's table order the way `runtime.plugin_lastmoduleinit` does; plugctl then names the cause from the build info (toolchain, build settings, module versions).",
        error: "`plugin.Open(\"NAME\"): plugin was built with a different version of package IMPORT/PATH`",
        fix: "Rebuild the plugin with exactly the host's toolchain, flags and module versions (`plugctl build --host HOST`; `go version -m HOST` shows them).",
        docs: ["https://pkg.go.dev/plugin", "https://go.dev/src/runtime/plugin.go", "https://pkg.go.dev/cmd/go#hdr-Print_Go_version"];
    ToolchainMinorSkew = "PC101", Error, "host and plugin come from different Go minor releases",
        "Host and plugin were built by different Go minor releases (1.21 and 1.22, 1.26 and 1.27). The host's runtime reads the plugin's module data with its own struct layout, which changes between minor releases, so the check that would report a version mismatch may never run: the host usually crashes inside plugin.Open instead of getting an error value.",
        detect: "The Go versions of both build infos; plugctl then simulates the host runtime's walk over the plugin's module data with both layouts to tell a clean error from a crash.",
        error: "Typically `fatal error: runtime: no plugin module data`, or SIGSEGV in `plugin.lastmoduleinit` (`panic: runtime error: invalid memory address or nil pointer dereference`); at best `plugin.Open(\"NAME\"): plugin was built with a different version of package ...`.",
        fix: "Build the plugin with the host's exact toolchain (`go version -m HOST` names it; `plugctl build --host HOST` fetches and uses it).",
        docs: ["https://go.dev/doc/toolchain", "https://pkg.go.dev/plugin", "https://go.dev/src/runtime/plugin.go"];
    ToolchainPatchSkew = "PC102", Error, "host and plugin come from different Go patch releases",
        "Host and plugin were built by different patch releases of one Go minor version (1.26.5 and 1.26.6). The module data layout is the same, but standard-library packages that changed between the releases get different hashes.",
        detect: "The Go versions of both build infos differ only in the patch number, and a package hash differs.",
        error: "`plugin.Open(\"NAME\"): plugin was built with a different version of package PATH` (the first changed package in the plugin's table order, often `internal/...` or `runtime/...`).",
        fix: "Build the plugin with the host's exact toolchain release; pin it with `GOTOOLCHAIN=goX.Y.Z` or a `toolchain` line in go.mod.",
        docs: ["https://go.dev/doc/toolchain", "https://go.dev/doc/devel/release"];
    PluginPathCollision = "PC103", Error, "another plugin with the same plugin path is already loaded",
        "Go identifies a plugin by its plugin path (the main package's import path, or `plugin/unnamed-HASH` for command-line files). Opening a second, different file with the same plugin path in one process is refused; opening the same file twice returns the first plugin.",
        detect: "The plugin paths of the plugins given to one `--host`, in order, compared the way `runtime.plugin_lastmoduleinit` compares them with the active modules.",
        error: "`plugin.Open(\"NAME\"): plugin already loaded`",
        fix: "Give each build a distinct main package path (or build name), or load only one of them.",
        docs: ["https://pkg.go.dev/plugin", "https://go.dev/src/runtime/plugin.go"];
    HostNotGo = "PC104", Info, "host is not a Go program",
        "The host has no Go build info. Only the dynamic loader's checks apply: a C program can dlopen a Go plugin (its runtime then starts in the host process) but cannot use its Go symbols through plugin.Open.",
        detect: "No `.go.buildinfo` section or build info blob in the host given with `--host`.",
        fix: "Nothing to fix; give the Go program that calls plugin.Open as `--host` to get Go's checks.",
        docs: ["https://pkg.go.dev/plugin"];
    BuildSettingSkew = "PC105", Error, "host and plugin differ in a build setting that changes package hashes",
        "A build setting that changes the compiled form of the package Go reports differs between host and plugin (`-trimpath`, `-race`, `-gcflags` or `-asmflags` whose pattern covers that package, `-asan`, `-msan`, `-cover`, `GOEXPERIMENT`), so the plugin does not load. plugctl emits this only when the package-hash comparison fails and the setting explains it; settings that do not reach the package (`GOAMD64`, `-tags`, `-ldflags`, `-gcflags` without a pattern, which applies to the main package only) are never named as causes.",
        detect: "The build settings of both Go build infos, and whether the package-hash comparison fails because of them.",
        error: "When it matters: `plugin.Open(\"NAME\"): plugin was built with a different version of package PATH`.",
        fix: "Build host and plugin with the same settings; check `GOFLAGS` in both build environments (`plugctl doctor` shows this machine's).",
        docs: ["https://pkg.go.dev/cmd/go#hdr-Compile_packages_and_dependencies", "https://pkg.go.dev/runtime/debug#BuildSetting"];
    ModuleSkew = "PC106", Error, "host and plugin use different versions of a shared module",
        "A module that both host and plugin depend on has a different version, checksum, replacement or source directory, and one of its packages is linked into both with different hashes: plugin.Open fails on that package. plugctl emits this only when the package-hash comparison fails on a package of that module.",
        detect: "The module lists (path, version, sum, replacement) of both Go build infos, matched to the package whose hash differs.",
        error: "`plugin.Open(\"NAME\"): plugin was built with a different version of package MODULE/PKG`",
        fix: "Require the host's version in the plugin's go.mod (`go mod edit -require=MOD@VERSION && go mod tidy`), or build with `plugctl build --host HOST`.",
        docs: ["https://go.dev/ref/mod#go-mod-edit", "https://go.dev/ref/mod#minimal-version-selection"];
    HostCrashes = "PC107", Error, "the host process dies while opening the plugin",
        "The load does not end with an error value: the host process itself dies (a Go `fatal error`, a nil-pointer panic inside `plugin.lastmoduleinit`, or a signal from the dynamic loader), so nothing after it runs. Go host and plugin from different minor releases are the usual cause; an earlier plugin that crashed the host also stops every later one.",
        detect: "The simulation of the host runtime's walk over the plugin's module data with each binary's own layout, and the loader emulation's mapping of every segment.",
        error: "`fatal error: runtime: no plugin module data`, `panic: runtime error: invalid memory address or nil pointer dereference`, or `SIGBUS: bus error`.",
        fix: "Build the plugin with the host's exact toolchain (`plugctl build --host HOST`); for a loader signal, re-transfer or rebuild the file.",
        docs: ["https://go.dev/src/runtime/plugin.go", "https://pkg.go.dev/plugin"];
    MissingLibrary = "PC200", Error, "a needed shared library cannot be found",
        "A DT_NEEDED library of the object (or of one of its dependencies) is not found by ld.so's search, so the object cannot be loaded.",
        detect: "ld.so's search emulated per dependency: DT_RPATH (when there is no DT_RUNPATH), `LD_LIBRARY_PATH`, DT_RUNPATH, `/etc/ld.so.cache`, then the default directories, with `$ORIGIN` expansion and hwcaps subdirectories, under `--sysroot` when given (`--tree` shows each step).",
        error: "`NAME: cannot open shared object file: No such file or directory`",
        fix: "Install the library in the target image, or ship it and point DT_RUNPATH at it (`-Wl,-rpath,'$ORIGIN/lib'`).",
        docs: ["https://man7.org/linux/man-pages/man8/ld.so.8.html", "https://man7.org/linux/man-pages/man8/ldconfig.8.html"];
    VersionNotFound = "PC201", Error, "a required symbol version is not defined by the library found",
        "The object needs a symbol version (verneed) that the library actually found does not define (verdef): it was linked against a newer (or different) build of that library.",
        detect: "Each verneed entry of each loaded object compared with the verdef table of the library that ld.so's search finds for it.",
        error: "PATH: version `VERSION' not found (required by PATH)",
        fix: "Deploy the library version the object was linked against, or rebuild the object against the older one.",
        docs: ["https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/symversion.html", "https://man7.org/linux/man-pages/man8/ld.so.8.html"];
    UndefinedSymbol = "PC202", Error, "an undefined symbol has no definition in the process",
        "With `RTLD_NOW` (what Go's plugin.Open uses) every non-weak undefined symbol must be defined by the host, its libraries or the newly loaded objects before dlopen returns.",
        detect: "Symbol resolution emulated in ld.so's global scope order (the host and its libraries, earlier `RTLD_GLOBAL` objects, then the new object and its dependencies), honouring symbol versions and weak references; `--lazy` limits it to data relocations.",
        error: "`PATH: undefined symbol: NAME`",
        fix: "Link the library that defines it into the object (`-lNAME`), or make the host export it (`-rdynamic` / `-Wl,--export-dynamic`).",
        docs: ["https://man7.org/linux/man-pages/man3/dlopen.3.html", "https://man7.org/linux/man-pages/man8/ld.so.8.html"];
    StaticTlsExhausted = "PC203", Error, "static TLS surplus exhausted",
        "The object uses initial-exec TLS and is loaded after start-up, so its TLS block must fit in what is left of the static TLS surplus; here it does not.",
        detect: "glibc's static TLS allocator replayed: the blocks of the host and its start-up libraries, the surplus from `GLIBC_TUNABLES` (`glibc.rtld.nns`, `glibc.rtld.optional_static_tls`), then each dlopened initial-exec block with its alignment.",
        error: "`PATH: cannot allocate memory in static TLS block`",
        fix: "Compile with `-ftls-model=global-dynamic`, link the library into the host at start-up, or raise `GLIBC_TUNABLES=glibc.rtld.optional_static_tls=BYTES`.",
        docs: ["https://www.gnu.org/software/libc/manual/html_node/Dynamic-Linking-Tunables.html", "https://www.akkadia.org/drepper/tls.pdf"];
    WrongClass = "PC204", Error, "wrong ELF class for the host",
        "The object is 32-bit and the host 64-bit (or the reverse); a process can only load objects of its own class.",
        detect: "EI_CLASS of the object compared with the host's.",
        error: "`PATH: wrong ELF class: ELFCLASS32` (or `ELFCLASS64`)",
        fix: "Build the object for the host's architecture (`GOARCH=amd64`, `-m64`).",
        docs: ["https://man7.org/linux/man-pages/man5/elf.5.html"];
    WrongMachine = "PC205", Error, "built for another CPU architecture",
        "The object's e_machine differs from the host's (e.g. an aarch64 object and an x86-64 host).",
        detect: "e_machine of the object compared with the host's (x86-64 when no host is given).",
        error: "For a direct dlopen glibc reports it misleadingly: `PATH: cannot open shared object file: No such file or directory` (a dependency of another machine is skipped during the search, and then missing).",
        fix: "Build for the host's architecture (`GOARCH=amd64`, the matching cross compiler).",
        docs: ["https://man7.org/linux/man-pages/man5/elf.5.html", "https://go.dev/doc/install/source#environment"];
    WrongLibc = "PC206", Error, "built against another C library",
        "The object needs a different C library than the host's (musl and glibc); the two cannot share a process.",
        detect: "The libc flavour of object and host (DT_NEEDED `libc.so.6` or `libc.so`, the interpreter).",
        error: "Typically `.../libc.so: invalid ELF header`, or undefined symbols of the other C library.",
        fix: "Build the object against the host's C library.",
        docs: ["https://wiki.musl-libc.org/functional-differences-from-glibc.html"];
    NotElf = "PC207", Error, "not an ELF object",
        "The file is empty, too short or does not start with the ELF magic bytes: it is not a shared object at all.",
        detect: "The first bytes of the file (`\\x7fELF`) and the size of the ELF header.",
        error: "`PATH: file too short` or `PATH: invalid ELF header`",
        fix: "Check that the right file was shipped (not a text file, a Git LFS pointer or an archive).",
        docs: ["https://man7.org/linux/man-pages/man5/elf.5.html"];
    Truncated = "PC208", Error, "truncated ELF file",
        "The ELF header is present but program headers or segments run past the end of the file: the file was cut short.",
        detect: "The program header table and every PT_LOAD segment's file range compared with the file size.",
        error: "`PATH: file too short` or `PATH: cannot read file data` (sometimes `failed to map segment from shared object`).",
        fix: "Re-transfer or rebuild the file.",
        docs: ["https://man7.org/linux/man-pages/man5/elf.5.html", "https://man7.org/linux/man-pages/man3/dlopen.3.html"];
    LoaderOnly = "PC209", Info, "prediction covers the dynamic loader only",
        "No Go host was given, or the host is not a Go program: plugctl predicts what ld.so does (dependencies, versions, symbols, TLS) for a minimal C program that dlopens the object. Go's plugin.Open checks are not evaluated.",
        detect: "No `--host`, or a host without Go build info.",
        fix: "Pass the Go program that calls plugin.Open as `--host HOST`.",
        docs: ["https://pkg.go.dev/plugin", "https://man7.org/linux/man-pages/man3/dlopen.3.html"];
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

impl crate::verdict::Outcome {
    /// The finding code that states why a load ends this way; `None` for `ok`. The match
    /// is exhaustive on purpose: a new outcome must choose its code here.
    pub fn failure_code(self) -> Option<Code> {
        use crate::verdict::Outcome;
        Some(match self {
            Outcome::Ok => return None,
            Outcome::PackageMismatch => Code::PackageMismatch,
            Outcome::Crash => Code::HostCrashes,
            Outcome::NotImplemented => Code::HostWithoutCgo,
            Outcome::AlreadyLoaded => Code::PluginPathCollision,
            Outcome::MissingLibrary => Code::MissingLibrary,
            Outcome::VersionNotFound => Code::VersionNotFound,
            Outcome::UndefinedSymbol => Code::UndefinedSymbol,
            Outcome::StaticTls => Code::StaticTlsExhausted,
            Outcome::WrongClass => Code::WrongClass,
            Outcome::WrongMachine => Code::WrongMachine,
            Outcome::WrongLibc => Code::WrongLibc,
            Outcome::NotElf => Code::NotElf,
            Outcome::Truncated => Code::Truncated,
            Outcome::NotAPlugin => Code::NotAGoPlugin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failing_outcome_maps_to_an_error_code() {
        use crate::verdict::Outcome;
        for outcome in Outcome::ALL {
            match outcome.failure_code() {
                None => assert_eq!(*outcome, Outcome::Ok),
                Some(code) => assert_eq!(code.severity(), Severity::Error, "{outcome} -> {code}"),
            }
        }
    }

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
