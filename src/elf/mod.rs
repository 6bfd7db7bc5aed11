//! `elf`: reads the bytes of a file into an [`Artifact`]. Knows nothing of Go, hosts or
//! output; keeps going past broken parts and records what it could not read.

pub mod arch;
pub mod cstr;
pub mod endian;
mod model;
pub mod names;
mod parse;
mod source;
pub mod words;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use arch::Arch;
pub use model::*;
pub use parse::{defined_versions, parse_dotted, vaddr_to_offset};
/// A regular file's bytes, mapped read-only; also for the loader's own files (ld.so,
/// `ld.so.cache`), which are searched, not copied.
pub use source::{Bytes, load as map_file};

/// More entries than any real table has (the largest Go binaries have about 100 000
/// symbols); bounds the time and memory a hostile table size can cost. Shared by every
/// reader of symbol, relocation and dynamic tables.
pub const MAX_ENTRIES: usize = 1 << 20;

/// Why a file could not be read as an ELF object at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    NotAFile(&'static str),
    #[error("empty file (0 bytes), not an ELF object")]
    Empty,
    #[error("not an ELF file ({0})")]
    NotElf(String),
    #[error("truncated ELF file: {0}")]
    Truncated(String),
    #[error("unsupported ELF file: {0}")]
    Unsupported(String),
}

impl ReadError {
    fn from_io(err: std::io::Error) -> Self {
        let text = match err.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => err.to_string(),
        };
        ReadError::Io(text)
    }
}

/// One ELF file, decoded. Holds its bytes for the readers that need more than the model
/// (Go build info, module data).
pub struct Artifact {
    pub path: PathBuf,
    pub file_size: u64,
    pub identity: Identity,
    pub dynamic: Dynamic,
    pub versions: Versions,
    /// `.dynsym` without the null entry, in table order.
    pub symbols: Vec<DynSymbol>,
    pub tls: Tls,
    pub segments: Segments,
    pub sections: Vec<Section>,
    /// Dynamic relocations that name a symbol (`symbol` indexes `.dynsym`, 1-based like ELF).
    pub relocations: Vec<DynReloc>,
    /// Parts of the file that could not be read; the rest of the model is still valid.
    pub problems: Vec<String>,
    loads: Vec<LoadSegment>,
    /// Built on first use, or while decoding a big file.
    relocated_words: OnceLock<words::RelocatedWords>,
    bytes: source::Bytes,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("path", &self.path)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Artifact {
    /// The names of the undefined dynamic symbols (the index-0 null symbol left out).
    pub fn undefined_names(&self) -> Vec<&str> {
        self.symbols
            .iter()
            .filter(|s| !s.defined && !s.name.is_empty())
            .map(|s| s.name.as_str())
            .collect()
    }

    /// Reads and decodes `path`. Never executes or maps it executable.
    pub fn read(path: &Path) -> Result<Artifact, ReadError> {
        let bytes = source::load(path)?;
        Self::from_bytes(path.to_path_buf(), bytes)
    }

    /// Decodes bytes already in memory (tests, fuzzing).
    pub fn from_vec(path: PathBuf, data: Vec<u8>) -> Result<Artifact, ReadError> {
        Self::from_bytes(path, source::Bytes::Owned(data))
    }

    /// Decodes a file already mapped (or read) with [`map_file`].
    pub fn from_bytes(path: PathBuf, bytes: source::Bytes) -> Result<Artifact, ReadError> {
        let parsed = parse::parse(bytes.as_slice())?;
        Ok(Artifact {
            path,
            file_size: bytes.as_slice().len() as u64,
            identity: parsed.identity,
            dynamic: parsed.dynamic,
            versions: parsed.versions,
            symbols: parsed.symbols,
            tls: parsed.tls,
            segments: parsed.segments,
            sections: parsed.sections,
            relocations: parsed.relocations,
            problems: parsed.problems,
            loads: parsed.loads,
            relocated_words: parsed
                .relocated_words
                .map(OnceLock::from)
                .unwrap_or_default(),
            bytes,
        })
    }

    /// What the loader writes into each relocated word (load base 0), sorted by address.
    pub fn relocated_words(&self) -> &words::RelocatedWords {
        self.relocated_words.get_or_init(|| {
            words::RelocatedWords::read(
                self.bytes(),
                self.identity.class,
                self.identity.endianness,
                self.identity.machine_id,
                &self.sections,
                &self.loads,
            )
        })
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The file contents of a section (empty for `SHT_NOBITS`), if inside the file.
    pub fn section_data(&self, name: &str) -> Option<&[u8]> {
        let section = self.section(name)?;
        if section.kind == object::elf::SHT_NOBITS.0 {
            return Some(&[]);
        }
        self.file_range(section.offset, section.size)
    }

    /// `len` bytes at virtual address `addr`, if they are backed by the file.
    pub fn read_vaddr(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let offset = vaddr_to_offset(&self.loads, addr)?;
        let segment_end = self.loads.iter().find_map(|seg| {
            let delta = addr.checked_sub(seg.vaddr)?;
            (delta < seg.file_size).then(|| seg.file_size - delta)
        })?;
        if len > segment_end {
            return None;
        }
        self.file_range(offset, len)
    }

    fn file_range(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.bytes().get(start..end)
    }

    /// The dynamic symbol with this exact name (first match).
    pub fn symbol(&self, name: &str) -> Option<&DynSymbol> {
        self.symbols.iter().find(|s| s.name == name)
    }

    /// The dynamic symbol a relocation refers to.
    pub fn relocation_symbol(&self, reloc: &DynReloc) -> Option<&DynSymbol> {
        // `.dynsym` index 0 is the null symbol, which `symbols` leaves out.
        self.symbols
            .get(usize::try_from(reloc.symbol).ok()?.checked_sub(1)?)
    }

    /// The contents of a defined symbol, read through its virtual address.
    pub fn symbol_data(&self, symbol: &DynSymbol) -> Option<&[u8]> {
        if !symbol.defined {
            return None;
        }
        self.read_vaddr(symbol.value, symbol.size)
    }

    pub fn is_64(&self) -> bool {
        self.identity.class == Class::Elf64
    }
}
