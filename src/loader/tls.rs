//! Static TLS accounting, as glibc 2.36 does it on x86-64 (`TLS_TCB_AT_TP`):
//! `_dl_determine_tlsoffset` at start-up and `_dl_try_allocate_static_tls` for objects
//! loaded later. All sizes are in bytes and exclude the TCB, which cancels out.

use serde::Serialize;

/// `TCB_ALIGNMENT` on x86-64.
pub const TCB_ALIGNMENT: u64 = 64;

/// One object's TLS block (`PT_TLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub size: u64,
    pub align: u64,
    /// `p_vaddr & (p_align - 1)`: bytes before the first one the block uses.
    pub firstbyte: u64,
}

impl Block {
    pub fn new(size: u64, align: u64, vaddr: u64) -> Block {
        let align = align.max(1);
        Block {
            size,
            align,
            firstbyte: if align.is_power_of_two() {
                vaddr & (align - 1)
            } else {
                vaddr % align
            },
        }
    }
}

/// The static TLS area of a running process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StaticTls {
    /// `GL(dl_tls_static_used)`.
    pub used: u64,
    /// `GLRO(dl_tls_static_size) - TLS_TCB_SIZE`: the end of the usable area.
    pub limit: u64,
    /// `GLRO(dl_tls_static_align)`: a block aligned more strictly can never be placed.
    pub align: u64,
    /// `GL(dl_tls_static_optional)`: what TLS descriptors may still take.
    pub optional_left: u64,
}

impl StaticTls {
    /// Lays out the start-up blocks in module-ID order and adds the surplus.
    pub fn startup(blocks: &[Block], surplus: u64, optional: u64) -> StaticTls {
        let (mut offset, mut freetop, mut freebottom) = (0u64, 0u64, 0u64);
        let mut max_align = TCB_ALIGNMENT;
        for b in blocks {
            let firstbyte = b.firstbyte.wrapping_neg() & (b.align - 1);
            max_align = max_align.max(b.align);
            // size_t arithmetic: wraps like glibc's on absurd inputs instead of panicking.
            if freebottom.wrapping_sub(freetop) >= b.size {
                let top = freetop.wrapping_add(b.size).wrapping_sub(firstbyte);
                let off = roundup(top, b.align).wrapping_add(firstbyte);
                if off <= freebottom {
                    freetop = off;
                    continue;
                }
            }
            let end = offset.wrapping_add(b.size);
            let off = roundup(end.wrapping_sub(firstbyte), b.align).wrapping_add(firstbyte);
            if off > end.wrapping_add(freebottom.wrapping_sub(freetop)) {
                freetop = offset;
                freebottom = off.wrapping_sub(b.size);
            }
            offset = off;
        }
        StaticTls {
            used: offset,
            limit: roundup(offset.saturating_add(surplus), max_align),
            align: max_align,
            optional_left: optional,
        }
    }

    /// Bytes not yet used.
    pub fn free(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    /// `_dl_try_allocate_static_tls`: the bytes taken, or `None` when the block does not fit.
    pub fn allocate(&mut self, b: Block, optional: bool) -> Option<u64> {
        if b.align > self.align {
            return None;
        }
        let freebytes = self.free();
        let blsize = b.size.saturating_add(b.firstbyte);
        if freebytes < blsize {
            return None;
        }
        let n = (freebytes - blsize) / b.align;
        let used = freebytes - n * b.align - b.firstbyte;
        if optional {
            if used > self.optional_left {
                return None;
            }
            self.optional_left -= used;
        }
        self.used += used;
        Some(used)
    }
}

fn roundup(value: u64, align: u64) -> u64 {
    let align = align.max(1);
    value.div_ceil(align).wrapping_mul(align)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_host_with_libc_has_1712_bytes_and_fits_six_256_byte_blocks() {
        // libc.so.6 on Debian 12: PT_TLS memsz 0x90, align 8.
        let mut tls = StaticTls::startup(&[Block::new(0x90, 8, 0x1cf8d0)], 1664, 512);
        assert_eq!(tls.free(), 1712);
        let lib = Block::new(256, 32, 0);
        let loaded = (0..10)
            .take_while(|_| tls.allocate(lib, false).is_some())
            .count();
        assert_eq!(loaded, 6);
    }

    #[test]
    fn over_aligned_block_never_fits() {
        let mut tls = StaticTls::startup(&[], 1664, 512);
        assert_eq!(tls.allocate(Block::new(8, 128, 0), false), None);
        assert_eq!(tls.allocate(Block::new(8, 8, 0), false), Some(8));
    }

    #[test]
    fn optional_allocation_respects_its_budget() {
        let mut tls = StaticTls::startup(&[], 1664, 100);
        assert_eq!(tls.allocate(Block::new(200, 8, 0), true), None);
        assert_eq!(tls.allocate(Block::new(64, 8, 0), true), Some(64));
        assert_eq!(tls.optional_left, 36);
    }
}
