//! `build`: builds a Go plugin that loads into a given host. Reads the host's build info,
//! chooses the exact toolchain (installing it when needed), mirrors the flags and
//! environment that decide package hashes ([`mirror`]), aligns shared modules through a
//! temporary `-modfile` ([`modules`], [`sources`]), builds with `-buildmode=plugin`,
//! verifies the result with the static `inspect --host` prediction (and, on request, a
//! real load through a harness and a second, clean build), and writes a manifest next
//! to the output. Never prints: progress goes through [`Progress`].

pub mod gocmd;
pub mod harness;
pub mod mirror;
pub mod modules;
pub mod repro;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::digest::{hash_tree, sha256_file};
use crate::elf::Artifact;
use crate::golang::{self, GoFacts, Module, sources};
use crate::predict;
use crate::toolchain::{self, Toolchain};
use crate::verdict::LoadVerdict;

pub use mirror::{Explicit, Target, TargetError};
pub use modules::{AlignOptions, AlignReport, AlignStatus, Alignment};

/// Where the library reports what it is doing (the command draws it on stderr).
pub trait Progress {
    /// A step starts; it lasts until the next step or the end.
    fn step(&self, message: &str);
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {
    fn step(&self, _message: &str) {}
}

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The plugin's main package directory.
    pub package_dir: PathBuf,
    pub output: PathBuf,
    /// The Go program the plugin must load into.
    pub host: Option<PathBuf>,
    pub explicit: Explicit,
    pub align: AlignOptions,
    /// Apply the alignment to the user's go.mod and go.sum.
    pub write: bool,
    /// Load the result for real through a harness.
    pub load: bool,
    pub load_timeout: Duration,
    /// Build a second time elsewhere with an empty cache and compare.
    pub verify_repro: bool,
}

/// Why a build could not be made (distinct from a build that does not verify).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The host can load no plugin at all: a finding, exit 1.
    #[error("{0}")]
    HostCannotLoad(String),
    /// Shared modules whose host source cannot be reproduced here.
    #[error("cannot align shared modules with the host:\n{}", .0.iter().map(|a| format!("  {} (host: {}): {}", a.module, a.host, a.note)).collect::<Vec<_>>().join("\n"))]
    Unsatisfied(Vec<Alignment>),
}

#[derive(Debug, Clone, Serialize)]
pub struct FileFacts {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostFacts {
    pub path: PathBuf,
    pub sha256: String,
    pub go_version: String,
    pub main_path: Option<String>,
    /// Whether the host's file names are absolute (built without -trimpath).
    pub records_source_dirs: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceFacts {
    pub package_dir: PathBuf,
    pub module: String,
    pub module_root: PathBuf,
    /// SHA-256 over the module tree (sorted relative paths and contents; hidden
    /// directories and the output left out).
    pub sha256: String,
    pub files: usize,
    /// Local directories the build compiled modules from, with their hashes.
    pub local_modules: Vec<LocalModule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocalModule {
    pub module: String,
    pub dir: PathBuf,
    pub sha256: String,
    pub files: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaticCheck {
    /// What was checked: `inspect --host HOST`, Go's checks only (a cross build), or,
    /// without a host, a dlopen by a C program.
    pub against: String,
    /// The predicted load; `None` when nothing could be checked (`skipped` says why).
    pub load: Option<LoadVerdict>,
    pub skipped: Option<String>,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    #[serde(rename = "static")]
    pub static_check: StaticCheck,
    pub load: Option<harness::LoadCheck>,
    pub repro: Option<repro::ReproCheck>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub toolchain: f64,
    pub align: f64,
    pub build: f64,
    pub verify: f64,
    pub load: f64,
    pub repro: f64,
    pub total: f64,
}

/// How a build ended (`status` in the manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    /// Built, and every requested verification passed.
    Ok,
    /// Built, and a requested verification failed.
    Failed,
}

/// The result of `plugctl build`, also written as the manifest `OUT.plugctl.json`.
#[derive(Debug, Clone, Serialize)]
pub struct BuildResult {
    pub schema_version: u32,
    pub plugctl_version: String,
    pub status: BuildStatus,
    pub output: FileFacts,
    pub manifest: PathBuf,
    pub toolchain: Toolchain,
    pub host: Option<HostFacts>,
    pub target: Target,
    /// The environment plugctl set for `go` (the rest is the caller's).
    pub env: BTreeMap<String, String>,
    /// The `go` command, as run in `source.package_dir`.
    pub command: Vec<String>,
    pub command_line: String,
    pub source: SourceFacts,
    pub alignment: AlignReport,
    /// The `go.mod` the build used (the `-modfile` copy, after alignment).
    pub go_mod: String,
    /// The modules of the result, from its build info (with sums).
    pub modules: Vec<Module>,
    pub warnings: Vec<String>,
    pub verification: Verification,
    /// `go.mod` and `go.sum` were updated (`--write`).
    pub wrote_go_mod: bool,
    pub seconds: Timings,
}

impl BuildResult {
    pub fn ok(&self) -> bool {
        self.status == BuildStatus::Ok
    }
}

pub fn manifest_path(output: &Path) -> PathBuf {
    let mut name = output
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".plugctl.json");
    output.with_file_name(name)
}

/// Builds, verifies and writes the manifest. `Err` when nothing could be built.
pub fn build(request: &Request, progress: &dyn Progress) -> Result<BuildResult> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let mut warnings = Vec::new();

