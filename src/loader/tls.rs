//! Static TLS accounting, as glibc 2.36 does it (`elf/dl-tls.c` `_dl_determine_tlsoffset`
//! at start-up, `elf/dl-reloc.c` `_dl_try_allocate_static_tls` for objects loaded later),
//! in both layouts, chosen by the target architecture ([`crate::elf::arch::TlsVariant`]):
//!
//! - `TLS_TCB_AT_TP` (x86-64, i386, s390x): blocks grow downwards from the TCB; sizes
//!   exclude the TCB, which cancels out; the area is `roundup(used + surplus, max_align)`.
//! - `TLS_DTV_AT_TP` (aarch64, arm, ppc64, riscv): blocks follow the TCB, so `used` starts
//!   at `TLS_TCB_SIZE` (`sizeof (tcbhead_t)`: 16 on aarch64, 8 on arm, 0 on ppc64 and
//!   riscv, whose TCB sits before the thread pointer); the area is
//!   `roundup(used + surplus, TLS_TCB_ALIGN)`, and a late block is placed at the first
//!   suitably aligned offset after `used`.
//!
//! `TLS_TCB_ALIGN` is `__alignof__ (struct pthread)`: `TCB_ALIGNMENT` (64 on x86), but at
//! least 32 since glibc 2.35 put the 32-byte aligned `struct rseq` area into it. The
//! surplus (1664 bytes by default) is the same on every architecture.
//!
//! Measured under `qemu-aarch64-static -L /usr/aarch64-linux-gnu` (Debian 12,
//! libc6-arm64-cross 2.36, a C host linked with libc only, libc's block 0x90 bytes aligned
//! 16): 128 bytes are left after six 256-byte initial-exec blocks (a 128-byte block still
//! loads, 129 does not), so `TLS_TCB_SIZE` = 16 and the area is 1824 bytes; a block
//! aligned 32 loads and one aligned 64 does not, so `TLS_TCB_ALIGN` = 32. The same
//! experiment under `qemu-arm-static` (libc6-armhf-cross 2.36: libc's block 0x54 bytes
//! aligned 4) leaves 132 bytes (8-byte TCB, 1760-byte area) and under
//! `qemu-riscv64-static` (libc6-riscv64-cross 2.36: 0x90 bytes aligned 8) 144 bytes (TCB
//! before the thread pointer, 1824-byte area); both load a block aligned 32, not 64.
//! ppc64le (libc6-ppc64el-cross: 0x90 bytes aligned 16) leaves 144 bytes like riscv64;
//! s390x (`TLS_TCB_AT_TP`, libc6-s390x-cross: 0x98 bytes aligned 8) leaves 136, so its
//! `TLS_TCB_ALIGN` is 32 too (the rseq area), not x86's 64.

use serde::Serialize;

use crate::elf::arch::{Arch, TlsVariant, X86_64};

/// The architecture-dependent constants of the static TLS layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub variant: TlsVariant,
    /// `TLS_TCB_SIZE` where blocks follow the TCB (`TLS_DTV_AT_TP`); unused otherwise.
    pub tcb_size: u64,
    /// `TLS_TCB_ALIGN`.
    pub tcb_align: u64,
}

impl Layout {
    pub fn of(arch: &Arch) -> Layout {
        Layout {
            variant: arch.tls,
            tcb_size: arch.tls_tcb_size,
            tcb_align: arch.tcb_align.max(1),
        }
    }
}

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
    #[serde(skip)]
    pub variant: TlsVariant,
}

impl StaticTls {
    /// Lays out the start-up blocks in module-ID order and adds the surplus (x86-64).
    pub fn startup(blocks: &[Block], surplus: u64, optional: u64) -> StaticTls {
        StaticTls::startup_for(&X86_64, blocks, surplus, optional)
    }

    /// Lays out the start-up blocks in module-ID order and adds the surplus, as the
    /// ld.so of `arch` does.
    pub fn startup_for(arch: &Arch, blocks: &[Block], surplus: u64, optional: u64) -> StaticTls {
        let layout = Layout::of(arch);
        match layout.variant {
            TlsVariant::TcbAtTp => StaticTls::startup_tcb_at_tp(layout, blocks, surplus, optional),
            TlsVariant::DtvAtTp => StaticTls::startup_dtv_at_tp(layout, blocks, surplus, optional),
        }
    }

