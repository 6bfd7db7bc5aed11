//! Builds, loads and rows with everything decided: what the runner runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::schema::{Kind, LoadDef, Protocol, Via, is_false};

/// A build with everything decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    pub kind: Kind,
    /// Relative to the source tree; `""` is its root.
    pub dir: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Go builds: the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replace: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soname: Option<String>,
    /// Output file name, unique within the row.
    pub name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub strip: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
}

impl Build {
    /// One line: `greeter go1.26.6 -trimpath GOAMD64=v3`.
    pub fn label(&self) -> String {
        let what = if self.dir.is_empty() {
            self.files
                .first()
                .cloned()
                .unwrap_or_else(|| self.name.clone())
        } else if !self.files.is_empty() && !self.kind.is_go() {
            format!("{}/{}", self.dir, self.files.join(","))
        } else {
            self.dir.clone()
        };
        let mut parts = vec![what];
        if let Some(go) = &self.go {
            parts.push(format!("go{go}"));
        }
        if let Some(cc) = &self.cc {
            parts.push(cc.clone());
        }
        parts.extend(self.flags.iter().cloned());
        parts.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        parts.extend(self.replace.iter().map(|(m, d)| format!("{m}=>{d}")));
        if self.strip {
            parts.push("+strip".into());
        }
        parts.join(" ")
    }

    /// The C compiler this build needs (Go builds use one for cgo).
    pub fn compiler(&self) -> Option<String> {
        match self.kind {
            Kind::CShared | Kind::CHost => Some(self.cc.clone().unwrap_or_else(|| "gcc".into())),
            Kind::GoPlugin | Kind::GoHost => {
                if self.env.get("CGO_ENABLED").is_some_and(|v| v == "0") {
                    return None;
                }
                if let Some(cc) = self.env.get("CC") {
                    // `gcc -m32`: the program is the first word.
                    return cc.split_whitespace().next().map(str::to_string);
                }
                let goarch = self.env.get("GOARCH").map(String::as_str);
                match goarch {
                    Some(a) if a != crate::gobuild::mirror::machine_goarch() => {
                        crate::gobuild::mirror::cross_compiler(a).map(|(cc, _)| cc.to_string())
                    }
                    _ => Some("gcc".into()),
                }
            }
        }
    }
}

/// How to load, decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Load {
    pub via: Via,
    #[serde(flatten)]
    pub options: LoadDef,
}

/// One row, ready to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// The row's id; `ID@VERSION` when several `--go` releases run it.
    pub id: String,
    /// The id in the definition.
    pub base_id: String,
    pub title: String,
    pub claim: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Build>,
    pub plugins: Vec<Build>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub libs: BTreeMap<String, Build>,
    pub load: Load,
    /// What the claim says happens.
    pub says: BTreeMap<String, Vec<String>>,
    /// What was measured when the row was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Programs the row needs on PATH (given and derived: compilers, `strip`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The `--go` release this instance was made for (rows naming no release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_variant: Option<String>,
}