    let host = request.host.as_deref().map(HostInput::read).transpose()?;
    let target =
        mirror::target(host.as_ref().map(|h| &h.go), &request.explicit).map_err(|e| match e {
            TargetError::HostCannotLoad(text) => {
                anyhow::Error::new(BuildError::HostCannotLoad(format!("host {text}")))
            }
            other => anyhow::Error::new(other),
        })?;
    warnings.extend(target.warnings.iter().cloned());

    let t = Instant::now();
    let toolchain = toolchain::ensure(&target.go_version, &|message| progress.step(message))?;
    timings.toolchain = t.elapsed().as_secs_f64();
    let cross = target.goarch != mirror::machine_goarch() || target.goos != "linux";
    let mut go = gocmd::GoEnv::new(toolchain.clone(), &target_env(&target, cross)?);

    let t = Instant::now();
    let module = PluginModule::read(&go, &request.package_dir, progress)?;
    let alignment = align(&go, &module, host.as_ref(), &request.align, progress)?;
    let unsatisfied: Vec<Alignment> = alignment.unsatisfied().into_iter().cloned().collect();
    if !unsatisfied.is_empty() {
        return Err(BuildError::Unsatisfied(unsatisfied).into());
    }
    warnings.extend(alignment.warnings.iter().cloned());
    go.env.extend(alignment.env.clone());
    timings.align = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let output = std::path::absolute(&request.output).context("output path")?;
    let args = go_build(&go, &target, &module, &output, progress)?;
    timings.build = t.elapsed().as_secs_f64();

    // Static verification.
    let t = Instant::now();
    progress.step(match (&request.host, cross) {
        (Some(_), false) => "checking the plugin against the host (inspect --host)",
        (Some(_), true) => "checking the plugin against the host (inspect --host; cross build)",
        (None, _) => "checking the plugin (loader emulation)",
    });
    let (static_check, plugin_go) = static_check(&output, request.host.as_deref(), cross)?;
    timings.verify = t.elapsed().as_secs_f64();

    let built = Built {
        go: &go,
        target: &target,
        module: &module,
        output: &output,
    };
    let load = if request.load {
        let t = Instant::now();
        let host_go = host.as_ref().map(|h| &h.go);
        let check = load_check(
            &built,
            host_go,
            plugin_go.as_ref(),
            cross,
            request.load_timeout,
            progress,
        )?;
        timings.load = t.elapsed().as_secs_f64();
        Some(check)
    } else {
        None
    };

    let manifest = manifest_path(&output);
    let repro = if request.verify_repro {
        let t = Instant::now();
        let check = repro_check(&built, &manifest, progress)?;
        timings.repro = t.elapsed().as_secs_f64();
        Some(check)
    } else {
        None
    };

    // --write.
    let mut wrote = false;
    if request.write && !alignment.edits.is_empty() {
        modules::write_back(&go, &module.root, &module.temp, &alignment.edits)?;
        wrote = true;
    }

