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

/// Runs from `.init_array`, before `main` and before Rust allocates anything: glibc
/// passes `argc`, `argv` and `envp` to these functions (musl does not, hence `gnu` only;
/// elsewhere the system allocator is used throughout).
#[cfg(target_env = "gnu")]
extern "C" fn choose(argc: libc::c_int, argv: *const *const libc::c_char, _: *const usize) {
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
