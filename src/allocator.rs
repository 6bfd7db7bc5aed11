//! The global allocator: mimalloc for plugctl's own commands, glibc's malloc for its
//! sandboxed children.
//!
//! Reading a big Go plugin makes ~100,000 small allocations (a name per symbol) that glibc
//! serves from freshly faulted heap pages: mimalloc takes a 15 MB plugin's `inspect` from
//! 1,730 to 380 page faults and about -25 % CPU (bench/RESULTS.md). The children
//! (`plugctl __sandbox`, `plugctl __shim`) keep the allocator a C host has: they run
//! under RLIMIT_DATA and seccomp next to the plugin, and the loads they observe must be
//! the ones a real host sees.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

use mimalloc::MiMalloc;

/// Set before `main` for the hidden child entry points; never changes afterwards, so a
/// block is always freed by the allocator that made it.
static SYSTEM_ONLY: AtomicBool = AtomicBool::new(cfg!(not(target_env = "gnu")));

pub struct Allocator;

impl Allocator {
    fn system() -> bool {
        SYSTEM_ONLY.load(Ordering::Relaxed)
    }
}

// SAFETY: every call is forwarded to one of two allocators, chosen by a flag fixed before
// the first allocation, so each block is reallocated and freed by the one that made it.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe {
            if Self::system() {
                System.alloc(layout)
            } else {
                MiMalloc.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe {
            if Self::system() {
                System.alloc_zeroed(layout)
            } else {
                MiMalloc.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the allocator that made `ptr`.
        unsafe {
            if Self::system() {
                System.dealloc(ptr, layout)
            } else {
                MiMalloc.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the allocator that made `ptr`.
        unsafe {
            if Self::system() {
                System.realloc(ptr, layout, new_size)
            } else {
                MiMalloc.realloc(ptr, layout, new_size)
            }
        }
    }
}

/// mimalloc's `mi_option_arena_reserve` (its `mimalloc.h`, v3), in KiB.
#[cfg(target_env = "gnu")]
const MI_OPTION_ARENA_RESERVE: libc::c_int = 23;

/// The first arena mimalloc reserves: its minimum (32 MiB) rather than its default 1 GiB.
/// The bigger arena's start-up touched one more 2 MB huge page for a 15 MB plugin's
/// `inspect` (7 instead of 6, each zeroed by the kernel in about 80 µs; about -0.1 ms wall
/// in interleaved runs); later arenas still grow (mimalloc doubles them every eighth), so
/// a batch over thousands of files is as fast.
#[cfg(target_env = "gnu")]
const ARENA_RESERVE_KIB: libc::c_long = 32 << 10;

#[cfg(target_env = "gnu")]
unsafe extern "C" {
    fn mi_option_set(option: libc::c_int, value: libc::c_long);
}

/// Runs from `.init_array`, before `main` and before Rust allocates anything: glibc
/// passes `argc`, `argv` and `envp` to these functions (musl does not, hence `gnu` only;
/// elsewhere the system allocator is used throughout).
#[cfg(target_env = "gnu")]
extern "C" fn choose(argc: libc::c_int, argv: *const *const libc::c_char, _: *const usize) {
    // SAFETY: mimalloc's options are plain settings, read when an arena is first needed;
    // nothing has allocated yet.
    unsafe { mi_option_set(MI_OPTION_ARENA_RESERVE, ARENA_RESERVE_KIB) };
    if argc < 2 || argv.is_null() {
        return;
    }
    // SAFETY: glibc hands over the process's argv, `argc` valid NUL-terminated strings.
    let first = unsafe { std::ffi::CStr::from_ptr(*argv.add(1)) };
    if first == c"__sandbox" || first == c"__shim" {
        SYSTEM_ONLY.store(true, Ordering::Relaxed);
    }
}

#[cfg(target_env = "gnu")]
#[used]
#[unsafe(link_section = ".init_array")]
static CHOOSE: extern "C" fn(libc::c_int, *const *const libc::c_char, *const usize) = choose;

#[cfg(all(test, target_env = "gnu"))]
mod tests {
    use super::{ARENA_RESERVE_KIB, MI_OPTION_ARENA_RESERVE};

    unsafe extern "C" {
        fn mi_option_get_size(option: libc::c_int) -> usize;
    }

    /// `choose` ran before this test (from `.init_array`, as in every plugctl process), and
    /// the option it set is one of mimalloc's sizes in KiB (read back in bytes; any other
    /// kind of option reads back as the plain number).
    #[test]
    fn the_arena_reserve_is_set_before_main() {
        // SAFETY: a read of mimalloc's option table.
        let bytes = unsafe { mi_option_get_size(MI_OPTION_ARENA_RESERVE) };
        assert_eq!(bytes, (ARENA_RESERVE_KIB as usize) << 10);
    }
}
