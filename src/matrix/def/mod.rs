//! The matrix definition: a TOML file of claims, named builds and rows.
//!
//! ```toml
//! schema = 1
//! go = "1.26.6"                       # Go release of builds that do not name one
//! sources = "../tests/fixtures/src"   # source tree, relative to this file
//!
//! [build.host]                        # a named build rows can use
//! kind = "go-host"
//! dir = "loadhost"
//! protocol = "loadhost"
//!
//! [[claim]]
//! id = "hash-flags"
//! text = "-trimpath on one side only breaks plugin.Open"
//! source = "facts: go-plugin-failure-modes.md"
//!
//! [[row]]
//! id = "trimpath-plugin-only"
//! title = "-trimpath on the plugin only"
//! claim = "hash-flags"
//! host = "host"
//! plugins = [{ use = "greeter", flags = ["-trimpath"] }]
//! says = "package-mismatch"           # what the claim says happens
//! expect = "package-mismatch"         # what was measured (a regression check)
//! ```
//!
//! A Go build's `goarch = "arm64"` (or `"386"`, ...) cross-compiles it ([`crate::matrix::cross`]);
//! a row's host of another architecture runs under qemu-user or natively.
//!
//! [`Definition::expand`] turns the rows into [`Row`]s: every build resolved to a
//! concrete [`Build`] (named builds merged, the Go release filled in, `repeat` unrolled),
//! the `--go` releases applied, `--only`/`--skip` and `--shard` selected.
//!
//! [`schema`] holds the file's types as written, [`rows`] the decided ones, `resolve`
//! turns one into the other (named builds, defaults, checks) and `select` applies the
//! selection flags.

mod resolve;
pub mod rows;
pub mod schema;
mod select;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::toolchain;
pub use rows::{Build, Load, Row};
use schema::File;
pub use schema::{
    BuildRef, BuildSpec, Claim, Cond, Conditions, Kind, LoadDef, Protocol, SCHEMA, Via,
};
pub use select::{Selection, glob, parse_shard, row_matches};

/// A parsed definition and where its relative paths start.
#[derive(Debug, Clone)]
pub struct Definition {
    pub title: String,
    /// Where it came from: a path, or `built-in default`.
    pub origin: String,
    /// The source tree (absolute, or relative to the embedded tree for the built-in one).
    pub sources: PathBuf,
    pub go: String,
    pub claims: Vec<Claim>,
    file: File,
}

