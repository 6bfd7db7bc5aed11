//! Is a plugin's package ready for `GOOS=wasip1 GOARCH=wasm`, and if not, what blocks it:
//! read from `go list -e -json -deps` for that target (cgo files, packages whose build
//! constraints exclude wasip1, other package errors, each with the import chain from the
//! plugin), calls of syscall functions that wasip1 only stubs (read from the toolchain's
//! own `syscall` sources), and the compiler's errors of a real build ([`compile_blockers`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// What kind of obstacle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockerKind {
    /// A file imports "C": wasip1 has no cgo.
    Cgo,
    /// Build constraints exclude every file of a package for wasip1.
    Constraints,
    /// Another `go list` error (missing package, bad import).
    Package,
    /// The compiler rejected the code for wasip1 (e.g. an API wasip1 lacks).
    Compile,
    /// A syscall function that compiles but is a stub on wasip1.
    Stub,
    /// The generated lifecycle wrapper did not compile: a lifecycle export has a type
    /// the wrapper cannot call.
    Wrapper,
    /// The build failed for another reason (the last lines of its output).
    Build,
}

impl BlockerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockerKind::Cgo => "cgo",
            BlockerKind::Constraints => "constraints",
            BlockerKind::Package => "package",
            BlockerKind::Compile => "compile",
            BlockerKind::Stub => "stub",
            BlockerKind::Wrapper => "wrapper",
            BlockerKind::Build => "build",
        }
    }

    /// A stub builds and runs (it only behaves differently): the module can still run.
    pub fn blocks_build(self) -> bool {
        self != BlockerKind::Stub
    }
}

/// One obstacle to running the plugin as WebAssembly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub kind: BlockerKind,
    /// The import path of the package it is in.
    pub package: String,
    /// The file, as reachable from the current directory when possible.
    pub file: Option<String>,
    pub line: Option<u32>,
    pub message: String,
    /// From the plugin's package to `package`.
    pub import_chain: Vec<String>,
}

impl Blocker {
    /// `file:line` or the package.
    pub fn location(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{f}:{l}"),
            (Some(f), None) => f.clone(),
            _ => self.package.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListError {
    pub import_stack: Vec<String>,
    pub pos: String,
    pub err: String,
}

/// The fields of `go list -json` read here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListedPackage {
    pub import_path: String,
    pub name: String,
    pub dir: String,
    pub go_files: Vec<String>,
    pub ignored_go_files: Vec<String>,
    pub imports: Vec<String>,
    pub standard: bool,
    pub error: Option<ListError>,
    pub deps_errors: Vec<ListError>,
}

/// The plugin's package graph for wasip1 and what blocks it.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// The plugin's own package (the last one `go list -deps` prints).
    pub root: ListedPackage,
    pub packages: BTreeMap<String, ListedPackage>,
    pub blockers: Vec<Blocker>,
}

/// Parses `go list -e -json -deps` output (a stream of JSON objects).
pub fn parse_list(text: &str) -> Result<Vec<ListedPackage>> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<ListedPackage>()
        .collect::<Result<Vec<_>, _>>()
        .context("reading go list -json output")
}

/// Shortest import chain from `root` to `target` over `Imports`.
pub fn chain(packages: &BTreeMap<String, ListedPackage>, root: &str, target: &str) -> Vec<String> {
    let mut prev: HashMap<&str, &str> = HashMap::new();
    let mut queue = VecDeque::from([root]);
    while let Some(p) = queue.pop_front() {
        if p == target {
            let mut out = vec![target.to_string()];
            let mut at = target;
            while let Some(&before) = prev.get(at) {
                out.push(before.to_string());
                at = before;
            }
            out.reverse();
            return out;
        }
        for next in packages.get(p).map(|x| x.imports.as_slice()).unwrap_or(&[]) {
            if next != root && !prev.contains_key(next.as_str()) {
                prev.insert(next, p);
                queue.push_back(next);
            }
        }
    }
    vec![root.to_string(), target.to_string()]
}

