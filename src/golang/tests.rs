//! Unit tests on synthetic and corrupted input; checks against real Go binaries when
//! they are available (built under `target/golang-test` by `go_binaries()`, or listed in
//! `PLUGCTL_GO_BINARIES`).

use super::*;

#[test]
fn parses_go_versions() {
    let v = parse_go_version("go1.26.6").unwrap();
    assert_eq!(
        (v.major, v.minor, v.patch, v.pre.as_deref(), v.devel),
        (1, 26, 6, None, false)
    );
    let v = parse_go_version("go1.21rc1").unwrap();
    assert_eq!((v.minor, v.patch, v.pre.as_deref()), (21, 0, Some("rc1")));
    let v = parse_go_version("go1.21").unwrap();
    assert_eq!((v.minor, v.patch), (21, 0));
    let v = parse_go_version("go1.22.0 X:rangefunc").unwrap();
    assert_eq!((v.minor, v.patch), (22, 0));
    let v = parse_go_version("devel go1.23-abcdef0 Tue Jan 2 15:04:05 2024 +0000").unwrap();
    assert_eq!((v.minor, v.devel, v.pre.as_deref()), (23, true, None));
    assert_eq!(parse_go_version("devel +abcdef Tue"), None);
    assert_eq!(parse_go_version(""), None);
    assert_eq!(parse_go_version("go"), None);
    assert_eq!(parse_go_version("go1.x"), None);
    assert_eq!(parse_go_version("go99999999999.1"), None);
    assert_eq!(
        parse_go_version("go1.26.6").unwrap().to_string(),
        "go1.26.6"
    );
    assert_eq!(
        parse_go_version("go1.21rc1").unwrap().to_string(),
        "go1.21rc1"
    );
}

#[test]
#[ignore = "diagnostic, not a check: PLUGCTL_GO_DUMP=FILE[:FILE] prints the Go facts"]
fn dump_from_env() {
    let Ok(paths) = std::env::var("PLUGCTL_GO_DUMP") else {
        return;
    };
    for p in paths.split(':') {
        let art = crate::elf::Artifact::read(std::path::Path::new(p)).unwrap();
        let t = std::time::Instant::now();
        let facts = read(&art);
        let el = t.elapsed();
        println!(
            "{p}: {el:?}\n{}",
            serde_json::to_string_pretty(&facts).unwrap()
        );
    }
}

// ---------------------------------------------------------------------------
// Synthetic ELF files: one RW PT_LOAD at vaddr 0 covering the whole file, a payload
// at file offset (= address) 0x100, optionally a `.go.buildinfo` section over it.

const PAYLOAD: usize = 0x100;

