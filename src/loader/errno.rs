//! errno values and their glibc `strerror` texts, for the `: %m` suffix of dlerror().

pub const ENOENT: i32 = 2;
pub const EIO: i32 = 5;
pub const EACCES: i32 = 13;
pub const ENOTDIR: i32 = 20;
pub const EISDIR: i32 = 21;
pub const EINVAL: i32 = 22;
pub const ENAMETOOLONG: i32 = 36;
pub const ELOOP: i32 = 40;

/// glibc's English `strerror` text for the errno values a file open can give.
pub fn strerror(errno: i32) -> String {
    let text = match errno {
        1 => "Operation not permitted",
        ENOENT => "No such file or directory",
        EIO => "Input/output error",
        6 => "No such device or address",
        9 => "Bad file descriptor",
        12 => "Cannot allocate memory",
        EACCES => "Permission denied",
        16 => "Device or resource busy",
        19 => "No such device",
        ENOTDIR => "Not a directory",
        EISDIR => "Is a directory",
        EINVAL => "Invalid argument",
        23 => "Too many open files in system",
        24 => "Too many open files",
        26 => "Text file busy",
        27 => "File too large",
        30 => "Read-only file system",
        ENAMETOOLONG => "File name too long",
        ELOOP => "Too many levels of symbolic links",
        75 => "Value too large for defined data type",
        95 => "Operation not supported",
        116 => "Stale file handle",
        _ => {
            let text = std::io::Error::from_raw_os_error(errno).to_string();
            return match text.rfind(" (os error") {
                Some(cut) => text[..cut].to_string(),
                None => text,
            };
        }
    };
    text.to_string()
}

/// The errno of an I/O error, ENOENT when it has none.
pub fn of(err: &std::io::Error) -> i32 {
    err.raw_os_error().unwrap_or(match err.kind() {
        std::io::ErrorKind::PermissionDenied => EACCES,
        _ => ENOENT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_texts_match_glibc() {
        assert_eq!(strerror(ENOENT), "No such file or directory");
        assert_eq!(strerror(EISDIR), "Is a directory");
        assert_eq!(strerror(ELOOP), "Too many levels of symbolic links");
        assert!(!strerror(99).contains("os error"));
    }
}