/// `dir/file` shown relative to the current directory when it is below it.
pub fn shown_path(dir: &str, file: &str) -> String {
    let full = Path::new(dir).join(file);
    std::env::current_dir()
        .ok()
        .and_then(|cwd| full.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or(full)
        .display()
        .to_string()
}

/// The line of `import "C"` in a Go file (alone or inside an import block).
fn cgo_import_line(text: &str) -> Option<u32> {
    let mut in_block = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t == "import \"C\"" || (in_block && t == "\"C\"") {
            return Some(n as u32 + 1);
        }
        if t.starts_with("import (") {
            in_block = true;
        } else if in_block && t == ")" {
            in_block = false;
        }
    }
    None
}

/// Functions of the toolchain's `syscall` package for wasip1 that only stub what WASI
/// lacks: their body returns ENOSYS or ends the module (`ProcExit`). Name → behaviour.
pub fn wasip1_stubs(goroot: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let dir = goroot.join("src/syscall");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with("_wasip1.go") || name.ends_with("_test.go") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let mut current: Option<(String, String)> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("func ")
                && let Some((fname, _)) = rest.split_once('(')
                && fname.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            {
                current = Some((fname.to_string(), String::new()));
                continue;
            }
            if line == "}" {
                if let Some((fname, body)) = current.take() {
                    let what = if body.contains("ProcExit(") {
                        Some(
                            "on wasip1 it ends the module itself (WASI has no processes or signals); other pids get ESRCH",
                        )
                    } else if body.contains("ENOSYS") {
                        Some("on wasip1 it always fails with ENOSYS")
                    } else {
                        None
                    };
                    if let Some(w) = what {
                        out.insert(fname, w.to_string());
                    }
                }
                continue;
            }
            if let Some((_, body)) = current.as_mut() {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    out
}

/// Calls of `syscall.NAME(` for a stubbed NAME in the package's files.
fn stub_uses(
    p: &ListedPackage,
    stubs: &BTreeMap<String, String>,
    chain: &[String],
) -> Vec<Blocker> {
    let mut out = Vec::new();
    for f in &p.go_files {
        let Ok(text) = std::fs::read_to_string(Path::new(&p.dir).join(f)) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (name, what) in stubs {
                if code.contains(&format!("syscall.{name}(")) {
                    out.push(Blocker {
                        kind: BlockerKind::Stub,
                        package: p.import_path.clone(),
                        file: Some(shown_path(&p.dir, f)),
                        line: Some(n as u32 + 1),
                        message: format!("syscall.{name}: {what}"),
                        import_chain: chain.to_vec(),
                    });
                }
            }
        }
    }
    out
}

/// Reads the package graph (`go list` output for wasip1) and finds its blockers.
pub fn analyze(list_output: &str, goroot: Option<&Path>) -> Result<Readiness> {
    let listed = parse_list(list_output)?;
    let Some(root) = listed.last().cloned() else {
        bail!("go list printed no package");
    };
    let packages: BTreeMap<String, ListedPackage> = listed
        .into_iter()
        .map(|p| (p.import_path.clone(), p))
        .collect();
    let stubs = goroot.map(wasip1_stubs).unwrap_or_default();
    let mut blockers = Vec::new();
    for p in packages.values() {
        let path_to = |e: Option<&ListError>| match e {
            Some(e) if !e.import_stack.is_empty() => e.import_stack.clone(),
            _ => chain(&packages, &root.import_path, &p.import_path),
        };
        let mut cgo = false;
        if !p.standard {
            for f in &p.ignored_go_files {
                let text = std::fs::read_to_string(Path::new(&p.dir).join(f)).unwrap_or_default();
                if let Some(line) = cgo_import_line(&text) {
                    cgo = true;
                    blockers.push(Blocker {
                        kind: BlockerKind::Cgo,
                        package: p.import_path.clone(),
                        file: Some(shown_path(&p.dir, f)),
                        line: Some(line),
                        message: "import \"C\": cgo is not available for wasip1 (the file is left out, and with it what it defines)".into(),
                        import_chain: path_to(p.error.as_ref()),
                    });
                }
            }
            if p.error.is_none() {
                blockers.extend(stub_uses(p, &stubs, &path_to(None)));
            }
        }
        if let Some(e) = &p.error {
            let constraints = e.err.contains("build constraints exclude");
            if constraints && cgo {
                continue;
            }
            let (file, line) = match e.pos.rsplitn(3, ':').collect::<Vec<_>>().as_slice() {
                [_, l, f] => (Some(f.to_string()), l.parse().ok()),
                _ => (None, None),
            };
            blockers.push(Blocker {
                kind: if constraints {
                    BlockerKind::Constraints
                } else {
                    BlockerKind::Package
                },
                package: p.import_path.clone(),
                file,
                line,
                message: if constraints {
                    format!("{} (the package does not support wasip1)", e.err)
                } else {
                    e.err.clone()
                },
                import_chain: path_to(Some(e)),
            });
        }
    }
    Ok(Readiness {
        root,
        packages,
        blockers,
    })
}

