//! Checks of the loader model against the real thing (`cargo test --lib
//! loader::agreement -- --nocapture` shows every case):
//!
//! - `real_dlopen_agreement`: builds C objects with gcc (and `gcc -m32`,
//!   `aarch64-linux-gnu-gcc`, `musl-gcc` when present) in a temporary directory, runs a
//!   tiny C dlopen host on each case in a fresh process, and compares dlerror() with the
//!   prediction, text for text.
//! - `ldd_agreement`: resolves every shared object under `/usr/lib/x86_64-linux-gnu` and
//!   compares each `name => path` with `ldd`.
//!
//! The fixture corpus's real loads are compared in `tests/loader_agreement.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::env::Environment;
use super::process::{Loader, OpenMode, Plugin};
use crate::elf::Artifact;

fn env_with(llp: Option<&str>, cwd: &Path, tunables: Option<&str>) -> Environment {
    Environment::build(
        llp.map(str::to_string),
        None,
        cwd.to_path_buf(),
        tunables.map(str::to_string),
        false,
    )
}

// -----------------------------------------------------------------------------------------
// Real dlopen

/// One case: objects to build, then a dlopen sequence in a fresh process.
struct Case {
    name: &'static str,
    /// Plugins opened in order (paths relative to the case directory unless absolute).
    open: Vec<String>,
    llp: Option<String>,
    lazy: bool,
    global: bool,
    tunables: Option<String>,
    /// Run from this subdirectory of the case directory (for relative paths).
    cwd: Option<&'static str>,
    /// A host binary built for this case (default: the plain dlhost).
    host: Option<&'static str>,
    /// `LD_PRELOAD`.
    preload: Option<String>,
}

fn case(name: &'static str, open: &[&str]) -> Case {
    Case {
        name,
        open: open.iter().map(|s| s.to_string()).collect(),
        llp: None,
        lazy: false,
        global: false,
        tunables: None,
        cwd: None,
        host: None,
        preload: None,
    }
}

/// `./tls/libs1.so` … `./tls/libsN.so`: the 256-byte initial-exec TLS libraries.
fn small_tls(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("./tls/libs{i}.so")).collect()
}

