//! Which toolchain, flags and environment reproduce a host's package hashes.
//!
//! The build settings of the host's build info are read one by one: those that change the
//! compiled form of packages (`-trimpath`, `-race`, `-msan`, `-asan`, `-gcflags`,
//! `-asmflags`, `-tags`, `-pgo`, `-cover`, `GOEXPERIMENT`, the architecture level, the
//! target) are mirrored; the others are recorded with the reason they are not.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::golang::GoFacts;

/// Flags the user gave on the command line; with a host they override what is mirrored.
#[derive(Debug, Clone, Default)]
pub struct Explicit {
    /// `--go 1.26.6`.
    pub go: Option<String>,
    pub goos: Option<String>,
    pub goarch: Option<String>,
    pub trimpath: bool,
    pub race: bool,
    pub msan: bool,
    pub asan: bool,
    pub gcflags: Option<String>,
    pub tags: Option<String>,
    pub ldflags: Option<String>,
    /// `--env KEY=VALUE` (GOAMD64, GOARM64, GOEXPERIMENT, ...).
    pub env: Vec<(String, String)>,
}

/// What to build with.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// `1.26.6`.
    pub go_version: String,
    pub goos: String,
    pub goarch: String,
    /// `go build` flags besides `-buildmode=plugin`, `-modfile` and `-o`, in order.
    pub flags: Vec<String>,
    /// Environment that decides the compiled code: `CGO_ENABLED`, `GOOS`, `GOARCH`,
    /// `GOAMD64`, `GOEXPERIMENT`, ...
    pub env: BTreeMap<String, String>,
    /// One line per host setting: what was done with it.
    pub mirrored: Vec<MirrorNote>,
    /// Host settings that cannot be reproduced, and overrides that contradict the host.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MirrorNote {
    pub setting: String,
    pub host: String,
    pub action: String,
}

/// Why no target could be made.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("host {0}")]
    HostCannotLoad(String),
    #[error("{0}")]
    Unsupported(String),
}

/// Environment keys that select the architecture level or feature set.
const ARCH_LEVELS: &[&str] = &[
    "GOAMD64",
    "GOARM64",
    "GOARM",
    "GO386",
    "GOMIPS",
    "GOMIPS64",
    "GOPPC64",
    "GORISCV64",
    "GOWASM",
    "GOFIPS140",
];