impl Definition {
    /// Parses `text`; `base` is the directory relative paths start from.
    pub fn parse(text: &str, base: &Path, origin: &str) -> Result<Definition> {
        let file: File = toml::from_str(text)
            .with_context(|| format!("{origin}: not a valid matrix definition"))?;
        if file.schema != SCHEMA {
            bail!(
                "{origin}: schema {} (this plugctl reads schema {SCHEMA})",
                file.schema
            );
        }
        let go = toolchain::normalize_version(&file.go).with_context(|| format!("{origin}: go"))?;
        let mut seen = std::collections::BTreeSet::new();
        for c in &file.claims {
            if !seen.insert(c.id.clone()) {
                bail!("{origin}: claim `{}` is defined twice", c.id);
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for r in &file.rows {
            if !ids.insert(r.id.clone()) {
                bail!("{origin}: row `{}` is defined twice", r.id);
            }
            if !valid_id(&r.id) {
                bail!(
                    "{origin}: row id `{}`: use letters, digits, `.`, `_` and `-`",
                    r.id
                );
            }
            if !seen.contains(&r.claim) {
                bail!(
                    "{origin}: row `{}` tests claim `{}`, which is not defined",
                    r.id,
                    r.claim
                );
            }
        }
        if file.rows.is_empty() {
            bail!("{origin}: no [[row]]");
        }
        let def = Definition {
            title: file
                .title
                .clone()
                .unwrap_or_else(|| "plugctl matrix".into()),
            origin: origin.to_string(),
            sources: clean(&base.join(&file.sources)),
            go,
            claims: file.claims.clone(),
            file,
        };
        // Resolve every row once so that mistakes show before anything is built.
        for r in &def.file.rows {
            def.resolve_row(r, &def.go, None)
                .with_context(|| format!("{origin}: row `{}`", r.id))?;
        }
        Ok(def)
    }

    /// Reads a definition file.
    pub fn read(path: &Path) -> Result<Definition> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        Definition::parse(&text, &base, &path.display().to_string())
    }

    /// Every row id, in file order.
    pub fn row_ids(&self) -> Vec<String> {
        self.file.rows.iter().map(|r| r.id.clone()).collect()
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Lexically normalises `a/b/../c` to `a/c`.
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
schema = 1
go = "1.26.6"
sources = "src"

[build.host]
kind = "go-host"
dir = "loadhost"
protocol = "loadhost"

[build.greeter]
kind = "go-plugin"
dir = "greeter"

[[claim]]
id = "c"
text = "t"
source = "s"

[[row]]
id = "same"
title = "control"
claim = "c"
host = "host"
plugins = ["greeter"]
says = "ok"

[[row]]
id = "skew"
title = "patch skew"
claim = "c"
host = { use = "host", go = "1.26.5" }
plugins = [{ use = "greeter", go = "1.26.6", flags = ["-trimpath"] }]
says = "package-mismatch"

[[row]]
id = "tls"
title = "tls"
claim = "c"
host = { kind = "c-host", files = ["c/dlhost.c"], flags = ["-ldl"], protocol = "dlhost" }
plugins = [{ kind = "c-shared", files = ["c/tls_small.c"], flags = ["-DIDX={i}"], name = "libtls_{i}.so", repeat = 3 }]
says = ["ok", "ok", "static-tls"]
tags = ["c"]
"#;

    fn def() -> Definition {
        Definition::parse(SMALL, Path::new("/m"), "test").unwrap()
    }

    #[test]
    fn named_builds_merge_and_repeat_unrolls() {
        let (rows, _) = def().expand(&Selection::default()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].plugins[0].name, "greeter.so");
        assert_eq!(rows[0].host.as_ref().unwrap().go.as_deref(), Some("1.26.6"));
        assert_eq!(rows[1].host.as_ref().unwrap().go.as_deref(), Some("1.26.5"));
        assert_eq!(rows[1].plugins[0].flags, vec!["-trimpath"]);
        let tls = &rows[2];
        assert_eq!(tls.plugins.len(), 3);
        assert_eq!(tls.plugins[2].name, "libtls_3.so");
        assert_eq!(tls.plugins[2].flags, vec!["-DIDX=3"]);
        assert_eq!(tls.load.via, Via::Host);
        assert_eq!(def().sources, PathBuf::from("/m/src"));
    }

    #[test]
    fn go_versions_expand_unpinned_rows_only() {
        let sel = Selection {
            go: vec!["1.26.6".into(), "go1.27.3".into()],
            ..Default::default()
        };
        let (rows, _) = def().expand(&sel).unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["same@1.26.6", "same@1.27.3", "skew", "tls"]);
        assert_eq!(rows[1].plugins[0].go.as_deref(), Some("1.27.3"));
        let one = Selection {
            go: vec!["1.27.3".into()],
            ..Default::default()
        };
        let (rows, _) = def().expand(&one).unwrap();
        assert_eq!(rows[0].id, "same@1.27.3");
    }

    #[test]
    fn only_skip_and_shards() {
        let sel = Selection {
            only: vec!["s*".into()],
            ..Default::default()
        };
        assert_eq!(def().expand(&sel).unwrap().0.len(), 2);
        let sel = Selection {
            skip: vec!["tag:c".into()],
            ..Default::default()
        };
        assert_eq!(def().expand(&sel).unwrap().0.len(), 2);
        let sel = Selection {
            only: vec!["claim:c".into()],
            shard: Some((2, 2)),
            ..Default::default()
        };
        let (rows, all) = def().expand(&sel).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["skew"]
        );
        assert_eq!(all.len(), 3);
        assert!(
            def()
                .expand(&Selection {
                    only: vec!["nope".into()],
                    ..Default::default()
                })
                .is_err()
        );
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
        assert!(
            parse_shard("0/4").is_err() && parse_shard("5/4").is_err() && parse_shard("x").is_err()
        );
    }

    #[test]
    fn mistakes_are_reported_with_the_row() {
        let bad = SMALL.replace("plugins = [\"greeter\"]", "plugins = [\"nosuch\"]");
        let err = format!(
            "{:#}",
            Definition::parse(&bad, Path::new("/m"), "t").unwrap_err()
        );
        assert!(
            err.contains("row `same`") && err.contains("nosuch"),
            "{err}"
        );
        let bad = SMALL.replace("says = \"ok\"", "says = [\"ok\", \"ok\"]");
        assert!(Definition::parse(&bad, Path::new("/m"), "t").is_err());
        let bad = SMALL.replace("dir = \"greeter\"", "dir = \"../greeter\"");
        assert!(Definition::parse(&bad, Path::new("/m"), "t").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob("a*c", "abc") && glob("*", "") && glob("a*", "a") && glob("*c", "abc"));
        assert!(!glob("a*c", "abd") && !glob("abc", "ab"));
        assert!(glob("a*b*c", "a-b-c") && !glob("a*b*c", "a-c"));
    }
}
