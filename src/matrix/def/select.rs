//! What to run of a definition: `--go`, `--only`/`--skip` and `--shard`.

use anyhow::{Context, Result, bail};

use super::Definition;
use super::rows::Row;
use crate::toolchain;

/// What to run of a definition.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--go`: releases for rows that name none.
    pub go: Vec<String>,
    /// `--only`: patterns (`ID`, glob `*`, `claim:ID`, `tag:T`).
    pub only: Vec<String>,
    pub skip: Vec<String>,
    /// `--shard I/N` as (I, N), 1-based.
    pub shard: Option<(usize, usize)>,
}

impl Definition {
    /// The rows to run, in file order: `--go` applied, then `--only`/`--skip`, then the shard.
    /// Also returns every selected row before sharding (for the matrix hash).
    pub fn expand(&self, selection: &Selection) -> Result<(Vec<Row>, Vec<Row>)> {
        let versions: Vec<String> = if selection.go.is_empty() {
            vec![self.go.clone()]
        } else {
            let mut v: Vec<String> = Vec::new();
            for given in &selection.go {
                let n = toolchain::normalize_version(given)?;
                if !v.contains(&n) {
                    v.push(n);
                }
            }
            v
        };
        for p in selection.only.iter().chain(&selection.skip) {
            self.check_pattern(p)?;
        }
        let mut all = Vec::new();
        for r in &self.file.rows {
            let pinned = self.row_is_pinned(r)?;
            if pinned {
                all.push(self.resolve_row(r, &self.go, None)?);
            } else if versions.len() == 1 {
                let variant = (!selection.go.is_empty()).then(|| versions[0].clone());
                all.push(self.resolve_row(r, &versions[0], variant)?);
            } else {
                for v in &versions {
                    all.push(self.resolve_row(r, v, Some(v.clone()))?);
                }
            }
        }
        let selected: Vec<Row> = all
            .into_iter()
            .filter(|row| {
                (selection.only.is_empty() || selection.only.iter().any(|p| row_matches(row, p)))
                    && !selection.skip.iter().any(|p| row_matches(row, p))
            })
            .collect();
        if selected.is_empty() {
            bail!("no row selected (--only/--skip leave nothing)");
        }
        let sharded = match selection.shard {
            None => selected.clone(),
            Some((i, n)) => selected
                .iter()
                .enumerate()
                .filter(|(k, _)| k % n == i - 1)
                .map(|(_, r)| r.clone())
                .collect(),
        };
        Ok((sharded, selected))
    }

    fn check_pattern(&self, p: &str) -> Result<()> {
        if let Some(claim) = p.strip_prefix("claim:") {
            if !self.claims.iter().any(|c| glob(claim, &c.id)) {
                bail!(
                    "--only/--skip {p}: no claim matches (claims: {})",
                    self.claims
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        } else if let Some(tag) = p.strip_prefix("tag:") {
            if !self
                .file
                .rows
                .iter()
                .any(|r| r.tags.iter().any(|t| glob(tag, t)))
            {
                bail!("--only/--skip {p}: no row has a matching tag");
            }
        } else if !self.file.rows.iter().any(|r| glob(p, &r.id)) {
            bail!("--only/--skip {p}: no row id matches (see `plugctl matrix --list`)");
        }
        Ok(())
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Whether `--only`/`--skip` pattern `p` selects the row.
pub fn row_matches(row: &Row, p: &str) -> bool {
    if let Some(c) = p.strip_prefix("claim:") {
        glob(c, &row.claim)
    } else if let Some(t) = p.strip_prefix("tag:") {
        row.tags.iter().any(|tag| glob(t, tag))
    } else {
        glob(p, &row.id) || glob(p, &row.base_id)
    }
}

/// `I/N` with 1 ≤ I ≤ N.
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let (i, n) = text
        .split_once('/')
        .with_context(|| format!("--shard {text}: expected I/N, e.g. 1/4"))?;
    let i: usize = i
        .trim()
        .parse()
        .with_context(|| format!("--shard {text}: I is not a number"))?;
    let n: usize = n
        .trim()
        .parse()
        .with_context(|| format!("--shard {text}: N is not a number"))?;
    if n == 0 || i == 0 || i > n {
        bail!("--shard {text}: need 1 ≤ I ≤ N");
    }
    Ok((i, n))
}