    progress.step("writing the manifest");
    let source = source_facts(&module, &alignment, &[output.clone(), manifest.clone()])?;
    let output_facts = FileFacts {
        path: output.clone(),
        sha256: sha256_file(&output)?,
        size: std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0),
    };
    let host_facts = host.as_ref().map(HostInput::facts).transpose()?;
    let ok = static_check.ok
        && load
            .as_ref()
            .is_none_or(|l| l.ok() || l.outcome == "skipped")
        && repro.as_ref().is_none_or(|r| r.identical);
    let mut command = vec![toolchain.go.display().to_string()];
    command.extend(args.iter().cloned());
    let env_line: Vec<String> = go
        .env
        .iter()
        .filter(|(k, _)| k.as_str() != "GOCACHE")
        .map(|(k, v)| format!("{k}={}", crate::shell::shell_quote(v)))
        .collect();
    let command_line = format!("{} {}", env_line.join(" "), go.display(&args));
    timings.total = started.elapsed().as_secs_f64();
    let result = BuildResult {
        schema_version: 1,
        plugctl_version: env!("CARGO_PKG_VERSION").to_string(),
        status: if ok {
            BuildStatus::Ok
        } else {
            BuildStatus::Failed
        },
        output: output_facts,
        manifest: manifest.clone(),
        toolchain,
        host: host_facts,
        target,
        env: go.env.clone(),
        command,
        command_line,
        source,
        alignment,
        go_mod: std::fs::read_to_string(&module.temp.gomod).unwrap_or_default(),
        modules: plugin_go
            .as_ref()
            .map(|g| g.deps.clone())
            .unwrap_or_default(),
        warnings,
        verification: Verification {
            static_check,
            load,
            repro,
        },
        wrote_go_mod: wrote,
        seconds: timings,
    };
    let json = serde_json::to_string_pretty(&result).context("serialising the manifest")?;
    std::fs::write(&manifest, json + "\n")
        .with_context(|| format!("writing {}", manifest.display()))?;
    Ok(result)
}

/// The host program the plugin must load into, read once.
struct HostInput {
    path: PathBuf,
    artifact: Artifact,
    go: GoFacts,
    files: sources::FileTable,
}

impl HostInput {
    fn read(path: &Path) -> Result<HostInput> {
        let artifact = Artifact::read(path)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("host {}", path.display()))?;
        let Some(go) = golang::read(&artifact) else {
            bail!(
                "host {} has no Go build info: not a Go program (give --go VERSION and flags instead)",
                path.display()
            );
        };
        if go.role == golang::GoRole::Plugin {
            bail!("host {} is a Go plugin, not a program", path.display());
        }
        let files = sources::FileTable::read(&artifact);
        Ok(HostInput {
            path: path.to_path_buf(),
            artifact,
            go,
            files,
        })
    }

    /// The host's entry in the manifest.
    fn facts(&self) -> Result<HostFacts> {
        Ok(HostFacts {
            path: std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone()),
            sha256: sha256_file(&self.path)?,
            go_version: self.go.version.clone(),
            main_path: self.go.main_path.clone(),
            records_source_dirs: self.files.has_absolute_paths() && self.artifact.file_size > 0,
        })
    }
}

/// The target's environment, with a C cross compiler for a cross build (cgo is required
/// for plugins) unless `CC` is set.
fn target_env(target: &Target, cross: bool) -> Result<BTreeMap<String, String>> {
    let mut env = target.env.clone();
    if cross && std::env::var_os("CC").is_none() {
        let (cc, package) = mirror::cross_compiler(&target.goarch).ok_or_else(|| {
            anyhow::anyhow!(
                "no known C cross compiler for {}/{}: set CC to one (cgo is required for plugins)",
                target.goos,
                target.goarch
            )
        })?;
        if which::which(cc).is_err() {
            bail!(
                "no C cross compiler for {}/{}: {cc} is not on PATH (plugins need cgo, so a cross build needs a C compiler for the target)\nhint: apt-get install {package}, or set CC",
                target.goos,
                target.goarch
            );
        }
        env.insert("CC".into(), cc.into());
    }
    Ok(env)
}

/// The plugin's package, its module and the temporary `-modfile` the build aligns.
struct PluginModule {
    package_dir: PathBuf,
    root: PathBuf,
    modfile: modules::ModFile,
    temp: modules::TempModFile,
}

