//! Getting an artifact's bytes safely: never open what is not a regular file,
//! never read more than the file holds, map instead of copying.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::ReadError;

/// The bytes of an artifact: a read-only memory map, or an owned buffer for files
/// that cannot be mapped (empty files, some special file systems).
pub enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Owned(vec) => vec,
        }
    }
}

/// Opens `path` for reading without following it into anything but a regular file.
///
/// Directories, FIFOs, sockets and devices are refused before `open(2)`, so a FIFO
/// can never block plugctl.
pub fn load(path: &Path) -> Result<Bytes, ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::from_io)?;
    let file_type = meta.file_type();
    if file_type.is_dir() {
        return Err(ReadError::NotAFile("is a directory"));
    }
    if !file_type.is_file() {
        return Err(ReadError::NotAFile(special_file_kind(&file_type)));
    }
    let file = File::open(path).map_err(ReadError::from_io)?;
    if meta.len() == 0 {
        return Ok(Bytes::Owned(Vec::new()));
    }
    // SAFETY: the map is read-only and private; a file truncated under us can raise
    // SIGBUS, the same risk every mmap-based reader (readelf, object's own tools) takes.
    match unsafe { Mmap::map(&file) } {
        Ok(map) => Ok(Bytes::Mapped(map)),
        Err(_) => {
            let data = std::fs::read(path).map_err(ReadError::from_io)?;
            Ok(Bytes::Owned(data))
        }
    }
}

#[cfg(unix)]
fn special_file_kind(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "is a FIFO, not a regular file"
    } else if file_type.is_socket() {
        "is a socket, not a regular file"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "is a device, not a regular file"
    } else {
        "is not a regular file"
    }
}

#[cfg(not(unix))]
fn special_file_kind(_: &std::fs::FileType) -> &'static str {
    "is not a regular file"
}
