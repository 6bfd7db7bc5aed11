//! Compiles the loader shim (`src/runtime/shim.c`) into plugctl: `plugctl __shim ...`
//! runs it in a sandboxed child, so plugctl stays one binary.

fn main() {
    println!("cargo:rerun-if-changed=src/runtime/shim.c");
    cc::Build::new()
        .file("src/runtime/shim.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("plugctl_shim");
    // dlopen lives in libc since glibc 2.34; older glibc needs libdl.
    println!("cargo:rustc-link-lib=dl");
}