/// The compiler's complaints in a failed `go build`'s stderr: `# import/path` headers
/// then `file:line:col: message` lines (files relative to `dir`, where go ran).
/// `generated` names the overlay file: errors in it are the wrapper's.
pub fn compile_blockers(
    stderr: &str,
    dir: &Path,
    readiness: &Readiness,
    generated: &[PathBuf],
) -> Vec<Blocker> {
    let mut out = Vec::new();
    let mut package = readiness.root.import_path.clone();
    for line in stderr.lines() {
        if let Some(p) = line.strip_prefix("# ") {
            package = p.trim().to_string();
            continue;
        }
        let mut parts = line.splitn(4, ':');
        let (Some(file), Some(l), Some(_col), Some(msg)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(l) = l.parse::<u32>() else { continue };
        if !file.ends_with(".go") {
            continue;
        }
        let full = if Path::new(file).is_absolute() {
            PathBuf::from(file)
        } else {
            dir.join(file)
        };
        let wrapper = generated.iter().any(|g| g == &full);
        out.push(Blocker {
            kind: if wrapper {
                BlockerKind::Wrapper
            } else {
                BlockerKind::Compile
            },
            package: package.clone(),
            file: Some(shown_path(
                &full.parent().unwrap_or(dir).display().to_string(),
                &full.file_name().unwrap_or_default().to_string_lossy(),
            )),
            line: Some(l),
            message: msg.trim().to_string(),
            import_chain: chain(&readiness.packages, &readiness.root.import_path, &package),
        });
    }
    if out.is_empty() {
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        out.push(Blocker {
            kind: BlockerKind::Build,
            package,
            file: None,
            line: None,
            message: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            import_chain: Vec::new(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgo_import_found_alone_and_in_a_block() {
        assert_eq!(
            cgo_import_line("package x\n\n// #include <a.h>\nimport \"C\"\n"),
            Some(4)
        );
        assert_eq!(
            cgo_import_line("package x\nimport (\n\t\"fmt\"\n\t\"C\"\n)\n"),
            Some(4)
        );
        assert_eq!(cgo_import_line("package x\nimport \"fmt\"\n"), None);
    }

    #[test]
    fn chain_is_the_shortest_import_path() {
        let mut g = BTreeMap::new();
        for (p, imports) in [
            ("a", vec!["b", "c"]),
            ("b", vec!["d"]),
            ("c", vec!["d"]),
            ("d", vec![]),
        ] {
            g.insert(
                p.to_string(),
                ListedPackage {
                    import_path: p.into(),
                    imports: imports.into_iter().map(String::from).collect(),
                    ..ListedPackage::default()
                },
            );
        }
        assert_eq!(chain(&g, "a", "d"), ["a", "b", "d"]);
    }
}
