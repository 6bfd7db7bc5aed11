//! NUL-terminated strings inside string tables (`.dynstr`, `.strtab`, `ld.so.cache`).

/// The bytes of the NUL-terminated string at `offset` in `table`, without the NUL; `None`
/// when `offset` is outside `table` or no NUL follows it there.
///
/// A big Go plugin's `.dynstr` holds 33,000 names of 40 bytes on average: memchr's SIMD
/// search for the end took a third of the time to read its symbols (a byte-by-byte loop).
pub fn c_str(table: &[u8], offset: u64) -> Option<&[u8]> {
    let rest = table.get(usize::try_from(offset).ok()?..)?;
    let end = memchr::memchr(0, rest)?;
    Some(&rest[..end])
}

/// Up to the first NUL of `bytes`, or all of it when there is none (`PT_INTERP`).
pub fn until_nul(bytes: &[u8]) -> &[u8] {
    match memchr::memchr(0, bytes) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_the_first_nul_after_offset() {
        let table = b"\0libc.so.6\0GLIBC_2.34\0";
        assert_eq!(c_str(table, 1), Some(&b"libc.so.6"[..]));
        assert_eq!(c_str(table, 11), Some(&b"GLIBC_2.34"[..]));
        assert_eq!(c_str(table, 0), Some(&b""[..]));
    }

    #[test]
    fn refuses_offsets_outside_and_unterminated_strings() {
        assert_eq!(c_str(b"abc\0", 4), None);
        assert_eq!(c_str(b"abc\0", 5), None);
        assert_eq!(c_str(b"abc", 0), None);
        assert_eq!(c_str(b"abc\0", u64::MAX), None);
    }

    #[test]
    fn until_nul_keeps_unterminated_bytes() {
        assert_eq!(until_nul(b"/lib/ld.so\0junk"), b"/lib/ld.so");
        assert_eq!(until_nul(b"/lib/ld.so"), b"/lib/ld.so");
    }
}
