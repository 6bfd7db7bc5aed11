//! Unsigned integers in a file's byte order.

/// `bytes` as an unsigned integer, big- or little-endian; up to 8 bytes.
pub fn uint(bytes: &[u8], big_endian: bool) -> u64 {
    // Words and half-words, the common cases, without the byte loop.
    if let Ok(b) = <[u8; 8]>::try_from(bytes) {
        return if big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        };
    }
    if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        return u64::from(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        });
    }
    let mut v: u64 = 0;
    if big_endian {
        for b in bytes {
            v = (v << 8) | u64::from(*b);
        }
    } else {
        for b in bytes.iter().rev() {
            v = (v << 8) | u64::from(*b);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::uint;

    #[test]
    fn reads_both_byte_orders_at_every_width() {
        assert_eq!(uint(&[1, 2], false), 0x0201);
        assert_eq!(uint(&[1, 2], true), 0x0102);
        assert_eq!(uint(&[1, 0, 0, 0], false), 1);
        assert_eq!(uint(&[0, 0, 0, 1], true), 1);
        assert_eq!(uint(&[0, 0, 0, 0, 0, 0, 0, 2], true), 2);
        assert_eq!(uint(&[2, 0, 0, 0, 0, 0, 0, 0], false), 2);
    }
}