impl PluginModule {
    fn read(go: &gocmd::GoEnv, package_dir: &Path, progress: &dyn Progress) -> Result<Self> {
        progress.step("reading the plugin's module");
        let absolute = std::path::absolute(package_dir).context("package directory")?;
        if !absolute.is_dir() {
            bail!("{} is not a directory", package_dir.display());
        }
        let root = modules::module_root(go, &absolute)?;
        let modfile = modules::ModFile::read(go, &root.join("go.mod"))?;
        let temp = modules::TempModFile::create(go, &root, &modfile)?;
        Ok(PluginModule {
            package_dir: absolute,
            root,
            modfile,
            temp,
        })
    }
}

/// Aligns the plugin's shared modules with the host's (or, without a host, applies the
/// requested `-replace`s) in the temporary `-modfile`.
fn align(
    go: &gocmd::GoEnv,
    module: &PluginModule,
    host: Option<&HostInput>,
    options: &AlignOptions,
    progress: &dyn Progress,
) -> Result<AlignReport> {
    if let Some(host) = host {
        progress.step("aligning shared modules with the host");
        let host_modules = modules::HostModules {
            facts: &host.go,
            files: &host.files,
        };
        return modules::align(
            go,
            &module.root,
            &module.modfile,
            &module.temp,
            &host_modules,
            options,
        );
    }
    let mut report = AlignReport {
        entries: Vec::new(),
        edits: Vec::new(),
        warnings: Vec::new(),
        env: BTreeMap::new(),
    };
    for (name, to) in &options.replaces {
        let arg = if modules::is_local_path(to) {
            let abs = std::path::absolute(to)
                .map(|p| sources::clean(&p))
                .unwrap_or_else(|_| PathBuf::from(to));
            format!("-replace={name}={}", abs.display())
        } else {
            format!("-replace={name}={to}")
        };
        report.edits.push(arg);
    }
    module.temp.edit(go, &report.edits)?;
    Ok(report)
}

/// `go build -buildmode=plugin` into `output`; returns the arguments given to `go`.
fn go_build(
    go: &gocmd::GoEnv,
    target: &Target,
    module: &PluginModule,
    output: &Path,
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut args = vec!["build".to_string(), "-buildmode=plugin".to_string()];
    args.push(format!("-modfile={}", module.temp.gomod.display()));
    args.extend(target.flags.iter().cloned());
    args.extend([
        "-o".to_string(),
        output.display().to_string(),
        ".".to_string(),
    ]);
    let shown_flags = if target.flags.is_empty() {
        String::new()
    } else {
        format!(" {}", target.flags.join(" "))
    };
    let version = &go.toolchain.version;
    progress.step(&format!(
        "building the plugin with go{version}{shown_flags}"
    ));
    let out = go.run(&module.package_dir, &args)?;
    if !out.status.success() {
        let mut text = gocmd::failure_text(&go.display(&args), &out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("requires go >=") || stderr.contains("requires go >= ") {
            text.push_str(&format!(
                "\nhint: the plugin's go.mod asks for a newer Go than the host's go{version}; lower its `go` line or rebuild the host"
            ));
        }
        bail!("{text}");
    }
    Ok(args)
}

/// A built plugin and what built it: what the checks after the build look at.
struct Built<'x> {
    go: &'x gocmd::GoEnv,
    target: &'x Target,
    module: &'x PluginModule,
    output: &'x Path,
}