/// The target for a plugin of `host` (or, without one, from the explicit flags alone).
pub fn target(host: Option<&GoFacts>, explicit: &Explicit) -> Result<Target, TargetError> {
    let mut t = Target {
        go_version: String::new(),
        goos: "linux".into(),
        goarch: machine_goarch().into(),
        flags: Vec::new(),
        env: BTreeMap::new(),
        mirrored: Vec::new(),
        warnings: Vec::new(),
    };
    let mut trimpath = explicit.trimpath;
    let mut race = explicit.race;
    let mut msan = explicit.msan;
    let mut asan = explicit.asan;
    let mut valued: Vec<(&str, String)> = Vec::new();
    if let Some(host) = host {
        mirror_host(
            host,
            &mut t,
            &mut trimpath,
            &mut race,
            &mut msan,
            &mut asan,
            &mut valued,
        )?;
        for (flag, given, hosts) in [
            (
                "-trimpath",
                explicit.trimpath,
                host.setting("-trimpath") == Some("true"),
            ),
            (
                "-race",
                explicit.race,
                host.setting("-race") == Some("true"),
            ),
            (
                "-msan",
                explicit.msan,
                host.setting("-msan") == Some("true"),
            ),
            (
                "-asan",
                explicit.asan,
                host.setting("-asan") == Some("true"),
            ),
        ] {
            if given && !hosts {
                t.warnings.push(format!(
                    "{flag} given but the host was built without it: every package hash changes, the plugin will not load into this host"
                ));
            }
        }
    }
    if let Some(go) = &explicit.go {
        let version = go.trim().trim_start_matches("go").to_string();
        if !t.go_version.is_empty() && t.go_version != version {
            t.warnings.push(format!(
                "--go {version} overrides the host's go{}: a different release changes package hashes (a different minor release crashes the host)",
                t.go_version
            ));
        }
        t.go_version = version;
    }
    if t.go_version.is_empty() {
        return Err(TargetError::Unsupported(
            "no Go version: give --host HOST (a Go program) or --go VERSION".into(),
        ));
    }
    if let Some(goos) = &explicit.goos {
        override_value(&mut t, "GOOS", goos, host.is_some());
        t.goos = goos.clone();
    }
    if let Some(goarch) = &explicit.goarch {
        override_value(&mut t, "GOARCH", goarch, host.is_some());
        if goarch != &t.goarch {
            t.env
                .retain(|k, _| !ARCH_LEVELS.contains(&k.as_str()) || *k == "GOFIPS140");
        }
        t.goarch = goarch.clone();
    }
    for (key, value, flag) in [
        ("-gcflags", &explicit.gcflags, "gcflags"),
        ("-tags", &explicit.tags, "tags"),
        ("-ldflags", &explicit.ldflags, "ldflags"),
    ] {
        if let Some(value) = value {
            if host.is_some_and(|h| h.setting(key) != Some(value.as_str())) && key != "-ldflags" {
                t.warnings.push(format!(
                    "--{flag}={value} differs from the host's {key}; package hashes may change"
                ));
            }
            valued.retain(|(k, _)| *k != key);
            valued.push((key, value.clone()));
        }
    }
    for (key, value) in &explicit.env {
        if host.is_some_and(|h| h.setting(key) != Some(value.as_str())) {
            t.warnings.push(format!(
                "--env {key}={value} differs from the host's setting"
            ));
        }
        t.env.insert(key.clone(), value.clone());
    }
    t.env.insert("CGO_ENABLED".into(), "1".into());
    t.env.insert("GOOS".into(), t.goos.clone());
    t.env.insert("GOARCH".into(), t.goarch.clone());
    for (on, flag) in [
        (trimpath, "-trimpath"),
        (race, "-race"),
        (msan, "-msan"),
        (asan, "-asan"),
    ] {
        if on {
            t.flags.push(flag.into());
        }
    }
    let order = [
        "-gcflags",
        "-asmflags",
        "-tags",
        "-pgo",
        "-cover",
        "-covermode",
        "-ldflags",
    ];
    valued.sort_by_key(|(k, _)| order.iter().position(|o| o == k).unwrap_or(order.len()));
    for (key, value) in valued {
        if key == "-cover" {
            t.flags.push("-cover".into());
        } else {
            t.flags.push(format!("{key}={value}"));
        }
    }
    if !["linux", "freebsd", "darwin"].contains(&t.goos.as_str()) {
        return Err(TargetError::Unsupported(format!(
            "-buildmode=plugin is not supported on {}/{}",
            t.goos, t.goarch
        )));
    }
    Ok(t)
}