fn tiny_elf(payload: &[u8], with_sections: bool) -> Vec<u8> {
    let mut f = vec![0u8; PAYLOAD];
    f.extend_from_slice(payload);
    while !f.len().is_multiple_of(8) {
        f.push(0);
    }
    let shstrtab = b"\0.go.buildinfo\0.shstrtab\0";
    let shstr_off = f.len();
    f.extend_from_slice(shstrtab);
    while !f.len().is_multiple_of(8) {
        f.push(0);
    }
    let shoff = f.len();
    let shnum: u16 = if with_sections { 3 } else { 0 };
    if with_sections {
        f.extend_from_slice(&[0u8; 64]); // null section
        f.extend_from_slice(&shdr(
            1,
            1,
            3,
            PAYLOAD as u64,
            PAYLOAD as u64,
            payload.len() as u64,
        ));
        f.extend_from_slice(&shdr(15, 3, 0, 0, shstr_off as u64, shstrtab.len() as u64));
    }
    let total = f.len() as u64;
    // ELF header.
    f[0..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // little endian
    f[6] = 1; // version
    f[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
    f[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    f[40..48].copy_from_slice(&(if with_sections { shoff as u64 } else { 0 }).to_le_bytes());
    f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    f[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    f[60..62].copy_from_slice(&shnum.to_le_bytes());
    f[62..64].copy_from_slice(&(if with_sections { 2u16 } else { 0 }).to_le_bytes());
    // PT_LOAD, RW, offset 0, vaddr 0.
    let ph = 64;
    f[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
    f[ph + 4..ph + 8].copy_from_slice(&6u32.to_le_bytes());
    f[ph + 32..ph + 40].copy_from_slice(&total.to_le_bytes());
    f[ph + 40..ph + 48].copy_from_slice(&total.to_le_bytes());
    f[ph + 48..ph + 56].copy_from_slice(&0x1000u64.to_le_bytes());
    f
}

fn shdr(name: u32, kind: u32, flags: u64, addr: u64, offset: u64, size: u64) -> [u8; 64] {
    let mut s = [0u8; 64];
    s[0..4].copy_from_slice(&name.to_le_bytes());
    s[4..8].copy_from_slice(&kind.to_le_bytes());
    s[8..16].copy_from_slice(&flags.to_le_bytes());
    s[16..24].copy_from_slice(&addr.to_le_bytes());
    s[24..32].copy_from_slice(&offset.to_le_bytes());
    s[32..40].copy_from_slice(&size.to_le_bytes());
    s[48..56].copy_from_slice(&1u64.to_le_bytes());
    s
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

const SENTINEL_START: &[u8; 16] = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6";
const SENTINEL_END: &[u8; 16] = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2";

fn framed(modinfo: &str) -> Vec<u8> {
    let mut m = SENTINEL_START.to_vec();
    m.extend_from_slice(modinfo.as_bytes());
    m.extend_from_slice(SENTINEL_END);
    m
}

fn inline_blob(version: &str, modinfo: &str) -> Vec<u8> {
    let mut b = buildinfo::MAGIC.to_vec();
    b.push(8); // ptr size
    b.push(2); // flags: inline, little endian
    b.resize(32, 0);
    varint(version.len() as u64, &mut b);
    b.extend_from_slice(version.as_bytes());
    let m = framed(modinfo);
    varint(m.len() as u64, &mut b);
    b.extend_from_slice(&m);
    b
}

fn artifact(bytes: Vec<u8>) -> crate::elf::Artifact {
    crate::elf::Artifact::from_vec("test.so".into(), bytes).expect("synthetic ELF parses")
}

const MODINFO: &str = "path\texample.com/plug\nmod\texample.com/plug\t(devel)\t\n\
    dep\texample.com/shared\tv0.0.0-00010101000000-000000000000\n=>\t../shared\t(devel)\t\n\n\
    build\t-buildmode=plugin\nbuild\t-ldflags=\"-s -w\"\nbuild\tCGO_ENABLED=1\nbuild\tGOAMD64=v3\n";

#[test]
fn reads_inline_build_info_from_section_and_without_sections() {
    for with_sections in [true, false] {
        let art = artifact(tiny_elf(&inline_blob("go1.26.6", MODINFO), with_sections));
        let facts = read(&art).expect("a Go binary");
        assert_eq!(facts.version, "go1.26.6");
        assert_eq!(facts.build_info.format, BuildInfoFormat::Inline);
        assert_eq!(
            facts.build_info.located_by,
            if with_sections {
                "section"
            } else {
                "segment_scan"
            }
        );
        assert_eq!(facts.build_info.address, PAYLOAD as u64);
        assert_eq!(facts.role, GoRole::Plugin);
        assert_eq!(facts.setting("-ldflags"), Some("-s -w"));
        assert_eq!(facts.cgo_enabled(), Some(true));
        assert_eq!(facts.minor(), Some((1, 26)));
        assert_eq!(facts.patch(), Some(6));
        assert_eq!(facts.deps[0].replace.as_ref().unwrap().path, "../shared");
        // Printed back exactly as Go prints it.
        assert_eq!(facts.modinfo_text(), MODINFO);
        // Nothing else to find in this file, and that is said.
        assert!(
            facts.problems.iter().any(|p| p.contains("pkghashes")),
            "{:?}",
            facts.problems
        );
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(json["role"], "plugin");
        assert_eq!(json["hash_order"], "unknown");
    }
}

#[test]
fn reads_pointer_build_info() {
    // Header with two pointers to Go string headers (pre-1.18 form).
    let version = b"go1.17.13";
    let modinfo = framed(MODINFO);
    let base = PAYLOAD as u64;
    let mut b = buildinfo::MAGIC.to_vec();
    b.push(8);
    b.push(0); // pointer form, little endian
    let hdr_v = base + 32;
    let hdr_m = base + 48;
    let data_v = base + 64;
    let data_m = data_v + version.len() as u64;
    b.extend_from_slice(&hdr_v.to_le_bytes());
    b.extend_from_slice(&hdr_m.to_le_bytes());
    b.extend_from_slice(&data_v.to_le_bytes());
    b.extend_from_slice(&(version.len() as u64).to_le_bytes());
    b.extend_from_slice(&data_m.to_le_bytes());
    b.extend_from_slice(&(modinfo.len() as u64).to_le_bytes());
    b.extend_from_slice(version);
    b.extend_from_slice(&modinfo);
    let facts = read(&artifact(tiny_elf(&b, true))).expect("a Go binary");
    assert_eq!(facts.version, "go1.17.13");
    assert_eq!(facts.build_info.format, BuildInfoFormat::Pointer);
    assert_eq!(facts.main_path.as_deref(), Some("example.com/plug"));
    // Pointers into nowhere: not a Go binary, no panic.
    let mut bad = b.clone();
    bad[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(read(&artifact(tiny_elf(&bad, true))).is_none());
    let mut bad = b.clone();
    bad[40..48].copy_from_slice(&(u64::MAX - 3).to_le_bytes()); // version length
    assert!(read(&artifact(tiny_elf(&bad, true))).is_none());
    let mut bad = b;
    bad[14] = 3; // pointer size
    assert!(read(&artifact(tiny_elf(&bad, true))).is_none());
}

#[test]
fn corrupted_blobs_never_panic() {
    // Lengths past the end, overlong varints, truncated headers.
    let good = inline_blob("go1.26.6", MODINFO);
    let mut huge = good.clone();
    huge.truncate(32);
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(read(&artifact(tiny_elf(&huge, true))).is_none());
    let mut overlong = good.clone();
    overlong.truncate(32);
    overlong.extend_from_slice(&[0x80; 12]);
    assert!(read(&artifact(tiny_elf(&overlong, true))).is_none());
    let truncated = good[..20].to_vec();
    assert!(read(&artifact(tiny_elf(&truncated, true))).is_none());
    let mut no_magic = good.clone();
    no_magic[1] = b'X';
    assert!(read(&artifact(tiny_elf(&no_magic, true))).is_none());
    assert!(read(&artifact(tiny_elf(&no_magic, false))).is_none());
    // Module info without its frame is dropped, as Go does.
    let mut unframed = good[..32].to_vec();
    varint(8, &mut unframed);
    unframed.extend_from_slice(b"go1.26.6");
    varint(5, &mut unframed);
    unframed.extend_from_slice(b"path\t");
    let facts = read(&artifact(tiny_elf(&unframed, true))).unwrap();
    assert!(facts.main_path.is_none());
    assert!(!facts.problems.is_empty());
    // Every single-byte corruption of the blob, and random multi-byte ones.
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..good.len() {
        for v in [0x00, 0x7f, 0x80, 0xff] {
            let mut b = good.clone();
            b[i] = v;
            let _ = read(&artifact(tiny_elf(&b, i % 2 == 0)));
        }
    }
    for _ in 0..500 {
        let mut b = good.clone();
        for _ in 0..4 {
            let i = (rand() as usize) % b.len();
            b[i] = rand() as u8;
        }
        let _ = read(&artifact(tiny_elf(&b, true)));
    }
}

// ---------------------------------------------------------------------------
// Real binaries: the fixture corpus (tests/fixtures/build.py -> target/fixtures), built
// here when missing (the script is cached and locked), as the integration tests do.

fn fixtures() -> std::path::PathBuf {
    use std::sync::OnceLock;
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::var_os("PLUGCTL_FIXTURE_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| root.join("target/fixtures"));
        if std::env::var_os("PLUGCTL_FIXTURES_READY").is_none_or(|v| v != "1") {
            let status = std::process::Command::new("python3")
                .arg(root.join("tests/fixtures/build.py"))
                .arg("--out")
                .arg(&dir)
                .status()
                .expect("python3 runs tests/fixtures/build.py");
            assert!(status.success(), "tests/fixtures/build.py failed: {status}");
        }
        assert!(
            dir.join("manifest.json").is_file(),
            "no fixture corpus at {}",
            dir.display()
        );
        dir
    })
    .clone()
}

struct Fixture {
    id: String,
    kind: String,
    path: std::path::PathBuf,
    go: String,
    arch: String,
    flags: serde_json::Value,
}

fn go_fixtures(dir: &std::path::Path) -> Vec<Fixture> {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            matches!(
                a["kind"].as_str(),
                Some("go-plugin" | "go-host" | "go-envhost")
            )
        })
        .map(|a| Fixture {
            id: a["id"].as_str().unwrap().into(),
            kind: a["kind"].as_str().unwrap().into(),
            path: dir.join(a["path"].as_str().unwrap()),
            go: a["go"].as_str().unwrap_or("").into(),
            arch: a["arch"].as_str().unwrap_or("").into(),
            flags: a["flags"].clone(),
        })
        .collect()
}

fn load(path: &std::path::Path) -> (crate::elf::Artifact, GoFacts) {
    let art = crate::elf::Artifact::read(path).unwrap();
    let facts = read(&art).unwrap_or_else(|| panic!("{} is a Go binary", path.display()));
    (art, facts)
}

/// A Go toolchain to run `go version -m` with.
fn go_tool() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME")?;
    let base = std::env::var_os("PLUGCTL_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(&home).join(".cache/plugctl"));
    ["1.27.3", "1.26.6", "1.26.5", "1.22.10", "1.21.13"]
        .iter()
        .map(|v| base.join(format!("toolchains/go{v}/go/bin/go")))
        .find(|p| p.is_file())
}

#[test]
fn build_info_matches_go_version_m() {
    let dir = fixtures();
    let go = go_tool().expect("the fixture build installs Go toolchains into plugctl's cache");
    let mut compared = 0;
    for f in go_fixtures(&dir) {
        let (_, facts) = load(&f.path);
        let out = std::process::Command::new(&go)
            .args(["version", "-m"])
            .arg(&f.path)
            .env("GOTOOLCHAIN", "local")
            .output()
            .unwrap();
        assert!(out.status.success(), "go version -m {}", f.path.display());
        let text = String::from_utf8(out.stdout).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        assert_eq!(
            first,
            format!("{}: {}", f.path.display(), facts.version),
            "{}",
            f.id
        );
        let expected: String = rest
            .lines()
            .map(|l| format!("{}\n", l.strip_prefix('\t').unwrap_or(l)))
            .collect();
        assert_eq!(facts.modinfo_text(), expected, "{}", f.id);
        assert_eq!(facts.version, format!("go{}", f.go), "{}", f.id);
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} binaries compared");
}

#[test]
fn plugin_facts_on_the_corpus() {
    let dir = fixtures();
    for f in go_fixtures(&dir) {
        let (art, facts) = load(&f.path);
        let t = std::time::Instant::now();
        let again = read(&art).unwrap();
        let took = t.elapsed();
        assert!(
            took < std::time::Duration::from_millis(if cfg!(debug_assertions) { 2000 } else { 50 }),
            "{}: {took:?}",
            f.id
        );
        assert_eq!(again.package_hashes, facts.package_hashes);
        // plugctl's table of layouts (the fallback) agrees with the binary's own.
        let layout = facts.moduledata_layout.as_ref().unwrap();
        let table =
            moduledata::layout_from_version(facts.parsed_version.as_ref().unwrap(), 8).unwrap();
        assert_eq!(layout.key_fields, table.key_fields, "{}", f.id);
        assert_eq!(layout.size, table.size, "{}", f.id);
        // A static (cgo-less) executable has no type:runtime.moduledata symbol.
        let want = if f.flags["cgo"] == false {
            "version_table"
        } else {
            "type_descriptor"
        };
        assert_eq!(
            facts.moduledata_layout.as_ref().unwrap().source,
            want,
            "{}",
            f.id
        );
        if f.kind != "go-plugin" {
            assert_eq!(facts.role, GoRole::Executable, "{}", f.id);
            assert_eq!(facts.hash_order, HashOrder::LookupTable);
            // Hosts that import "plugin" export their hashes, stripped or not.
            if f.flags["cgo"] != false {
                assert!(
                    facts.package_hashes.len() > 20,
                    "{}: {} hashes",
                    f.id,
                    facts.package_hashes.len()
                );
            }
            continue;
        }
        assert_eq!(facts.role, GoRole::Plugin, "{}", f.id);
        assert!(facts.problems.is_empty(), "{}: {:?}", f.id, facts.problems);
        assert_eq!(facts.hash_order, HashOrder::ModuleData, "{}", f.id);
        // The table and the relocations agree (else a problem would be recorded above).
        assert!(
            facts.hash_order_detail.contains("agrees with"),
            "{}: {}",
            f.id,
            facts.hash_order_detail
        );
        let pp = facts.plugin_path.as_deref().unwrap();
        if f.flags["source"] == "files" {
            assert!(pp.starts_with("plugin/unnamed-"), "{}: {pp}", f.id);
        } else {
            assert_eq!(Some(pp), facts.main_path.as_deref(), "{}", f.id);
        }
        let names: Vec<(&str, ExportKind)> = facts
            .exports
            .iter()
            .map(|e| (e.name.as_str(), e.kind))
            .collect();
        // The ssl variants are other packages: Name and Handler only, env read in Handler.
        let greeter = !pp.ends_with("ssl");
        let mut want = vec![("Name", ExportKind::Var), ("Handler", ExportKind::Func)];
        if greeter {
            want.extend([
                ("APIKey", ExportKind::Var),
                ("Init", ExportKind::Func),
                ("Run", ExportKind::Func),
                ("Close", ExportKind::Func),
            ]);
        }
        for w in &want {
            assert!(names.contains(w), "{}: {names:?}", f.id);
        }
        assert!(facts.exports.iter().all(|e| e.in_dynsym), "{}", f.id);
        // Init code is scanned on x86-64, arm64 and 386 (386 and more arm64 greeters:
        // init_env_scan_names_the_variable_on_arm64_and_386).
        if f.arch == "x86_64" || f.arch == "aarch64" {
            if greeter {
                assert!(
                    facts.init_env_reads.iter().any(|n| n == "DEEPSEEK_API_KEY"),
                    "{}: {:?}",
                    f.id,
                    facts.init_env
                );
            } else {
                assert!(
                    facts.init_env_reads.is_empty(),
                    "{}: {:?}",
                    f.id,
                    facts.init_env_reads
                );
            }
            assert!(
                matches!(
                    facts.init_env,
                    InitEnvScan::Scanned {
                        unnamed_reads: 0,
                        ..
                    }
                ),
                "{}: {:?}",
                f.id,
                facts.init_env
            );
        } else {
            assert!(
                matches!(facts.init_env, InitEnvScan::NotScanned { .. }),
                "{}",
                f.id
            );
        }
    }
}

/// Every pair and sequence of a Go host and plugins that the corpus ran: the simulated
/// runtime checks must give what the host did, plugin after plugin.
#[test]
fn predictions_match_observed_outcomes() {
    let dir = fixtures();
    let observed = std::fs::read_to_string(dir.join("observed.json"))
        .expect("the fixture build records observed.json");
    let observed: serde_json::Value = serde_json::from_str(&observed).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let artifacts: std::collections::HashMap<&str, &serde_json::Value> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_str().unwrap(), a))
        .collect();
    let results: std::collections::HashMap<&str, &serde_json::Value> = observed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    let mut cache: std::collections::HashMap<String, Option<GoFacts>> =
        std::collections::HashMap::new();
    let mut facts_of = |id: &str| -> Option<GoFacts> {
        cache
            .entry(id.to_string())
            .or_insert_with(|| {
                let art =
                    crate::elf::Artifact::read(&dir.join(artifacts[id]["path"].as_str().unwrap()))
                        .ok()?;
                read(&art)
            })
            .clone()
    };
    let mut checked = 0;
    let mut tally: std::collections::BTreeMap<String, usize> = Default::default();
    let mut failures = Vec::new();
    for pair in manifest["pairs"].as_array().unwrap() {
        let host_id = pair["host"].as_str().unwrap();
        if artifacts[host_id]["kind"] != "go-host" {
            continue;
        }
        let Some(result) = results.get(pair["id"].as_str().unwrap()) else {
            continue;
        };
        let summary = result["summary"].as_str().unwrap();
        if [
            "cannot open shared object",
            "undefined symbol",
            "wrong ELF class",
            "invalid ELF header",
            "file too short",
            "cannot read file data",
            "ELF load command",
            "only ET_DYN",
        ]
        .iter()
        .any(|e| summary.contains(e))
        {
            continue; // loader failures happen before the runtime
        }
        let items: Vec<&str> = summary.split(" | ").collect();
        let plugins = pair["plugins"].as_array().unwrap();
        let host = facts_of(host_id).unwrap();
        let mut earlier_facts: Vec<(GoFacts, bool)> = Vec::new();
        let mut seen_paths: Vec<&str> = Vec::new();
        for (k, pid) in plugins.iter().enumerate() {
            let pid = pid.as_str().unwrap();
            let Some(&item) = items.get(k) else { break };
            let path = artifacts[pid]["path"].as_str().unwrap();
            if seen_paths.contains(&path) {
                continue; // plugin.Open caches by realpath: the first result again
            }
            seen_paths.push(path);
            let facts = facts_of(pid);
            if facts.is_none() && artifacts[pid]["kind"] != "c-shared" {
                break; // malformed files: loader territory
            }
            let earlier: Vec<Earlier> = earlier_facts
                .iter()
                .map(|(f, active)| Earlier {
                    facts: f,
                    active: *active,
                })
                .collect();
            let p = match &facts {
                Some(f) => predict_open(&host, f, &earlier),
                None => predict_open_non_go(&host, &earlier),
            };
            let ok = match &p.outcome {
                OpenOutcome::Passes => item == "OK",
                OpenOutcome::NotImplemented => item.ends_with("plugin: not implemented"),
                OpenOutcome::NotRegistered => {
                    item.contains("fatal error: runtime: no plugin module data")
                }
                OpenOutcome::PackageMismatch { package, .. } => item.ends_with(&format!(
                    "plugin was built with a different version of package {package}"
                )),
                OpenOutcome::Crash => {
                    item.contains("SIGSEGV") && item.contains("plugin.lastmoduleinit")
                }
                OpenOutcome::AlreadyLoaded => item.ends_with("plugin already loaded"),
                OpenOutcome::EmptyPluginPath => item.contains("empty pluginpath"),
                OpenOutcome::Unpredictable => item.starts_with("CRASH"),
            };
            if !ok {
                failures.push(format!(
                    "{} #{k}: predicted {:?} ({:?}), observed {item}",
                    pair["id"], p.outcome, p.steps
                ));
            }
            checked += 1;
            let kind = format!("{:?}", p.outcome);
            *tally
                .entry(kind.split(' ').next().unwrap().to_string())
                .or_default() += 1;
            if let Some(f) = facts {
                let active = p.outcome == OpenOutcome::Passes;
                earlier_facts.push((f, active));
            }
            if matches!(
                p.outcome,
                OpenOutcome::Crash | OpenOutcome::NotRegistered | OpenOutcome::Unpredictable
            ) {
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 50, "only {checked} opens checked");
    eprintln!("{checked} plugin.Open calls predicted as observed: {tally:?}");
}

#[test]
fn open_error_text_is_gos() {
    assert_eq!(
        open_error("./p.so", "plugin already loaded"),
        "plugin.Open(\"./p\"): plugin already loaded"
    );
    assert_eq!(open_error(".so", "x"), "plugin.Open(\".so\"): x");
    assert_eq!(open_error("dir/plug", "x"), "plugin.Open(\"dir/plug\"): x");
}

#[test]
#[ignore = "diagnostic, not a check: PLUGCTL_GO_PROFILE=FILE times golang::read"]
fn profile_from_env() {
    let Ok(p) = std::env::var("PLUGCTL_GO_PROFILE") else {
        return;
    };
    let art = crate::elf::Artifact::read(std::path::Path::new(&p)).unwrap();
    let t = std::time::Instant::now();
    let image = image::Image::new(&art);
    eprintln!("image {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let raw = buildinfo::read_raw(&image).unwrap();
    eprintln!("buildinfo {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let layout = moduledata::layout_from_type(&image).unwrap();
    eprintln!("layout {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let mut problems = vec![];
    let tables = moduledata::read_plugin_tables(&image, Some(&layout), &mut problems);
    eprintln!("tables {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let _ = initenv::scan(&image, tables.plugin_path.as_deref().unwrap());
    eprintln!("initenv {:?} {}", t.elapsed(), raw.version);
}

/// Real plugins with random bytes changed where the reader looks (build info, moduledata,
/// pkghashes table, relocations, type descriptors, init code) and anywhere: never a
/// panic, never a long run.
#[test]
fn corrupted_real_plugins_never_panic() {
    let dir = fixtures();
    let plugins: Vec<Fixture> = go_fixtures(&dir)
        .into_iter()
        // One per moduledata layout: found by slice scan (1.21), in .go.module (1.26, 1.27).
        .filter(|f| {
            [
                "go/plugin/1.21.13/default",
                "go/plugin/1.26.6/default",
                "go/plugin/1.27.3/default",
            ]
            .contains(&f.id.as_str())
        })
        .collect();
    let mut seed: u64 = 0x2545f4914f6cdd1d;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // PLUGCTL_FUZZ_ROUNDS raises the count for a deeper run (release build advised).
    let rounds: usize = std::env::var("PLUGCTL_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    for f in plugins.iter().take(3) {
        let bytes = std::fs::read(&f.path).unwrap();
        let art = crate::elf::Artifact::from_vec(f.path.clone(), bytes.clone()).unwrap();
        let facts = read(&art).unwrap();
        let image = image::Image::new(&art);
        // File ranges worth hitting.
        let mut regions: Vec<(usize, usize)> = Vec::new();
        let mut add_vaddr = |addr: u64, len: u64| {
            if let Some((off, _)) = image.locate(addr) {
                regions.push((off as usize, len as usize));
            }
        };
        add_vaddr(facts.build_info.address, 64);
        if let Some(md) = &facts.module_data {
            add_vaddr(md.address, 600);
        }
        let table_addr = u64::from_str_radix(
            facts
                .hash_order_detail
                .split(" at 0x")
                .nth(1)
                .unwrap()
                .split(':')
                .next()
                .unwrap(),
            16,
        )
        .unwrap();
        add_vaddr(table_addr, 40 * facts.package_hashes.len() as u64);
        for s in &art.symbols {
            if s.name == "type:runtime.moduledata" || s.name.ends_with(".init") {
                add_vaddr(s.value, s.size.max(64));
            }
        }
        for name in [".rela.dyn", ".dynsym", ".dynstr", ".go.buildinfo"] {
            if let Some(s) = art.section(name) {
                regions.push((s.offset as usize, s.size as usize));
            }
        }
        regions.push((0, bytes.len()));
        let host = facts.clone();
        for round in 0..rounds {
            let mut b = bytes.clone();
            let (start, len) = regions[round % regions.len()];
            for _ in 0..1 + rand() % 16 {
                let i = start + (rand() as usize) % len.max(1);
                if i < b.len() {
                    b[i] = match rand() % 4 {
                        0 => 0,
                        1 => 0xff,
                        2 => b[i] ^ 0x80,
                        _ => rand() as u8,
                    };
                }
            }
            let Ok(art) = crate::elf::Artifact::from_vec(f.path.clone(), b) else {
                continue;
            };
            let t = std::time::Instant::now();
            if let Some(facts) = read(&art) {
                let _ = predict_open(&host, &facts, &[]);
                let _ = serde_json::to_string(&facts).unwrap();
            }
            assert!(
                t.elapsed() < std::time::Duration::from_secs(2),
                "{} round {round}",
                f.id
            );
        }
    }
}

/// Without any moduledata layout, the relocations alone give the same table, in the same
/// order, and the plugin path (the string right before the `pkghashes` slice header).
#[test]
fn relocations_alone_give_the_table_order() {
    let dir = fixtures();
    let mut checked = 0;
    for f in go_fixtures(&dir)
        .into_iter()
        .filter(|f| f.kind == "go-plugin")
    {
        let (art, facts) = load(&f.path);
        let image = image::Image::new(&art);
        let mut problems = Vec::new();
        let tables = moduledata::read_plugin_tables(&image, None, &mut problems);
        assert!(problems.is_empty(), "{}: {problems:?}", f.id);
        assert_eq!(
            tables.order.as_ref().unwrap().0,
            HashOrder::Relocations,
            "{}",
            f.id
        );
        assert_eq!(tables.hashes, facts.package_hashes, "{}", f.id);
        assert_eq!(tables.plugin_path, facts.plugin_path, "{}", f.id);
        checked += 1;
    }
    assert!(checked >= 10, "{checked}");
}

/// The init-time environment scan on the cross corpus: every arm64 and 386 greeter reads
/// DEEPSEEK_API_KEY in its package init, and the scan names it (386 passes the name on
/// the stack, set up through `__x86.get_pc_thunk`); the arm, ppc64le, s390x and riscv64
/// greeters say that they were not scanned.
#[test]
fn init_env_scan_names_the_variable_on_arm64_and_386() {
    let dir = fixtures();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut per_arch: std::collections::BTreeMap<String, usize> = Default::default();
    for a in manifest["artifacts"].as_array().unwrap() {
        if a["kind"] != "cross-go-plugin" {
            continue;
        }
        let id = a["id"].as_str().unwrap();
        let (_, facts) = load(&dir.join(a["path"].as_str().unwrap()));
        let arch = a["arch"].as_str().unwrap();
        if !["aarch64", "i386"].contains(&arch) {
            assert!(
                facts.init_env_reads.is_empty()
                    && matches!(&facts.init_env, InitEnvScan::NotScanned { reason }
                        if reason == "init code is only scanned on x86-64, arm64 and i386"),
                "{id}: {:?}",
                facts.init_env
            );
            continue;
        }
        assert_eq!(facts.init_env_reads, ["DEEPSEEK_API_KEY"], "{id}");
        assert!(
            matches!(
                facts.init_env,
                InitEnvScan::Scanned {
                    unnamed_reads: 0,
                    ..
                }
            ),
            "{id}: {:?}",
            facts.init_env
        );
        *per_arch
            .entry(a["arch"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    eprintln!("init env scan on cross plugins: {per_arch:?}");
    assert!(
        per_arch.get("i386").copied().unwrap_or(0) >= 4
            && per_arch.get("aarch64").copied().unwrap_or(0) >= 4,
        "the cross corpus has 386 and arm64 greeters: {per_arch:?}"
    );
}
