use super::*;
use std::path::PathBuf;

fn system_lib(name: &str) -> Option<PathBuf> {
    [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
    ]
    .iter()
    .map(|d| Path::new(d).join(name))
    .find(|p| p.exists())
}

fn env_at(cwd: &Path) -> Environment {
    Environment::build(None, None, cwd.to_path_buf(), None, false)
}

#[test]
fn system_library_loads_into_a_minimal_c_host() {
    let Some(libz) = system_lib("libz.so.1") else {
        return;
    };
    let env = env_at(Path::new("/"));
    let art = Artifact::read(&libz).unwrap();
    let sim = Loader::new(&env).simulate(None, &[&art], OpenMode::C_HOST);
    let p = &sim.plugins[0];
    assert_eq!(p.verdict.outcome, Outcome::Ok, "{:?}", p.verdict);
    // libc.so.6 came from start-up; the host's tree found it through the cache.
    let libc = sim
        .host
        .tree
        .nodes
        .iter()
        .find(|n| n.name == "libc.so.6")
        .unwrap();
    assert!(
        matches!(libc.rule, Some(Rule::Cache) | Some(Rule::Default)),
        "{libc:?}"
    );
    assert!(
        p.tree
            .nodes
            .iter()
            .any(|n| n.name == "libc.so.6" && n.rule == Some(Rule::AlreadyLoaded))
    );
    assert_eq!(sim.host.tls_free, 1712 + sim.host.tls_used - 144);
}

#[test]
fn in_memory_artifact_is_checked_from_its_bytes() {
    let Some(libz) = system_lib("libz.so.1") else {
        return;
    };
    let env = env_at(Path::new("/"));
    let bytes = std::fs::read(&libz).unwrap();
    let art = Artifact::from_vec(PathBuf::from("/nonexistent/dir/libz-copy.so"), bytes).unwrap();
    let p = predict(None, &[&art], &env, OpenMode::C_HOST);
    assert_eq!(p[0].verdict.outcome, Outcome::Ok, "{:?}", p[0].verdict);
}

#[test]
fn files_that_are_not_elf_get_glibcs_words() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_at(dir.path());
    std::fs::write(dir.path().join("short.so"), b"hello").unwrap();
    std::fs::write(
        dir.path().join("script.so"),
        "GROUP ( /lib/x86_64-linux-gnu/libc.so.6 )\n".repeat(4),
    )
    .unwrap();
    let short = open_error(None, &dir.path().join("short.so"), &env).unwrap();
    assert_eq!(
        short.error.unwrap(),
        format!("{}/short.so: file too short", dir.path().display())
    );
    let script = open_error(None, Path::new("./script.so"), &env).unwrap();
    assert_eq!(
        script.error.as_deref(),
        Some("./script.so: invalid ELF header")
    );
    assert_eq!(script.outcome, Outcome::NotElf);
    let missing = open_error(None, Path::new("libdoes-not-exist.so.9"), &env).unwrap();
    assert_eq!(
        missing.error.as_deref(),
        Some("libdoes-not-exist.so.9: cannot open shared object file: No such file or directory")
    );
    assert_eq!(missing.outcome, Outcome::MissingLibrary);
}

#[test]
fn sysroot_paths_stay_virtual() {
    let (Some(libc), Some(libz)) = (system_lib("libc.so.6"), system_lib("libz.so.1")) else {
        return;
    };
    let Ok(interp) = std::fs::canonicalize(super::super::env::X86_64_INTERP) else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("usr/lib/x86_64-linux-gnu")).unwrap();
    std::fs::create_dir_all(r.join("lib64")).unwrap();
    std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
    std::fs::copy(
        &interp,
        r.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    // An absolute symlink, as distributions ship it: must resolve inside the sysroot.
    std::os::unix::fs::symlink(
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        r.join("lib64/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    std::fs::copy(&libc, r.join("usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    std::fs::create_dir_all(r.join("opt")).unwrap();
    std::fs::copy(&libz, r.join("opt/libz.so.1")).unwrap();
    let env = Environment::build(None, Some(r.to_path_buf()), PathBuf::from("/"), None, false);
    assert!(env.cache.is_none());
    assert!(env.glibc_version.is_some(), "{:?}", env.problems);
    let mut plugin = Artifact::read(&r.join("opt/libz.so.1")).unwrap();
    plugin.path = PathBuf::from("/opt/libz.so.1");
    let sim = Loader::new(&env).simulate(None, &[&plugin], OpenMode::C_HOST);
    assert_eq!(
        sim.plugins[0].verdict.outcome,
        Outcome::Ok,
        "{:?}",
        sim.plugins[0].verdict
    );
    let libc_node = sim
        .host
        .tree
        .nodes
        .iter()
        .find(|n| n.name == "libc.so.6")
        .unwrap();
    assert_eq!(
        libc_node.path.as_deref(),
        Some("/lib/x86_64-linux-gnu/libc.so.6")
    );
    assert_eq!(libc_node.rule, Some(Rule::Default));
}

#[test]
fn go_plugin_open_uses_the_real_path() {
    let Some(libz) = system_lib("libz.so.1") else {
        return;
    };
    let env = env_at(Path::new("/"));
    let art = Artifact::read(&libz).unwrap();
    let sim = Loader::new(&env).simulate(None, &[&art], OpenMode::GO_PLUGIN_OPEN);
    let real = std::fs::canonicalize(&libz).unwrap();
    assert_eq!(sim.plugins[0].name, real.to_string_lossy());
}

#[test]
fn damaged_objects_never_panic() {
    let Some(libz) = system_lib("libz.so.1") else {
        return;
    };
    let env = env_at(Path::new("/"));
    let good = std::fs::read(&libz).unwrap();
    let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15u64);
    let mut next = || rng.next();
    let mut loader = Loader::new(&env);
    let mut damaged = Vec::new();
    for round in 0..150 {
        let mut bytes = good.clone();
        // Damage the headers mostly: that is where the loader looks.
        for _ in 0..(1 + round % 8) {
            let limit = if round % 3 == 0 {
                bytes.len()
            } else {
                0x1000.min(bytes.len())
            };
            let at = (next() % limit as u64) as usize;
            bytes[at] = next() as u8;
        }
        if round % 10 == 0 {
            bytes.truncate((next() % good.len() as u64) as usize);
        }
        if let Ok(art) = Artifact::from_vec(
            PathBuf::from(format!("/nonexistent/damaged-{round}.so")),
            bytes,
        ) {
            damaged.push(art);
        }
    }
    let refs: Vec<&Artifact> = damaged.iter().collect();
    let sim = loader.simulate(None, &refs, OpenMode::C_HOST);
    assert_eq!(sim.plugins.len(), refs.len());
}
