//! The ELF model: everything about an artifact that decides whether it loads,
//! read once from its bytes. Knows nothing of Go, hosts or output formats.

use compact_str::CompactString;
use serde::Serialize;

/// ELF file class (`EI_CLASS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Elf32,
    Elf64,
}

impl Class {
    /// The spelling glibc uses in `wrong ELF class: ELFCLASS32`.
    pub fn glibc_name(self) -> &'static str {
        match self {
            Class::Elf32 => "ELFCLASS32",
            Class::Elf64 => "ELFCLASS64",
        }
    }
    pub fn pointer_size(self) -> usize {
        match self {
            Class::Elf32 => 4,
            Class::Elf64 => 8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endianness {
    Little,
    Big,
}

/// What kind of object the file is, as a user thinks of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// `ET_EXEC`: a position-dependent executable.
    Executable,
    /// `ET_DYN` with an interpreter (or `DF_1_PIE`): a position-independent executable.
    PieExecutable,
    /// `ET_DYN` without an interpreter: a shared object (`.so`).
    SharedObject,
    /// `ET_REL`: an object file, never loadable.
    Relocatable,
    /// `ET_CORE` or an unknown type.
    Other,
}

/// Which C library the object is built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Libc {
    Glibc,
    Musl,
    /// Linked against no libc at all (static or freestanding).
    None,
    /// It needs a libc, but nothing says which.
    Unknown,
}

/// ELF identity: the facts the loader checks before anything else.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub class: Class,
    pub endianness: Endianness,
    /// `e_machine` as a number, for exact comparison.
    pub machine_id: u16,
    /// A readable machine name, e.g. `x86-64`, `aarch64`.
    pub machine: String,
    pub os_abi: String,
    pub os_abi_id: u8,
    pub kind: ObjectKind,
    /// `PT_INTERP`, the program interpreter, for executables.
    pub interpreter: Option<String>,
    pub libc: Libc,
}

/// The dynamic section (`PT_DYNAMIC`), decoded.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Dynamic {
    pub needed: Vec<String>,
    pub soname: Option<String>,
    /// `DT_RPATH`, split on `:`, unexpanded.
    pub rpath: Vec<String>,
    /// `DT_RUNPATH`, split on `:`, unexpanded.
    pub runpath: Vec<String>,
    /// `DT_FLAGS`, raw.
    pub flags: u64,
    /// `DT_FLAGS_1`, raw.
    pub flags_1: u64,
    /// Names of the bits set in `DT_FLAGS` and `DT_FLAGS_1` (e.g. `STATIC_TLS`, `NOW`).
    pub flag_names: Vec<String>,
    /// `DT_BIND_NOW`, `DF_BIND_NOW` or `DF_1_NOW`.
    pub bind_now: bool,
    /// `DF_STATIC_TLS`: the object uses the initial-exec TLS model.
    pub static_tls: bool,
}

/// One `Verneed` entry: the versions this object requires from one library.
#[derive(Debug, Clone, Serialize)]
pub struct VersionNeed {
    pub library: String,
    pub versions: Vec<NeededVersion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NeededVersion {
    pub name: String,
    /// `VER_FLG_WEAK`: a missing version is only a warning for ld.so.
    pub weak: bool,
}

/// Symbol versioning, from `.gnu.version_r` and `.gnu.version_d`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Versions {
    pub needed: Vec<VersionNeed>,
    /// Versions this object defines (`Verdef`), without the base (file name) entry.
    pub defined: Vec<String>,
    /// The highest `GLIBC_x.y` required, if any.
    pub max_glibc: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    Local,
    Global,
    Weak,
    Unique,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolKind {
    NoType,
    Object,
    Func,
    Section,
    File,
    Common,
    Tls,
    Ifunc,
    Other,
}

/// One entry of `.dynsym`.
#[derive(Debug, Clone, Serialize)]
pub struct DynSymbol {
    pub name: CompactString,
    /// The version name attached through `.gnu.version` (e.g. `GLIBC_2.34`), shared by
    /// every symbol of that version. A thin pointer: 56-byte symbols, where `Arc<str>`
    /// made them 64 and a big plugin's table just over 2 MiB (one more huge page zeroed).
    pub version: Option<std::sync::Arc<String>>,
    /// `true` when the version is hidden (`name@VER` rather than `name@@VER`).
    pub version_hidden: bool,
    pub defined: bool,
    pub binding: Binding,
    pub kind: SymbolKind,
    pub value: u64,
    pub size: u64,
}

impl DynSymbol {
    /// The version name, if any.
    pub fn version_name(&self) -> Option<&str> {
        self.version.as_deref().map(String::as_str)
    }

    /// Visible to other objects: defined, global or weak (what ld.so can bind to).
    pub fn is_export(&self) -> bool {
        self.defined
            && matches!(
                self.binding,
                Binding::Global | Binding::Weak | Binding::Unique
            )
    }
    /// An undefined reference that must be satisfied (non-weak).
    pub fn is_strong_import(&self) -> bool {
        !self.defined && self.binding == Binding::Global && !self.name.is_empty()
    }
}

/// Thread-local storage and segment facts that matter to the loader.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tls {
    /// `PT_TLS` memory size (`p_memsz`), if the object has a TLS segment.
    pub size: Option<u64>,
    pub align: Option<u64>,
    /// The initialised part of the TLS block (`p_filesz`).
    pub init_size: Option<u64>,
    /// Relocations of the initial-exec/local-exec model (`TPOFF`): need static TLS.
    pub static_relocations: usize,
    /// Relocations of the dynamic model (`DTPMOD`/`DTPOFF`): any TLS slot will do.
    pub dynamic_relocations: usize,
    pub model: TlsModel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsModel {
    /// No TLS at all.
    #[default]
    None,
    /// Initial-exec: the block must fit in the static TLS area (`DF_STATIC_TLS`).
    InitialExec,
    /// General/local dynamic: allocated on demand.
    Dynamic,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Segments {
    /// `PT_GNU_STACK` with `PF_X`, or no `PT_GNU_STACK` at all (the legacy default is executable).
    pub exec_stack: bool,
    pub has_gnu_stack: bool,
    pub relro: bool,
    pub load_segments: usize,
}

/// A section header, kept for lookups by name.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub name: String,
    pub kind: u32,
    pub address: u64,
    pub offset: u64,
    pub size: u64,
}

/// A `PT_LOAD` segment, kept to turn virtual addresses into file offsets.
#[derive(Debug, Clone, Copy)]
pub struct LoadSegment {
    pub vaddr: u64,
    pub offset: u64,
    pub file_size: u64,
    pub mem_size: u64,
}

/// A dynamic relocation that names a symbol.
#[derive(Debug, Clone, Copy)]
pub struct DynReloc {
    /// `r_offset`: the virtual address patched.
    pub offset: u64,
    /// The machine-specific relocation type.
    pub r_type: u32,
    /// Index into the dynamic symbol table.
    pub symbol: u32,
}