fn sh(dir: &Path, script: &str) -> bool {
    let out = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh");
    if !out.status.success() {
        eprintln!(
            "build step failed in {}:\n{script}\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.status.success()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

const DLHOST: &str = r#"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    int mode = RTLD_NOW, i = 1;
    setvbuf(stdout, NULL, _IONBF, 0);
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--lazy")) mode = (mode & ~RTLD_NOW) | RTLD_LAZY;
        if (!strcmp(argv[i], "--global")) mode |= RTLD_GLOBAL;
    }
    for (; i < argc; i++) {
        void *h = dlopen(argv[i], mode);
        if (h) printf("OK\n"); else printf("ERR %s\n", dlerror());
    }
    return 0;
}
"#;

/// Builds the corpus; returns the cases that could be built.
fn build_corpus(dir: &Path) -> Vec<Case> {
    std::fs::write(dir.join("dlhost.c"), DLHOST).unwrap();
    assert!(sh(dir, "gcc -o dlhost dlhost.c"));
    let so = "gcc -shared -fPIC -Wl,--no-as-needed";
    let mut cases = Vec::new();
    let mut add = |ok: bool, c: Case| {
        if ok {
            cases.push(c);
        }
    };

    // Plain, missing dependency, search order.
    add(
        sh(
            dir,
            &format!(
                "echo 'int simple(void){{return 1;}}' > simple.c && {so} -o libsimple.so simple.c"
            ),
        ),
        case("simple", &["./libsimple.so"]),
    );
    add(sh(dir, "true"), case("nonexistent", &["./nope.so"]));
    add(
        sh(dir, "true"),
        case("search-by-name-missing", &["libsimple.so"]),
    );
    let mut c = case("search-by-name-llp", &["libsimple.so"]);
    c.llp = Some(".".into());
    add(true, c);
    let mut c = case("search-by-name-llp-empty-element", &["libsimple.so"]);
    c.llp = Some("/nonexistent::".into());
    add(true, c);
    add(
        sh(
            dir,
            &format!(
                "mkdir -p deps gone && echo 'int dep(void){{return 2;}}' > dep.c && {so} -o deps/libdep.so.1 -Wl,-soname,libdep.so.1 dep.c \
                 && echo 'int dep(void); int use(void){{return dep();}}' > use.c \
                 && {so} -o libuse_nopath.so use.c -Ldeps -l:libdep.so.1 \
                 && {so} -o libuse_rpath.so use.c -Ldeps -l:libdep.so.1 -Wl,--disable-new-dtags,-rpath,'$ORIGIN/deps' \
                 && {so} -o libuse_runpath.so use.c -Ldeps -l:libdep.so.1 -Wl,--enable-new-dtags,-rpath,'$ORIGIN/deps' \
                 && {so} -o libuse_badrunpath.so use.c -Ldeps -l:libdep.so.1 -Wl,--enable-new-dtags,-rpath,'$ORIGIN/gone'"
            ),
        ),
        case("missing-dep", &["./libuse_nopath.so"]),
    );
    add(true, case("rpath-origin", &["./libuse_rpath.so"]));
    add(true, case("runpath-origin", &["./libuse_runpath.so"]));
    let mut c = case("llp-overrides-bad-runpath", &["./libuse_badrunpath.so"]);
    c.llp = Some(format!("{}/deps", dir.display()));
    add(true, c);
    add(true, case("bad-runpath", &["./libuse_badrunpath.so"]));
    // Loaded by name once, then the same dep satisfies the next plugin.
    let mut c = case(
        "dep-loaded-by-earlier-plugin",
        &["./libuse_rpath.so", "./libuse_nopath.so"],
    );
    c.global = false;
    add(true, c);

    // RPATH inheritance: a -> b (b has no path; RPATH of a is inherited), RUNPATH is not.
    add(
        sh(
            dir,
            &format!(
                "mkdir -p chain/lib && echo 'int c(void){{return 3;}}' > c.c && {so} -o chain/lib/libc3.so c.c \
                 && echo 'int c(void); int b(void){{return c();}}' > b.c && {so} -o chain/lib/libb3.so b.c -Lchain/lib -lc3 \
                 && echo 'int b(void); int a(void){{return b();}}' > a.c \
                 && {so} -o chain/liba_rpath.so a.c -Lchain/lib -lb3 -Wl,-rpath-link,chain/lib -Wl,--disable-new-dtags,-rpath,'$ORIGIN/lib' \
                 && {so} -o chain/liba_runpath.so a.c -Lchain/lib -lb3 -Wl,-rpath-link,chain/lib -Wl,--enable-new-dtags,-rpath,'$ORIGIN/lib'"
            ),
        ),
        case("rpath-inherited", &["./chain/liba_rpath.so"]),
    );
    add(
        true,
        case("runpath-not-inherited", &["./chain/liba_runpath.so"]),
    );
    // $LIB and $PLATFORM.
    add(
        sh(
            dir,
            &format!(
                "mkdir -p dst/lib/x86_64-linux-gnu dst/x86_64 && echo 'int tl(void){{return 4;}}' > tl.c \
                 && {so} -o dst/lib/x86_64-linux-gnu/libtlib.so tl.c && {so} -o dst/x86_64/libtplat.so tl.c \
                 && echo 'int main2(void){{return 0;}}' > u.c \
                 && {so} -o dst/uselib.so u.c -Ldst/lib/x86_64-linux-gnu -ltlib -Wl,--disable-new-dtags,-rpath,'$ORIGIN/$LIB' \
                 && {so} -o dst/useplat.so u.c -Ldst/x86_64 -ltplat -Wl,--enable-new-dtags,-rpath,'${{ORIGIN}}/$PLATFORM'"
            ),
        ),
        case("dst-lib-platform", &["./dst/uselib.so", "./dst/useplat.so"]),
    );

    // Versions.
    add(
        sh(
            dir,
            &format!(
                "mkdir -p ver/v1 ver/v2 && printf 'FOO_1.0 {{ global: foo; local: *; }};\\n' > v1.map \
                 && printf 'FOO_1.0 {{ global: foo; local: *; }};\\nFOO_2.0 {{ global: foo2; }} FOO_1.0;\\n' > v2.map \
                 && echo 'int foo(void){{return 1;}}' > foo1.c && echo 'int foo(void){{return 1;}} int foo2(void){{return 2;}}' > foo2.c \
                 && {so} -o ver/v1/libfoo.so.1 -Wl,-soname,libfoo.so.1 -Wl,--version-script=v1.map foo1.c \
                 && {so} -o ver/v2/libfoo.so.1 -Wl,-soname,libfoo.so.1 -Wl,--version-script=v2.map foo2.c \
                 && echo 'int foo2(void); int consume(void){{return foo2();}}' > cons.c \
                 && {so} -o ver/libconsumer.so cons.c -Lver/v2 -l:libfoo.so.1 \
                 && echo 'int missing_fn(void); int u(void){{return missing_fn();}}' > undef.c && {so} -o ver/libundef.so undef.c \
                 && echo 'extern int missing_data; int ud(void){{return missing_data;}}' > undefd.c && {so} -o ver/libundefdata.so undefd.c \
                 && echo '__attribute__((weak)) int weak_fn(void); int w(void){{return weak_fn ? weak_fn() : 0;}}' > weak.c && {so} -o ver/libweak.so weak.c \
                 && echo 'int secret(void){{return 9;}}' > provider.c && {so} -o ver/libprovider.so provider.c \
                 && echo 'int secret(void); int need_secret(void){{return secret();}}' > needsec.c && {so} -o ver/libneedsecret.so needsec.c"
            ),
        ),
        {
            let mut c = case("version-not-found", &["./ver/libconsumer.so"]);
            c.llp = Some(format!("{}/ver/v1", dir.display()));
            c
        },
    );
    let mut c = case("version-found", &["./ver/libconsumer.so"]);
    c.llp = Some(format!("{}/ver/v2", dir.display()));
    add(true, c);
    add(true, case("undefined-function", &["./ver/libundef.so"]));
    let mut c = case("undefined-function-lazy", &["./ver/libundef.so"]);
    c.lazy = true;
    add(true, c);
    let mut c = case("undefined-data-lazy", &["./ver/libundefdata.so"]);
    c.lazy = true;
    add(true, c);
    add(true, case("weak-undefined", &["./ver/libweak.so"]));
    add(
        true,
        case(
            "symbol-from-local-plugin",
            &["./ver/libprovider.so", "./ver/libneedsecret.so"],
        ),
    );
    let mut c = case(
        "symbol-from-global-plugin",
        &["./ver/libprovider.so", "./ver/libneedsecret.so"],
    );
    c.global = true;
    add(true, c);
    add(
        true,
        case(
            "missing-dep-beats-undefined",
            &["./libuse_nopath.so", "./ver/libundef.so"],
        ),
    );

    // Static TLS.
    add(
        sh(
            dir,
            &format!(
                "mkdir -p tls && echo '__thread char big[65536] __attribute__((tls_model(\"initial-exec\"))); char *b(void){{return big;}}' > big.c \
                 && {so} -o tls/libbig.so big.c \
                 && for i in 1 2 3 4 5 6 7 8; do echo \"__thread char s$i[256] __attribute__((tls_model(\\\"initial-exec\\\"))); char *f$i(void){{return s$i;}}\" > s$i.c && {so} -o tls/libs$i.so s$i.c; done \
                 && echo '__thread char gd[65536]; char *g(void){{return gd;}}' > gd.c && {so} -o tls/libgd.so gd.c \
                 && echo 'extern __thread char big[65536] __attribute__((tls_model(\"initial-exec\"))); char *ub(void){{return big;}}' > ub.c \
                 && {so} -o tls/libusebig.so ub.c -Ltls -lbig -Wl,--disable-new-dtags,-rpath,'$ORIGIN'"
            ),
        ),
        case("tls-64k-ie", &["./tls/libbig.so"]),
    );
    add(
        true,
        case("tls-64k-via-dependency", &["./tls/libusebig.so"]),
    );
    add(true, case("tls-64k-global-dynamic", &["./tls/libgd.so"]));
    add(
        true,
        Case {
            open: small_tls(8),
            ..case("tls-256-x8", &[])
        },
    );
    let mut c = Case {
        open: small_tls(8),
        ..case("tls-256-x8-tunable", &[])
    };
    c.tunables = Some("glibc.rtld.optional_static_tls=1024".into());
    add(true, c);
    let mut c = Case {
        open: small_tls(8),
        ..case("tls-256-x8-nns1", &[])
    };
    c.tunables = Some("glibc.rtld.nns=1".into());
    add(true, c);

    // Foreign and broken files.
    add(
        sh(
            dir,
            "printf hello > short.so && : > empty.so && mkdir -p adir.so && head -c 4096 /dev/zero > zeros.so && cp /etc/ld.so.cache notelf.so",
        ),
        case("short", &["./short.so"]),
    );
    add(true, case("empty", &["./empty.so"]));
    add(true, case("directory", &["./adir.so"]));
    add(true, case("zeros", &["./zeros.so"]));
    add(true, case("not-elf", &["./notelf.so"]));
    add(
        sh(dir, "head -c 100 libsimple.so > trunc100.so"),
        case("truncated-phdrs", &["./trunc100.so"]),
    );
    add(
        sh(dir, "cp dlhost exe.so"),
        case("pie-executable", &["./exe.so"]),
    );
    add(
        sh(
            dir,
            "echo 'int main(void){return 0;}' > m.c && gcc -no-pie -o exec.so m.c",
        ),
        case("executable", &["./exec.so"]),
    );
    add(
        sh(dir, "gcc -c -fPIC -o obj.so simple.c"),
        case("relocatable", &["./obj.so"]),
    );
    add(
        sh(
            dir,
            &format!("{so} -o libexecstack.so simple.c -Wl,-z,execstack"),
        ),
        case("exec-stack", &["./libexecstack.so"]),
    );
    add(
        sh(
            dir,
            &format!("{so} -o libnoopen.so simple.c -Wl,-z,nodlopen"),
        ),
        case("nodlopen", &["./libnoopen.so"]),
    );
    add(
        sh(dir, "ln -sf loop2.so loop1.so && ln -sf loop1.so loop2.so"),
        case("symlink-loop", &["./loop1.so"]),
    );
    add(
        sh(dir, "ln -sf libsimple.so alias.so"),
        case("same-file-twice", &["./libsimple.so", "./alias.so"]),
    );
    if have("objcopy") {
        add(
            sh(dir, "objcopy --only-keep-debug libsimple.so debug.so"),
            case("debuginfo-only", &["./debug.so"]),
        );
    }
    if sh(
        dir,
        "echo 'int simple32(void){return 1;}' > s32.c && gcc -m32 -shared -fPIC -o lib32.so s32.c",
    ) {
        add(true, case("i386", &["./lib32.so"]));
        add(
            sh(
                dir,
                &format!(
                    "mkdir -p wc32 && cp lib32.so wc32/libdep.so.1 && {so} -o libuse_wc32.so use.c -Ldeps -l:libdep.so.1 -Wl,--enable-new-dtags,-rpath,'$ORIGIN/wc32'"
                ),
            ),
            case("i386-dependency", &["./libuse_wc32.so"]),
        );
    }
    if have("aarch64-linux-gnu-gcc")
        && sh(
            dir,
            "aarch64-linux-gnu-gcc -shared -fPIC -o libarm.so simple.c",
        )
    {
        add(true, case("aarch64", &["./libarm.so"]));
        add(
            sh(
                dir,
                &format!(
                    "mkdir -p wm && cp libarm.so wm/libdep.so.1 && {so} -o libuse_wm.so use.c -Ldeps -l:libdep.so.1 -Wl,--enable-new-dtags,-rpath,'$ORIGIN/wm'"
                ),
            ),
            case("aarch64-dependency", &["./libuse_wm.so"]),
        );
    }
    if have("musl-gcc") && sh(dir, "musl-gcc -shared -fPIC -o libmusl.so simple.c") {
        add(true, case("musl", &["./libmusl.so"]));
    }
    // More symbol cases.
    add(
        sh(
            dir,
            &format!(
                "printf 'FOO_1.0 {{ global: foo; bar; local: *; }};\\n' > v3.map && echo 'int foo(void){{return 1;}} int bar(void){{return 3;}}' > foo3.c \
                 && mkdir -p ver/v3 && {so} -o ver/v3/libfoo.so.1 -Wl,-soname,libfoo.so.1 -Wl,--version-script=v3.map foo3.c \
                 && echo 'int bar(void); int c2(void){{return bar();}}' > cons2.c && {so} -o ver/libconsumer2.so cons2.c -Lver/v3 -l:libfoo.so.1 \
                 && echo 'int missing_a(void); int la(void){{return missing_a();}}' > la.c && {so} -o ver/libla.so la.c \
                 && echo 'int la(void); int missing_p(void); int pl(void){{return la() + missing_p();}}' > pl.c \
                 && {so} -o ver/libplug_two_undef.so pl.c -Lver -lla -Wl,--enable-new-dtags,-rpath,'$ORIGIN' \
                 && echo '__thread char tb[65536] __attribute__((tls_model(\"initial-exec\"))); int missing_t(void); int tu(void){{return tb[0] + missing_t();}}' > tu.c \
                 && {so} -o ver/libtls_undef.so tu.c \
                 && echo '__thread char td[65536]; char *tdf(void){{return td;}}' > td.c && {so} -mtls-dialect=gnu2 -o tls/libtlsdesc.so td.c"
            ),
        ),
        {
            let mut c = case("versioned-undefined", &["./ver/libconsumer2.so"]);
            c.llp = Some(format!("{}/ver/v1", dir.display()));
            c
        },
    );
    add(
        true,
        case(
            "dependency-relocated-first",
            &["./ver/libplug_two_undef.so"],
        ),
    );
    add(
        true,
        case("tls-and-undefined-same-object", &["./ver/libtls_undef.so"]),
    );
    add(
        true,
        case("tlsdesc-64k-falls-back", &["./tls/libtlsdesc.so"]),
    );
    // Cycles, slash names, two missing deps, shadowing in LD_LIBRARY_PATH.
    add(
        sh(
            dir,
            &format!(
                "mkdir -p cyc && echo 'int cb(void); int ca(void){{return 1;}}' > ca.c && echo 'int ca(void); int cb(void){{return ca();}}' > cb.c \
                 && {so} -o cyc/libcyca.so ca.c && {so} -o cyc/libcycb.so cb.c -Lcyc -lcyca -Wl,--enable-new-dtags,-rpath,'$ORIGIN' \
                 && {so} -o cyc/libcyca.so ca.c -Lcyc -lcycb -Wl,--enable-new-dtags,-rpath,'$ORIGIN' \
                 && {so} -o deps/libnosoname.so dep.c && {so} -o libslash.so use.c ./deps/libnosoname.so \
                 && echo 'int x1(void); int x2(void); int two(void){{return x1()+x2();}}' > two.c && echo 'int x1(void){{return 1;}}' > x1.c && echo 'int x2(void){{return 2;}}' > x2.c \
                 && mkdir -p tmpx && {so} -o tmpx/libx1.so x1.c && {so} -o tmpx/libx2.so x2.c && {so} -o libtwo_missing.so two.c -Ltmpx -lx1 -lx2 \
                 && echo 'int zlibVersion(void); int zz(void){{return zlibVersion() != 0;}}' > z.c && {so} -o libusez.so z.c -lz \
                 && mkdir -p shadow_arm shadow_bad shadow_dir/libz.so.1 && printf 'GROUP ( /nonexistent )\\n%.0s' $(seq 1 10) > shadow_bad/libz.so.1"
            ),
        ),
        case("dependency-cycle", &["./cyc/libcycb.so"]),
    );
    add(true, case("needed-with-slash", &["./libslash.so"]));
    add(
        true,
        case("two-missing-first-wins", &["./libtwo_missing.so"]),
    );
    add(true, case("cache-dependency", &["./libusez.so"]));
    if have("aarch64-linux-gnu-gcc")
        && sh(
            dir,
            "aarch64-linux-gnu-gcc -shared -fPIC -Wl,-soname,libz.so.1 -o shadow_arm/libz.so.1 simple.c",
        )
    {
        let mut c = case("arm-shadow-skipped-then-cache", &["./libusez.so"]);
        c.llp = Some(format!("{}/shadow_arm", dir.display()));
        add(true, c);
    }
    let mut c = case("non-elf-shadow-is-fatal", &["./libusez.so"]);
    c.llp = Some(format!("{}/shadow_bad", dir.display()));
    add(true, c);
    let mut c = case("directory-shadow-is-fatal", &["./libusez.so"]);
    c.llp = Some(format!("{}/shadow_dir", dir.display()));
    add(true, c);
    // Hosts with their own search paths, libraries and TLS.
    add(
        sh(
            dir,
            "gcc -o host_runpath dlhost.c -Wl,--enable-new-dtags,-rpath,'$ORIGIN/deps' \
             && gcc -o host_rpath dlhost.c -Wl,--disable-new-dtags,-rpath,'$ORIGIN/deps' \
             && gcc -o host_tls dlhost.c -Wl,--no-as-needed -Ltls -lbig -Wl,--enable-new-dtags,-rpath,'$ORIGIN/tls' \
             && gcc -o host_provider dlhost.c -Wl,--no-as-needed -Lver -lprovider -Wl,--enable-new-dtags,-rpath,'$ORIGIN/ver'",
        ),
        Case {
            host: Some("host_runpath"),
            ..case("host-runpath-dlopen-by-name", &["libdep.so.1"])
        },
    );
    add(
        true,
        Case {
            host: Some("host_runpath"),
            ..case("host-runpath-not-for-plugin-deps", &["./libuse_nopath.so"])
        },
    );
    add(
        true,
        Case {
            host: Some("host_rpath"),
            ..case("host-rpath-for-plugin-deps", &["./libuse_nopath.so"])
        },
    );
    add(
        true,
        Case {
            host: Some("host_tls"),
            ..case("host-loaded-ie-tls-dep", &["./tls/libusebig.so"])
        },
    );
    add(
        true,
        Case {
            host: Some("host_tls"),
            open: small_tls(7),
            ..case("host-with-64k-tls-then-256s", &[])
        },
    );
    add(
        true,
        Case {
            host: Some("host_provider"),
            ..case("host-provides-symbol", &["./ver/libneedsecret.so"])
        },
    );
    let mut c = Case {
        host: Some("host_rpath"),
        ..case("llp-origin-is-the-host-dir", &["./libuse_nopath.so"])
    };
    c.llp = Some("$ORIGIN/nothing:$ORIGIN/deps".into());
    add(true, c);
    // Static TLS boundaries: 256-byte IE libraries after a Go plugin (8-byte IE TLS bound
    // to itself in a C host) and without it, over a sweep of surplus sizes.
    let go_plugin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/fixtures/go/plugins/greeter-1.26.6-default.so");
    let smalls = small_tls(8);
    // 285-byte blocks with alignment 1: six fill 1710 of the 1712 free bytes exactly, so
    // the Go plugin's 8 bytes decide whether the sixth fits.
    let odd: Vec<String> = (1..=7).map(|i| format!("./tls/libodd{i}.so")).collect();
    let built = sh(
        dir,
        &format!(
            "for i in 1 2 3 4 5 6 7; do echo \"struct __attribute__((packed)) odd {{ char c[285]; }}; __thread struct odd o$i __attribute__((tls_model(\\\"initial-exec\\\"))); char *g$i(void){{return o$i.c;}}\" > odd$i.c && {so} -o tls/libodd$i.so odd$i.c; done"
        ),
    );
    add(
        built,
        Case {
            open: odd.clone(),
            ..case("tls-285-x7", &[])
        },
    );
    if go_plugin.exists() {
        let mut open = vec![go_plugin.display().to_string()];
        open.extend(odd.iter().cloned());
        add(
            built,
            Case {
                open,
                ..case("tls-go-then-285-x7", &[])
            },
        );
    }
    for optional in (512..=768).step_by(8) {
        for with_go in [false, true] {
            if with_go && !go_plugin.exists() {
                continue;
            }
            let mut open: Vec<String> = Vec::new();
            if with_go {
                open.push(go_plugin.display().to_string());
            }
            open.extend(smalls.iter().cloned());
            add(
                true,
                Case {
                    open,
                    tunables: Some(format!("glibc.rtld.optional_static_tls={optional}")),
                    ..case(
                        if with_go {
                            "tls-sweep-go-then-256s"
                        } else {
                            "tls-sweep-256s"
                        },
                        &[],
                    )
                },
            );
        }
    }
    // LD_PRELOAD: objects loaded at start-up, before the executable's dependencies.
    add(
        true,
        Case {
            preload: Some(format!("{}/ver/libprovider.so", dir.display())),
            ..case("preload-provides-symbol", &["./ver/libneedsecret.so"])
        },
    );
    add(
        true,
        Case {
            preload: Some(format!(
                "{0}/tls/libbig.so {0}/nothing-here.so:libsimple.so",
                dir.display()
            )),
            open: ["./tls/libusebig.so".to_string()]
                .into_iter()
                .chain(small_tls(7))
                .collect(),
            ..case("preload-ie-tls-and-missing", &[])
        },
    );
    add(
        sh(dir, "mkdir -p rel && cp libsimple.so rel/librel.so"),
        Case {
            cwd: Some("rel"),
            ..case(
                "relative-path-from-subdir",
                &["./librel.so", "../libuse_rpath.so"],
            )
        },
    );
    cases
}

#[test]
fn real_dlopen_agreement() {
    assert!(
        have("gcc"),
        "gcc is needed to build the loader cases (apt-get install gcc)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let cases = build_corpus(&dir);
    let (mut agree, mut total) = (0, 0);
    let mut report = Vec::new();
    let mut predicted_problems_differ = Vec::new();
    for c in &cases {
        let cwd = c.cwd.map_or(dir.clone(), |s| dir.join(s));
        let host_bin = dir.join(c.host.unwrap_or("dlhost"));
        let mut cmd = Command::new(&host_bin);
        cmd.current_dir(&cwd)
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("GLIBC_TUNABLES")
            .env_remove("LD_BIND_NOW");
        if c.lazy {
            cmd.arg("--lazy");
        }
        if c.global {
            cmd.arg("--global");
        }
        cmd.args(&c.open);
        if let Some(llp) = &c.llp {
            cmd.env("LD_LIBRARY_PATH", llp);
        }
        if let Some(t) = &c.tunables {
            cmd.env("GLIBC_TUNABLES", t);
        }
        cmd.env_remove("LD_PRELOAD");
        if let Some(pre) = &c.preload {
            cmd.env("LD_PRELOAD", pre);
        }
        let out = cmd.output().unwrap();
        // ld.so's own start-up complaints (ignored preloads).
        let real_problems: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("ERROR: ld.so:"))
            .map(str::to_string)
            .collect();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut real: Vec<String> = stdout.lines().map(str::to_string).collect();
        if !out.status.success() {
            use std::os::unix::process::ExitStatusExt;
            let signal = out.status.signal().unwrap_or(0);
            real.push(format!("CRASH signal {signal}"));
        }
        let mut env = env_with(c.llp.as_deref(), &cwd, c.tunables.as_deref());
        env.ld_preload = c.preload.clone();
        let host_art = Artifact::read(&host_bin).unwrap();
        // The model of a minimal C host applies when the case uses the plain dlhost and
        // does not depend on the host's own directory.
        let mut variants: Vec<(&str, Option<&Artifact>)> = vec![("host", Some(&host_art))];
        if c.host.is_none() {
            variants.push(("no-host", None));
        }
        let artifacts: Vec<Result<Artifact, String>> = c
            .open
            .iter()
            .map(|p| {
                Artifact::read(&cwd.join(p))
                    .map(|mut a| {
                        a.path = PathBuf::from(p);
                        a
                    })
                    .map_err(|e| e.to_string())
            })
            .collect();
        let mode = OpenMode {
            lazy: c.lazy,
            global: c.global,
            ..OpenMode::C_HOST
        };
        for (label, host) in variants {
            let mut loader = Loader::new(&env);
            let plugins: Vec<Plugin> = c
                .open
                .iter()
                .zip(&artifacts)
                .map(|(p, a)| match a {
                    Ok(a) => Plugin::Artifact(a),
                    Err(_) => Plugin::Name(p.clone()),
                })
                .collect();
            let sim = loader.simulate_plugins(host, &plugins, mode);
            if sim.host.problems != real_problems {
                predicted_problems_differ.push(format!(
                    "{}: real {:?}, predicted {:?}",
                    c.name, real_problems, sim.host.problems
                ));
            }
            let mut predicted = Vec::new();
            for p in sim.plugins {
                match (&p.verdict.outcome, &p.verdict.error) {
                    (crate::verdict::Outcome::Ok, _) => predicted.push("OK".to_string()),
                    (crate::verdict::Outcome::Crash, _) => {
                        predicted.push("CRASH signal 7".to_string());
                        break;
                    }
                    (_, Some(e)) => predicted.push(format!("ERR {e}")),
                    (_, None) => predicted.push("ERR ?".into()),
                }
            }
            total += 1;
            let same = predicted == real;
            if same {
                agree += 1;
            }
            report.push(format!(
                "{} {:<34} {label:<8} real: {:?}\n{:>47} pred: {:?}",
                if same { "OK  " } else { "DIFF" },
                c.name,
                real,
                "",
                predicted
            ));
        }
    }
    for line in &report {
        println!("{line}");
    }
    println!("agreement: {agree}/{total} cases");
    for d in &predicted_problems_differ {
        println!("start-up messages differ: {d}");
    }
    assert_eq!(agree, total, "predictions differ from real dlopen");
    assert!(predicted_problems_differ.is_empty());
}

// -----------------------------------------------------------------------------------------
// ldd

/// `ldd` output as `name => path` (`None` for "not found").
fn ldd(path: &Path) -> Option<BTreeMap<String, Option<String>>> {
    let out = Command::new("ldd")
        .arg(path)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success()
        || text.contains("not a dynamic executable")
        || text.contains("statically linked")
    {
        return None;
    }
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((name, rest)) = line.split_once(" => ") else {
            continue;
        };
        let rest = rest.trim();
        let path = if rest.starts_with("not found") {
            None
        } else {
            rest.rsplit_once(" (").map(|(p, _)| p.to_string())
        };
        map.insert(name.to_string(), path);
    }
    Some(map)
}