    fn startup_tcb_at_tp(
        layout: Layout,
        blocks: &[Block],
        surplus: u64,
        optional: u64,
    ) -> StaticTls {
        let (mut offset, mut freetop, mut freebottom) = (0u64, 0u64, 0u64);
        let mut max_align = layout.tcb_align;
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
            variant: TlsVariant::TcbAtTp,
        }
    }

    /// `TLS_DTV_AT_TP`: blocks after the TCB; gaps left by alignment are reused.
    fn startup_dtv_at_tp(
        layout: Layout,
        blocks: &[Block],
        surplus: u64,
        optional: u64,
    ) -> StaticTls {
        let mut offset = layout.tcb_size;
        let (mut freetop, mut freebottom) = (0u64, 0u64);
        let mut max_align = layout.tcb_align;
        for b in blocks {
            let firstbyte = b.firstbyte.wrapping_neg() & (b.align - 1);
            max_align = max_align.max(b.align);
            if b.size <= freetop.wrapping_sub(freebottom) {
                let mut off = roundup(freebottom, b.align);
                if off.wrapping_sub(freebottom) < firstbyte {
                    off = off.wrapping_add(b.align);
                }
                let end = off.wrapping_add(b.size).wrapping_sub(firstbyte);
                if end <= freetop {
                    freebottom = end;
                    continue;
                }
            }
            let mut off = roundup(offset, b.align);
            if off.wrapping_sub(offset) < firstbyte {
                off = off.wrapping_add(b.align);
            }
            let start = off.wrapping_sub(firstbyte);
            if start.wrapping_sub(offset) > freetop.wrapping_sub(freebottom) {
                freebottom = offset;
                freetop = start;
            }
            offset = start.wrapping_add(b.size);
        }
        StaticTls {
            used: offset,
            limit: roundup(offset.saturating_add(surplus), layout.tcb_align),
            align: max_align,
            optional_left: optional,
            variant: TlsVariant::DtvAtTp,
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
        if self.variant == TlsVariant::DtvAtTp {
            return self.allocate_after(b, optional);
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

    /// `TLS_DTV_AT_TP`: the block goes at the first offset after `used` that keeps its
    /// first byte aligned (`ALIGN_UP (used - firstbyte, align) + firstbyte`).
    fn allocate_after(&mut self, b: Block, optional: bool) -> Option<u64> {
        let offset =
            roundup(self.used.wrapping_sub(b.firstbyte), b.align).wrapping_add(b.firstbyte);
        let used = offset.checked_add(b.size)?;
        if used > self.limit || used < self.used {
            return None;
        }
        let taken = used - self.used;
        if optional {
            if taken > self.optional_left {
                return None;
            }
            self.optional_left -= taken;
        }
        self.used = used;
        Some(taken)
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

    /// Measured under qemu-aarch64-static with Debian's aarch64 glibc 2.36 (module doc).
    #[test]
    fn aarch64_c_host_with_libc_leaves_128_bytes_after_six_256_byte_blocks() {
        let aarch64 = &crate::elf::arch::AARCH64;
        // libc.so.6 (libc6-arm64-cross 2.36): PT_TLS memsz 0x90, align 0x10, vaddr 0x19cdc0.
        let libc = [Block::new(0x90, 0x10, 0x19cdc0)];
        let mut tls = StaticTls::startup_for(aarch64, &libc, 1664, 512);
        assert_eq!((tls.used, tls.limit, tls.align), (160, 1824, 32));
        // libtls_small_N.so built by aarch64-linux-gnu-gcc: 256 bytes, align 8.
        let lib = Block::new(256, 8, 0x1fe28);
        let loaded = (0..10)
            .take_while(|_| tls.allocate(lib, false).is_some())
            .count();
        assert_eq!(loaded, 6);
        assert_eq!(tls.free(), 128);
        let mut probe = tls;
        assert_eq!(probe.allocate(Block::new(129, 1, 0), false), None);
        assert_eq!(probe.allocate(Block::new(128, 1, 0), false), Some(128));
        // A block aligned 32 loads, 64 never (TLS_TCB_ALIGN = 32).
        let fresh = StaticTls::startup_for(aarch64, &libc, 1664, 512);
        let (mut a, mut b) = (fresh, fresh);
        assert!(a.allocate(Block::new(8, 32, 0), false).is_some());
        assert_eq!(b.allocate(Block::new(8, 64, 0), false), None);
        // glibc.rtld.optional_static_tls=4096: all eight load.
        let mut big = StaticTls::startup_for(aarch64, &libc, 1664 - 512 + 4096, 4096);
        assert_eq!(
            (0..8)
                .filter(|_| big.allocate(lib, false).is_some())
                .count(),
            8
        );
    }

    /// Six 256-byte blocks, then the largest block that still loads: measured (module doc).
    fn left_after_six(arch: &Arch, libc: Block, lib: Block) -> (u64, u64) {
        let mut tls = StaticTls::startup_for(arch, &[libc], 1664, 512);
        let loaded = (0..8)
            .take_while(|_| tls.allocate(lib, false).is_some())
            .count();
        assert_eq!(loaded, 6, "{}", arch.name);
        let free = tls.free();
        let mut fits = tls;
        assert!(fits.allocate(Block::new(free, 1, 0), false).is_some());
        assert_eq!(tls.allocate(Block::new(free + 1, 1, 0), false), None);
        let aligned = |a| {
            StaticTls::startup_for(arch, &[libc], 1664, 512).allocate(Block::new(8, a, 0), false)
        };
        assert!(
            aligned(32).is_some() && aligned(64).is_none(),
            "{}",
            arch.name
        );
        (tls.limit, free)
    }

    #[test]
    fn arm_and_riscv64_leave_what_their_ld_so_leaves() {
        use crate::elf::arch::{ARM_HF, RISCV64};
        // libc6-armhf-cross 2.36: PT_TLS memsz 0x54, align 4, vaddr 0x10a800.
        let arm = left_after_six(
            &ARM_HF,
            Block::new(0x54, 4, 0x10a800),
            Block::new(256, 4, 0x1f30),
        );
        assert_eq!(arm, (1760, 132));
        // libc6-riscv64-cross 2.36: PT_TLS memsz 0x90, align 8, vaddr 0x122090.
        let riscv = left_after_six(
            &RISCV64,
            Block::new(0x90, 8, 0x122090),
            Block::new(256, 8, 0x1ec0),
        );
        assert_eq!(riscv, (1824, 144));
    }

    #[test]
    fn ppc64le_and_s390x_leave_what_their_ld_so_leaves() {
        use crate::elf::arch::{PPC64LE, S390X};
        // libc6-ppc64el-cross 2.36: PT_TLS memsz 0x90, align 16, vaddr 0x23c110.
        let ppc = left_after_six(
            &PPC64LE,
            Block::new(0x90, 16, 0x23c110),
            Block::new(256, 8, 0x1fd40),
        );
        assert_eq!(ppc, (1824, 144));
        // libc6-s390x-cross 2.36: PT_TLS memsz 0x98, align 8, vaddr 0x1b5348 (TLS_TCB_AT_TP:
        // the limit excludes the TCB).
        let s390x = left_after_six(
            &S390X,
            Block::new(0x98, 8, 0x1b5348),
            Block::new(256, 2, 0x1e20),
        );
        assert_eq!(s390x, (1824, 136));
    }

    #[test]
    fn dtv_at_tp_counts_the_first_byte_offset_and_alignment_padding() {
        let aarch64 = &crate::elf::arch::AARCH64;
        let mut tls = StaticTls::startup_for(aarch64, &[], 1664, 512);
        // The TCB (16 bytes) comes first.
        assert_eq!(tls.used, 16);
        // A 32-aligned block whose first byte sits 4 bytes into its alignment unit:
        // ALIGN_UP(16 - 4, 32) + 4 = 36, so it takes 20 bytes of padding plus its size.
        assert_eq!(tls.allocate(Block::new(10, 32, 4), false), Some(30));
        assert_eq!(tls.used, 46);
        // Optional (TLSDESC) use is charged with the padding too: 46 -> 48 + 8.
        assert_eq!(tls.allocate(Block::new(8, 16, 0), true), Some(10));
        assert_eq!(tls.optional_left, 512 - 10);
        // Start-up blocks reuse the gap an aligned block leaves after the TCB.
        let gap =
            StaticTls::startup_for(aarch64, &[Block::new(8, 64, 0), Block::new(16, 8, 0)], 0, 0);
        // First block at 64 (gap 16..64), second fits in the gap: used stays 72.
        assert_eq!(gap.used, 72);
    }

    #[test]
    fn x86_64_layout_is_unchanged_by_the_architecture_switch() {
        let blocks = [Block::new(0x90, 8, 0x1cf8d0)];
        assert_eq!(
            StaticTls::startup(&blocks, 1664, 512),
            StaticTls::startup_for(&crate::elf::arch::X86_64, &blocks, 1664, 512)
        );
        let i386 = StaticTls::startup_for(&crate::elf::arch::I386, &blocks, 1664, 512);
        assert_eq!(i386.variant, TlsVariant::TcbAtTp);
    }

    #[test]
    fn optional_allocation_respects_its_budget() {
        let mut tls = StaticTls::startup(&[], 1664, 100);
        assert_eq!(tls.allocate(Block::new(200, 8, 0), true), None);
        assert_eq!(tls.allocate(Block::new(64, 8, 0), true), Some(64));
        assert_eq!(tls.optional_left, 36);
    }
}