fn override_value(t: &mut Target, key: &str, value: &str, with_host: bool) {
    if with_host && t.env.get(key).is_some_and(|v| v != value) {
        t.warnings.push(format!(
            "--{}={value} differs from the host's {key}={}: the plugin cannot load into this host",
            key.to_lowercase(),
            t.env[key]
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn mirror_host(
    host: &GoFacts,
    t: &mut Target,
    trimpath: &mut bool,
    race: &mut bool,
    msan: &mut bool,
    asan: &mut bool,
    valued: &mut Vec<(&'static str, String)>,
) -> Result<(), TargetError> {
    let version = host.parsed_version.as_ref().ok_or_else(|| {
        TargetError::Unsupported(format!(
            "host Go version {:?} not understood; give --go",
            host.version
        ))
    })?;
    if version.devel || version.pre.is_some() {
        return Err(TargetError::Unsupported(format!(
            "host was built by {}, which is not a release plugctl can install; give --go VERSION with a toolchain of the same source",
            host.version
        )));
    }
    t.go_version = format!("{}.{}.{}", version.major, version.minor, version.patch);
    if version.major == 1 && version.minor < 21 && version.patch == 0 {
        // go1.20 and earlier name the first release `go1.20`, not `go1.20.0`.
        t.go_version = format!("{}.{}", version.major, version.minor);
    }
    let mut note = |setting: &str, value: &str, action: String| {
        t.mirrored.push(MirrorNote {
            setting: setting.into(),
            host: value.into(),
            action,
        });
    };
    let mut warnings = Vec::new();
    let mut env = BTreeMap::new();
    let modified = host.setting("vcs.modified") == Some("true");
    let mut unknown = Vec::new();
    for s in &host.settings {
        let (key, value) = (s.key.as_str(), s.value.as_str());
        match key {
            "-buildmode" => note(key, value, "not mirrored: the plugin is built with -buildmode=plugin".into()),
            "-compiler" if value == "gc" => note(key, value, "gc (the only compiler plugctl drives)".into()),
            "-compiler" => {
                return Err(TargetError::Unsupported(format!("host was built with -compiler={value}; plugctl builds with gc only")));
            }
            "-trimpath" | "-race" | "-msan" | "-asan" => {
                let on = value == "true";
                match key {
                    "-trimpath" => *trimpath |= on,
                    "-race" => *race |= on,
                    "-msan" => *msan |= on,
                    _ => *asan |= on,
                }
                note(key, value, if on { format!("mirrored: {key}") } else { "off".into() });
            }
            "-gcflags" | "-asmflags" | "-tags" | "-covermode" => {
                valued.push((static_key(key), value.to_string()));
                note(key, value, format!("mirrored: {key}={value}"));
            }
            "-cover" => {
                if value == "true" {
                    valued.push(("-cover", String::new()));
                    warnings.push(
                        "host was built with -cover: the packages it instrumented (-coverpkg) are not recorded; only the main module is assumed".into(),
                    );
                }
                note(key, value, "mirrored: -cover".into());
            }
            "-pgo" => {
                if std::path::Path::new(value).is_file() {
                    valued.push(("-pgo", value.to_string()));
                    note(key, value, format!("mirrored: -pgo={value}"));
                } else {
                    warnings.push(format!(
                        "host was built with the profile -pgo={value}, which does not exist here: profile-guided inlining changes package hashes, so the plugin will likely not load"
                    ));
                    note(key, value, "not reproducible: the profile file is missing".into());
                }
            }
            "-ldflags" if value.contains("-static") => {
                warnings.push(format!(
                    "host was linked with -ldflags={value}: a statically linked program cannot dlopen, so it can load no plugin"
                ));
                note(key, value, "not mirrored: link flags do not change package hashes".into());
            }
            "-ldflags" => note(
                key,
                value,
                "not mirrored: link flags do not change package hashes (-s -w, -X of the host's main package do not apply to a plugin)".into(),
            ),
            "CGO_ENABLED" if value == "0" => {
                return Err(TargetError::HostCannotLoad(
                    "was built with CGO_ENABLED=0: its plugin.Open is the stub that always returns `plugin: not implemented`, so no plugin can load into it; rebuild the host with CGO_ENABLED=1".into(),
                ));
            }
            "CGO_ENABLED" => note(key, value, "mirrored: CGO_ENABLED=1 (plugins need cgo)".into()),
            "CGO_CFLAGS" | "CGO_CPPFLAGS" | "CGO_CXXFLAGS" | "CGO_LDFLAGS" | "CGO_FFLAGS" => {
                if value.is_empty() {
                    note(key, value, "empty".into());
                } else {
                    warnings.push(format!(
                        "host was built with {key}={value}: C compiler flags of the host's build machine are not mirrored (set {key} yourself if the host's cgo packages depend on them)"
                    ));
                    note(key, value, "not mirrored: C flags of the build machine".into());
                }
            }
            "GOOS" => {
                t.goos = value.to_string();
                note(key, value, format!("mirrored: GOOS={value}"));
            }
            "GOARCH" => {
                t.goarch = value.to_string();
                note(key, value, format!("mirrored: GOARCH={value}"));
            }
            "GOEXPERIMENT" => {
                env.insert(key.to_string(), value.to_string());
                note(key, value, format!("mirrored: GOEXPERIMENT={value}"));
            }
            k if ARCH_LEVELS.contains(&k) => {
                env.insert(key.to_string(), value.to_string());
                note(key, value, format!("mirrored: {key}={value}"));
            }
            "DefaultGODEBUG" => note(key, "…", "not mirrored: applies to the host's main package only".into()),
            "vcs" | "vcs.revision" | "vcs.time" => note(key, value, "recorded".into()),
            "vcs.modified" => note(key, value, "recorded".into()),
            _ => {
                unknown.push(format!("{key}={value}"));
                note(key, value, "not understood: not mirrored".into());
            }
        }
    }
    if host.settings.is_empty() {
        warnings.push(
            "the host's build info records no build settings (built before Go 1.18, or without modules): flags could not be mirrored; give them explicitly".into(),
        );
    }
    if modified {
        let revision = host
            .setting("vcs.revision")
            .unwrap_or("an unknown revision");
        warnings.push(format!(
            "host was built from a modified work tree (vcs.modified=true at {revision}): uncommitted changes in its local modules cannot be recovered; they are used as they are now"
        ));
    }
    if !unknown.is_empty() {
        warnings.push(format!(
            "host build settings plugctl does not know were not mirrored: {}",
            unknown.join(", ")
        ));
    }
    if host.setting("-pgo").is_none() && version.major == 1 && version.minor >= 21 {
        // Without the setting the host used no profile; `-pgo=auto` would pick up a
        // default.pgo next to the plugin's main package.
        valued.push(("-pgo", "off".into()));
    }
    t.env.extend(env);
    t.warnings.extend(warnings);
    Ok(())
}

fn static_key(key: &str) -> &'static str {
    match key {
        "-gcflags" => "-gcflags",
        "-asmflags" => "-asmflags",
        "-tags" => "-tags",
        _ => "-covermode",
    }
}

/// The GOARCH of the machine plugctl runs on.
pub fn machine_goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "riscv64" => "riscv64",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The C cross compiler Debian ships for a GOARCH, and its package.
pub fn cross_compiler(goarch: &str) -> Option<(&'static str, &'static str)> {
    Some(match goarch {
        "arm64" => ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
        "amd64" => ("x86_64-linux-gnu-gcc", "gcc-x86-64-linux-gnu"),
        "arm" => ("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf"),
        "386" if machine_goarch() == "amd64" => ("gcc", "libc6-dev-i386"),
        "386" => ("i686-linux-gnu-gcc", "gcc-i686-linux-gnu"),
        "riscv64" => ("riscv64-linux-gnu-gcc", "gcc-riscv64-linux-gnu"),
        "ppc64le" => ("powerpc64le-linux-gnu-gcc", "gcc-powerpc64le-linux-gnu"),
        "s390x" => ("s390x-linux-gnu-gcc", "gcc-s390x-linux-gnu"),
        "loong64" => ("loongarch64-linux-gnu-gcc", "gcc-loongarch64-linux-gnu"),
        "mips64le" => ("mips64el-linux-gnuabi64-gcc", "gcc-mips64el-linux-gnuabi64"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golang::BuildSetting;

    fn host(settings: &[(&str, &str)]) -> GoFacts {
        let mut facts = crate::gobuild::test_support::go_facts("go1.26.6");
        facts.settings = settings
            .iter()
            .map(|(k, v)| BuildSetting {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect();
        facts
    }

    #[test]
    fn mirrors_hash_settings_and_skips_link_flags() {
        let h = host(&[
            ("-buildmode", "exe"),
            ("-compiler", "gc"),
            ("-trimpath", "true"),
            ("-race", "true"),
            ("-gcflags", "all=-N -l"),
            ("-ldflags", "-s -w"),
            ("-tags", "netgo"),
            ("CGO_ENABLED", "1"),
            ("GOARCH", "amd64"),
            ("GOOS", "linux"),
            ("GOAMD64", "v3"),
        ]);
        let t = target(Some(&h), &Explicit::default()).unwrap();
        assert_eq!(t.go_version, "1.26.6");
        assert_eq!(
            t.flags,
            vec![
                "-trimpath",
                "-race",
                "-gcflags=all=-N -l",
                "-tags=netgo",
                "-pgo=off"
            ]
        );
        assert_eq!(t.env.get("GOAMD64").map(String::as_str), Some("v3"));
        assert_eq!(t.env.get("CGO_ENABLED").map(String::as_str), Some("1"));
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }

    #[test]
    fn host_without_cgo_cannot_load_plugins() {
        let h = host(&[("CGO_ENABLED", "0")]);
        assert!(matches!(
            target(Some(&h), &Explicit::default()),
            Err(TargetError::HostCannotLoad(_))
        ));
    }

    #[test]
    fn warns_about_unreproducible_settings() {
        let h = host(&[
            ("CGO_CFLAGS", "-O3 -I/opt/x"),
            ("vcs.modified", "true"),
            ("-weird", "1"),
        ]);
        let t = target(Some(&h), &Explicit::default()).unwrap();
        let text = t.warnings.join("\n");
        assert!(text.contains("CGO_CFLAGS=-O3 -I/opt/x"), "{text}");
        assert!(text.contains("modified work tree"), "{text}");
        assert!(text.contains("-weird=1"), "{text}");
    }

    #[test]
    fn explicit_flags_without_host() {
        let e = Explicit {
            go: Some("go1.26.5".into()),
            trimpath: true,
            goarch: Some("arm64".into()),
            ..Default::default()
        };
        let t = target(None, &e).unwrap();
        assert_eq!(t.go_version, "1.26.5");
        assert_eq!(t.flags, vec!["-trimpath"]);
        assert_eq!(t.env["GOARCH"], "arm64");
        assert!(target(None, &Explicit::default()).is_err());
    }
}