#[test]
fn ldd_agreement() {
    let dir = Path::new("/usr/lib/x86_64-linux-gnu");
    let entries = std::fs::read_dir(dir).expect("/usr/lib/x86_64-linux-gnu is listed");
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(".so"))
        })
        .collect();
    paths.sort();
    let started = std::time::Instant::now();
    let cpu_start = cpu_time();
    let env = Environment::build(None, None, PathBuf::from("/"), None, false);
    let artifacts: Vec<Artifact> = paths
        .iter()
        .filter_map(|p| Artifact::read(p).ok())
        .filter(|a| a.identity.machine_id == 62 && a.is_64())
        .collect();
    let cpu_read = cpu_time() - cpu_start;
    let mut loader = Loader::new(&env);
    let trees: Vec<_> = artifacts.iter().map(|a| loader.program_tree(a)).collect();
    let cpu = cpu_time() - cpu_start;
    println!(
        "CPU: {cpu_read:.3}s reading the artifacts, {:.3}s resolving",
        cpu - cpu_read
    );
    println!(
        "read and resolved {} objects (of {} files) in {:?} wall, {cpu:.3}s CPU",
        artifacts.len(),
        paths.len(),
        started.elapsed()
    );
    let (mut objects_same, mut objects, mut edges_same, mut edges) = (0, 0, 0, 0);
    let mut mismatches = Vec::new();
    for (a, setup) in artifacts.iter().zip(&trees) {
        let Some(real) = ldd(&a.path) else {
            println!("ldd has no list for {}", a.path.display());
            continue;
        };
        // Our view: every node with a name → the path the object was opened with.
        let mut ours = BTreeMap::new();
        for n in setup.tree.nodes.iter().skip(1) {
            ours.entry(n.name.clone()).or_insert_with(|| n.path.clone());
        }
        let interp = env.interpreter.clone();
        let mut same = true;
        for (name, path) in &real {
            if name.starts_with("linux-vdso") {
                continue;
            }
            edges += 1;
            let mine = ours.get(name).cloned().flatten();
            let theirs = path.clone();
            // ld.so itself: our l_name is its PT_INTERP name, ldd prints the same object.
            let agree =
                mine == theirs || (mine.as_deref() == Some(interp.as_str()) && theirs.is_some());
            if agree {
                edges_same += 1;
            } else {
                same = false;
                mismatches.push(format!(
                    "{}: {name}: ldd {:?}, ours {:?}",
                    a.path.display(),
                    theirs,
                    mine
                ));
            }
        }
        objects += 1;
        if same {
            objects_same += 1;
        }
    }
    for m in mismatches.iter().take(40) {
        println!("{m}");
    }
    println!(
        "ldd agreement: {objects_same}/{objects} objects, {edges_same}/{edges} dependency edges"
    );
    assert!(cpu < 1.0, "resolving took {cpu:.3}s of CPU");
}

fn cpu_time() -> f64 {
    // /proc/thread-self/stat fields 14 and 15: user and system time in clock ticks (100 Hz).
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

// -----------------------------------------------------------------------------------------
// The shared fixture corpus (tests/fixtures/build.py → target/fixtures)