/// The real load through the harness (`--load`): the host's facts, or the plugin's own
/// when there is no host; skipped for a cross build or an output without Go build info.
fn load_check(
    built: &Built<'_>,
    host_go: Option<&GoFacts>,
    plugin_go: Option<&GoFacts>,
    cross: bool,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<harness::LoadCheck> {
    let (go, target, module, output) = (built.go, built.target, built.module, built.output);
    if cross {
        return Ok(harness::LoadCheck::skipped(
            "cross build: the plugin cannot run on this machine",
        ));
    }
    let Some(pgo) = plugin_go else {
        return Ok(harness::LoadCheck::skipped(
            "the output has no Go build info",
        ));
    };
    progress.step("building and running the load harness");
    harness::check(
        go,
        &target.flags,
        &module.temp.gomod,
        host_go.unwrap_or(pgo),
        pgo,
        &module.modfile.module,
        output,
        timeout,
    )
}

/// `--verify-repro`: a second, clean build in another directory, compared with the first.
fn repro_check(
    built: &Built<'_>,
    manifest: &Path,
    progress: &dyn Progress,
) -> Result<repro::ReproCheck> {
    let (go, target, module, output) = (built.go, built.target, built.module, built.output);
    progress.step("rebuilding in another directory with an empty build cache (--verify-repro)");
    let package_rel = module
        .package_dir
        .strip_prefix(&module.root)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    repro::verify(
        go,
        &repro::Rebuild {
            module_root: &module.root,
            package_rel: &package_rel,
            aligned_gomod: &module.temp.gomod,
            flags: &target.flags,
            first: output,
            skip: &[output.to_path_buf(), manifest.to_path_buf()],
        },
    )
}

/// The plugin's source for the manifest: its module tree's hash and each local module's.
fn source_facts(
    module: &PluginModule,
    alignment: &AlignReport,
    skip: &[PathBuf],
) -> Result<SourceFacts> {
    let (sha256, files) = hash_tree(&module.root, skip)?;
    let mut local_modules = Vec::new();
    for entry in &alignment.entries {
        let dir = PathBuf::from(entry.plugin_after.split(" => ").nth(1).unwrap_or_default());
        if dir.is_absolute() && dir.is_dir() {
            let (sha256, files) = hash_tree(&dir, &[])?;
            local_modules.push(LocalModule {
                module: entry.module.clone(),
                dir,
                sha256,
                files,
            });
        }
    }
    Ok(SourceFacts {
        package_dir: module.package_dir.clone(),
        module: module.modfile.module.clone(),
        module_root: module.root.clone(),
        sha256,
        files,
        local_modules,
    })
}

/// The static prediction for the output: `inspect --host` (the loader emulation of the
/// host's architecture, so a cross build is checked too; without a target sysroot its
/// basis states what is assumed of the target's libraries), or `inspect` alone against
/// this machine's loader. A cross build without a host has nothing to be checked against.
fn static_check(
    output: &Path,
    host_path: Option<&Path>,
    cross: bool,
) -> Result<(StaticCheck, Option<GoFacts>)> {
    if cross && host_path.is_none() {
        let artifact = Artifact::read(output)
            .map_err(anyhow::Error::from)
            .with_context(|| output.display().to_string())?;
        let skipped = "cross build without a host: nothing of the target's to check against \
                       (give --host HOST to check the plugin against it)"
            .to_string();
        return Ok((
            StaticCheck {
                against: "nothing".into(),
                load: None,
                skipped: Some(skipped),
                ok: true,
            },
            golang::read(&artifact),
        ));
    }
    let options = predict::Options {
        host: host_path.map(Path::to_path_buf),
        ..Default::default()
    };
    let report = predict::inspect(&[output.to_path_buf()], &options)?;
    let item = report
        .artifacts
        .into_iter()
        .next()
        .context("inspect returned no artifact")?;
    let against = match host_path {
        Some(h) => format!("inspect --host {}", h.display()),
        None => "dlopen(RTLD_NOW) by a minimal C program (no host given)".into(),
    };
    let ok = item.load.outcome.loads();
    Ok((
        StaticCheck {
            against,
            load: Some(item.load),
            skipped: None,
            ok,
        },
        item.go,
    ))
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::golang::{
        BuildInfoFormat, BuildInfoSource, GoFacts, GoRole, HashOrder, InitEnvScan, parse_go_version,
    };

    /// Go facts with only a version, for unit tests of rules over build info.
    pub fn go_facts(version: &str) -> GoFacts {
        GoFacts {
            version: version.into(),
            parsed_version: parse_go_version(version),
            role: GoRole::Executable,
            build_info: BuildInfoSource {
                address: 0,
                format: BuildInfoFormat::Inline,
                located_by: "test".into(),
            },
            main_path: Some("example.com/host".into()),
            main_module: None,
            deps: Vec::new(),
            settings: Vec::new(),
            plugin_path: None,
            package_hashes: Vec::new(),
            hash_order: HashOrder::LookupTable,
            hash_order_detail: String::new(),
            moduledata_layout: None,
            module_data: None,
            exports: Vec::new(),
            exports_source: String::new(),
            init_env_reads: Vec::new(),
            init_env: InitEnvScan::NotScanned {
                reason: "test".into(),
            },
            problems: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_sits_next_to_the_output() {
        assert_eq!(
            manifest_path(Path::new("/o/greeter.so")),
            PathBuf::from("/o/greeter.so.plugctl.json")
        );
    }
}
