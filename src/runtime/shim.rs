//! `plugctl __shim`: the C loader shim (`shim.c`, compiled in by build.rs), run only in
//! a sandboxed child. It needs no Go toolchain and works for any shared object.

use std::ffi::{CString, c_char, c_int};

unsafe extern "C" {
    fn plugctl_shim_main(argc: c_int, argv: *mut *mut c_char) -> c_int;
}

/// Runs the shim on `args` (everything after `__shim`); returns its exit code.
pub fn main(args: impl Iterator<Item = std::ffi::OsString>) -> i32 {
    use std::os::unix::ffi::OsStringExt;
    let owned: Vec<CString> = args
        .map(|a| CString::new(a.into_vec()).unwrap_or_else(|_| CString::new("?").expect("no NUL")))
        .collect();
    let mut ptrs: Vec<*mut c_char> = owned.iter().map(|c| c.as_ptr().cast_mut()).collect();
    ptrs.push(std::ptr::null_mut());
    // SAFETY: argv is a NULL-terminated array of valid C strings that outlive the call;
    // the shim only reads them.
    unsafe { plugctl_shim_main(owned.len() as c_int, ptrs.as_mut_ptr()) }
}
