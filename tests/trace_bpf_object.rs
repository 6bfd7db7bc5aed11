//! src/runtime/trace/bpf/trace.bpf.o is generated from trace.bpf.c and checked in (a
//! machine without clang still builds plugctl). This rebuilds it with
//! src/runtime/trace/bpf/build.sh into a temporary file and fails when the checked-in
//! object differs. Without clang it reports itself skipped, unless
//! PLUGCTL_REQUIRE_CLANG=1 (CI), where that is a failure.

use std::path::Path;
use std::process::Command;

#[test]
fn committed_bpf_object_matches_its_source() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime/trace/bpf");
    let have = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("clang") || !have("llvm-strip") {
        let why = "clang or llvm-strip not found: the committed eBPF object cannot be checked";
        assert!(
            std::env::var_os("PLUGCTL_REQUIRE_CLANG").is_none(),
            "{why} (PLUGCTL_REQUIRE_CLANG is set)"
        );
        eprintln!("SKIPPED: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("trace.bpf.o");
    let out = Command::new(dir.join("build.sh"))
        .arg(&fresh)
        .output()
        .expect("run build.sh");
    assert!(
        out.status.success(),
        "build.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read(dir.join("trace.bpf.o")).unwrap();
    assert!(
        std::fs::read(&fresh).unwrap() == committed,
        "src/runtime/trace/bpf/trace.bpf.o is stale: run src/runtime/trace/bpf/build.sh and commit it"
    );
}
