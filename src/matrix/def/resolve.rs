//! From rows as written to rows as run: named builds merged, defaults filled in, every
//! mistake reported with the row.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::Definition;
use super::rows::{Build, Load, Row};
use super::schema::{BuildRef, BuildSpec, Conditions, Kind, RowDef, Via};
use crate::matrix::cross;
use crate::toolchain;

impl Definition {
    /// Whether every Go build of the row names its release (then `--go` does not apply).
    pub(super) fn row_is_pinned(&self, r: &RowDef) -> Result<bool> {
        let mut refs: Vec<&BuildRef> = r.plugins.iter().collect();
        refs.extend(r.host.iter());
        refs.extend(r.libs.values());
        for b in refs {
            let spec = self.merged(b, 0)?;
            if spec.kind.is_some_and(Kind::is_go) && spec.go.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A build reference with its named bases merged in.
    fn merged(&self, b: &BuildRef, depth: usize) -> Result<BuildSpec> {
        if depth > 8 {
            bail!("named builds refer to each other in a loop");
        }
        let spec = match b {
            BuildRef::Name(n) => BuildSpec {
                base: Some(n.clone()),
                ..Default::default()
            },
            BuildRef::Spec(s) => (**s).clone(),
        };
        let Some(base_name) = spec.base.clone() else {
            return Ok(spec);
        };
        let named = self.file.build.get(&base_name).with_context(|| {
            format!("no build named `{base_name}` (define [build.{base_name}])")
        })?;
        let base = self.merged(&BuildRef::Spec(Box::new(named.clone())), depth + 1)?;
        let mut env = base.env.clone();
        env.extend(spec.env.clone());
        let mut replace = base.replace.clone();
        replace.extend(spec.replace.clone());
        let mut flags = base.flags.clone();
        flags.extend(spec.flags.clone());
        let mut link = base.link.clone();
        link.extend(spec.link.iter().filter(|l| !base.link.contains(l)).cloned());
        Ok(BuildSpec {
            base: None,
            kind: spec.kind.or(base.kind),
            dir: spec.dir.or(base.dir),
            files: spec.files.or(base.files),
            go: spec.go.or(base.go),
            goarch: spec.goarch.or(base.goarch),
            env,
            flags,
            replace,
            cc: spec.cc.or(base.cc),
            soname: spec.soname.or(base.soname),
            name: spec.name.or(base.name),
            strip: spec.strip.or(base.strip),
            link,
            protocol: spec.protocol.or(base.protocol),
            repeat: spec.repeat.or(base.repeat),
        })
    }

    fn resolve_build(&self, spec: &BuildSpec, go: &str, role: &str) -> Result<Build> {
        let kind = spec
            .kind
            .with_context(|| format!("{role}: no `kind` (go-plugin, go-host, c-shared, c-host)"))?;
        let dir = spec.dir.clone().unwrap_or_default();
        let files = spec.files.clone().unwrap_or_default();
        check_relative(&dir).with_context(|| format!("{role}: dir"))?;
        for f in &files {
            check_relative(f).with_context(|| format!("{role}: files"))?;
        }
        for d in spec.replace.values() {
            check_relative(d).with_context(|| format!("{role}: replace"))?;
        }
        if !kind.is_go() && files.is_empty() {
            bail!("{role}: a C build needs `files`");
        }
        if kind.is_go() && spec.cc.is_some() {
            bail!("{role}: `cc` is for C builds; set env CC for cgo");
        }
        let env = match &spec.goarch {
            Some(_) if !kind.is_go() => bail!("{role}: `goarch` is for Go builds; set cc"),
            Some(goarch) => {
                let mut env = cross::build_env(goarch).with_context(|| role.to_string())?;
                env.extend(spec.env.clone());
                env
            }
            None => spec.env.clone(),
        };
        if kind.is_host() != spec.protocol.is_some() {
            if kind.is_host() {
                bail!("{role}: a host needs `protocol` (loadhost or dlhost)");
            }
            bail!("{role}: `protocol` is for hosts");
        }
        let go = if kind.is_go() {
            Some(toolchain::normalize_version(
                spec.go.as_deref().unwrap_or(go),
            )?)
        } else {
            None
        };
        let stem = |p: &str| {
            let name = Path::new(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.split('.').next().unwrap_or_default().to_string()
        };
        let name = match &spec.name {
            Some(n) => n.clone(),
            None => match kind {
                Kind::GoPlugin => format!(
                    "{}.so",
                    if dir.is_empty() {
                        stem(files.first().map(String::as_str).unwrap_or("plugin"))
                    } else {
                        stem(&dir)
                    }
                ),
                Kind::GoHost => {
                    if dir.is_empty() {
                        "host".into()
                    } else {
                        stem(&dir)
                    }
                }
                Kind::CShared => format!("lib{}.so", stem(&files[0]).trim_start_matches("lib")),
                Kind::CHost => stem(&files[0]),
            },
        };
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            bail!("{role}: output name `{name}` must be a plain file name");
        }
        Ok(Build {
            kind,
            dir,
            files,
            go,
            env,
            flags: spec.flags.clone(),
            replace: spec.replace.clone(),
            cc: spec.cc.clone(),
            soname: spec.soname.clone(),
            name,
            strip: spec.strip.unwrap_or(false),
            link: spec.link.clone(),
            protocol: spec.protocol,
        })
    }

    pub(super) fn resolve_row(&self, r: &RowDef, go: &str, variant: Option<String>) -> Result<Row> {
        let host = match &r.host {
            Some(h) => {
                let b = self.resolve_build(&self.merged(h, 0)?, go, "host")?;
                if !b.kind.is_host() {
                    bail!("host: kind {:?} is not a host (go-host or c-host)", b.kind);
                }
                Some(b)
            }
            None => None,
        };
        let mut libs = BTreeMap::new();
        for (name, l) in &r.libs {
            let b = self.resolve_build(&self.merged(l, 0)?, go, &format!("libs.{name}"))?;
            if b.kind != Kind::CShared {
                bail!("libs.{name}: a library must be kind = \"c-shared\"");
            }
            libs.insert(name.clone(), b);
        }
        let mut plugins = Vec::new();
        for (i, p) in r.plugins.iter().enumerate() {
            let spec = self.merged(p, 0)?;
            let n = spec.repeat.unwrap_or(1);
            if n == 0 || n > 64 {
                bail!("plugins[{i}]: repeat must be 1..=64");
            }
            for k in 1..=n {
                let mut s = spec.clone();
                if spec.repeat.is_some() {
                    let sub = |t: &str| t.replace("{i}", &k.to_string());
                    s.name = s.name.as_deref().map(sub);
                    s.flags = s.flags.iter().map(|f| sub(f)).collect();
                    s.env = s.env.iter().map(|(a, b)| (a.clone(), sub(b))).collect();
                }
                let b = self.resolve_build(&s, go, &format!("plugins[{i}]"))?;
                if b.kind.is_host() {
                    bail!("plugins[{i}]: kind {:?} is a host", b.kind);
                }
                plugins.push(b);
            }
        }
        if plugins.is_empty() {
            bail!("no plugins");
        }
        // Unique output names within the row.
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for p in &plugins {
            *counts.entry(p.name.clone()).or_default() += 1;
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for p in &mut plugins {
            if counts[&p.name] > 1 {
                let k = seen.entry(p.name.clone()).or_default();
                *k += 1;
                let (stem, ext) = p
                    .name
                    .rsplit_once('.')
                    .map(|(a, b)| (a.to_string(), format!(".{b}")))
                    .unwrap_or((p.name.clone(), String::new()));
                p.name = format!("{stem}-{k}{ext}");
            }
        }
        for b in plugins.iter().chain(host.iter()) {
            for l in &b.link {
                if !libs.contains_key(l) {
                    bail!("links `{l}`, which is not in the row's libs");
                }
            }
        }
        for d in &r.load.ld_library_path {
            if let Some(l) = d.strip_prefix("lib:")
                && !libs.contains_key(l)
            {
                bail!("load.ld_library_path: `{d}` names no row library");
            }
        }
        let runtime_only = r.load.runtime_only();
        let via = match r.load.via {
            Some(Via::Host) if !runtime_only.is_empty() => {
                bail!("load: {} need via = \"runtime\"", runtime_only.join(", "))
            }
            Some(Via::Host) | None if host.is_none() => {
                if r.load.via == Some(Via::Host) {
                    bail!("load: via = \"host\" needs a host");
                }
                Via::Runtime
            }
            Some(v) => v,
            None if runtime_only.is_empty() => Via::Host,
            None => Via::Runtime,
        };
        if via == Via::Runtime {
            if host.as_ref().is_some_and(|h| h.kind != Kind::GoHost) {
                bail!("load: the runtime mirrors Go hosts only");
            }
            if let Some(target) = host.as_ref().and_then(cross::target_of)
                && target.goarch != crate::gobuild::mirror::machine_goarch()
            {
                bail!(
                    "load: the runtime loads on this machine's architecture only (host: {}); use via = \"host\"",
                    target.name
                );
            }
            if !r.load.args.is_empty() {
                bail!("load: args are for via = \"host\"");
            }
            if r.load.reload > 0 && (plugins.len() != 1 || plugins[0].kind != Kind::GoPlugin) {
                bail!("load: reload needs exactly one Go plugin");
            }
        }
        for t in [&r.load.timeout, &r.load.cpu_time].into_iter().flatten() {
            crate::runtime::contract::parse_duration(t).with_context(|| format!("load: `{t}`"))?;
        }
        if let Some(m) = &r.load.memory {
            crate::runtime::contract::parse_size(m)
                .with_context(|| format!("load: memory `{m}`"))?;
        }
        let says = r.says.normalized();
        let expect = r.expect.as_ref().map(Conditions::normalized);
        for (what, c) in
            std::iter::once(("says", &says)).chain(expect.as_ref().map(|e| ("expect", e)))
        {
            crate::matrix::claims::check_conditions(c, plugins.len())
                .with_context(|| what.to_string())?;
        }
        let mut needs: Vec<String> = r.needs.clone();
        for b in plugins.iter().chain(host.iter()).chain(libs.values()) {
            if let Some(cc) = b.compiler() {
                needs.push(cc);
            }
            if b.strip {
                needs.push("strip".into());
            }
        }
        needs.extend(host.as_ref().and_then(cross::run_needs));
        needs.sort();
        needs.dedup();
        let id = match &variant {
            Some(v) => format!("{}@{v}", r.id),
            None => r.id.clone(),
        };
        Ok(Row {
            id,
            base_id: r.id.clone(),
            title: r.title.clone(),
            claim: r.claim.clone(),
            host,
            plugins,
            libs,
            load: Load {
                via,
                options: r.load.clone(),
            },
            says,
            expect,
            tags: r.tags.clone(),
            needs,
            notes: r.notes.clone(),
            go_variant: variant,
        })
    }
}

fn check_relative(p: &str) -> Result<()> {
    let path = Path::new(p);
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!("`{p}` must be relative to the source tree, without `..`");
    }
    Ok(())
}
