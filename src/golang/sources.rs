//! Where a Go binary's sources were on the machine that built it.
//!
//! The runtime's `pclntab` keeps the name of every source file that contributed code.
//! Without `-trimpath` those names are absolute (`/src/app/../shared-v1/shared.go`
//! resolved, i.e. `/src/shared-v1/shared.go`), and the compiler hashes them into the
//! export data of each package: a plugin must compile a shared local module from the very
//! same directory, or `plugin.Open` reports a different version of its packages
//! (measured: the same `shared-v1` sources copied elsewhere give a mismatch). With
//! `-trimpath` the names are `module@version/file.go` and the directory does not matter.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::elf::Artifact;

/// The source file names recorded in the binary's `pclntab` (Go 1.16 and later).
#[derive(Debug, Clone, Default)]
pub struct FileTable {
    pub files: Vec<String>,
}

impl FileTable {
    /// Reads `.gopclntab`; an empty table when it is missing or not understood.
    pub fn read(artifact: &Artifact) -> FileTable {
        let Some(data) = artifact.section_data(".gopclntab") else {
            return FileTable::default();
        };
        FileTable {
            files: parse_filetab(data).unwrap_or_default(),
        }
    }

    /// Whether the names are absolute paths (a build without `-trimpath`).
    pub fn has_absolute_paths(&self) -> bool {
        self.files.iter().any(|f| f.starts_with('/'))
    }

    /// The directories that hold recorded files, deduplicated.
    fn dirs(&self) -> BTreeSet<&str> {
        self.files
            .iter()
            .filter(|f| f.starts_with('/'))
            .filter_map(|f| {
                f.rsplit_once('/')
                    .map(|(dir, _)| if dir.is_empty() { "/" } else { dir })
            })
            .collect()
    }

    /// The absolute directory the binary compiled `module` from, found through the
    /// directories of its packages (`packages`: import paths linked into the binary)
    /// and, when the build info names one, the replacement (`../shared-v1`): the
    /// directory must end with the replacement's last named elements (or equal an
    /// absolute replacement); without one it must be a module cache directory
    /// (`.../module@version`). `None` when the table has no absolute names for the module
    /// or the candidates disagree.
    pub fn module_dir(
        &self,
        module: &str,
        packages: &[&str],
        replacement: Option<&str>,
    ) -> Option<PathBuf> {
        let tail: Vec<String> = replacement.map(named_tail).unwrap_or_default();
        self.unique_root(module, packages, |root| match replacement {
            Some(r) if r.starts_with('/') => clean(Path::new(r)) == Path::new(root),
            Some(_) => !tail.is_empty() && ends_with_elements(root, &tail),
            None => ends_with_module_version(root, module),
        })
    }

    /// The directory of the binary's main module (built from a work tree, `(devel)`):
    /// directories of its packages outside GOROOT, the module cache and `exclude` (the
    /// directories of the other local modules).
    pub fn main_module_dir(
        &self,
        module: &str,
        packages: &[&str],
        exclude: &[PathBuf],
    ) -> Option<PathBuf> {
        let goroot_src = self.goroot().map(|g| format!("{}/src/", g.display()));
        self.unique_root(module, packages, |root| {
            !root.contains('@')
                && goroot_src
                    .as_deref()
                    .is_none_or(|g| !format!("{root}/").starts_with(g))
                && !exclude.iter().any(|e| Path::new(root).starts_with(e))
        })
    }

    /// The GOROOT the binary's standard library was compiled from.
    pub fn goroot(&self) -> Option<PathBuf> {
        self.files.iter().find_map(|f| {
            f.strip_suffix("/src/runtime/proc.go")
                .filter(|g| g.starts_with('/'))
                .map(PathBuf::from)
        })
    }

    fn unique_root(
        &self,
        module: &str,
        packages: &[&str],
        accept: impl Fn(&str) -> bool,
    ) -> Option<PathBuf> {
        let dirs = self.dirs();
        let mut found: BTreeSet<String> = BTreeSet::new();
        for package in packages {
            let Some(sub) = package_subdir(module, package) else {
                continue;
            };
            for dir in &dirs {
                if let Some(root) = strip_dir_suffix(dir, &sub).filter(|root| accept(root)) {
                    found.insert(root.to_string());
                }
            }
        }
        // A package dir that is itself a sub-directory of another candidate (`x/sub`
        // when `x` is the root) is the same module seen through a nested package.
        let roots: Vec<&String> = found
            .iter()
            .filter(|c| {
                !found
                    .iter()
                    .any(|o| o != *c && c.starts_with(&format!("{o}/")))
            })
            .collect();
        match roots.as_slice() {
            [one] => Some(PathBuf::from(one.as_str())),
            _ => None,
        }
    }

    /// The module cache a non-trimpath binary used for `module@version`, from a name
    /// like `/home/ci/go/pkg/mod/golang.org/x/text@v0.14.0/...`.
    pub fn module_cache(&self, module: &str, version: &str) -> Option<PathBuf> {
        let needle = format!("/{}@{}/", escape_module_path(module), version);
        self.files
            .iter()
            .filter(|f| f.starts_with('/'))
            .find_map(|f| f.find(&needle).map(|at| PathBuf::from(&f[..at])))
    }
}

/// A `replace` target that is a directory (`./x`, `../x`, `/x`), not a module.
pub fn is_local_path(path: &str) -> bool {
    path == "."
        || path == ".."
        || path.starts_with("./")
        || path.starts_with("../")
        || path.starts_with('/')
}

/// The module cache's case encoding: `A` → `!a`.
pub fn escape_module_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `example.com/m/sub` in module `example.com/m` → `/sub`; the module itself → ``.
fn package_subdir(module: &str, package: &str) -> Option<String> {
    if package == module {
        return Some(String::new());
    }
    package
        .strip_prefix(module)
        .filter(|rest| rest.starts_with('/'))
        .map(str::to_string)
}

fn strip_dir_suffix<'a>(dir: &'a str, suffix: &str) -> Option<&'a str> {
    if suffix.is_empty() {
        return Some(dir);
    }
    dir.strip_suffix(suffix).filter(|root| !root.is_empty())
}

/// The named elements at the end of a relative path: `../../x/y` → [`x`, `y`].
fn named_tail(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(name) => out.push(name.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn ends_with_elements(dir: &str, tail: &[String]) -> bool {
    let elements: Vec<&str> = dir.split('/').filter(|e| !e.is_empty()).collect();
    elements.len() >= tail.len()
        && elements[elements.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(a, b)| a == b)
}

fn ends_with_module_version(dir: &str, module: &str) -> bool {
    let escaped = escape_module_path(module);
    dir.rsplit_once('@')
        .is_some_and(|(head, _)| head.ends_with(&escaped))
}

/// Lexically cleans a path (`a/b/../c` → `a/c`) without touching the file system.
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The file table of a `pclntab`: magic, two pad bytes, instruction quantum, pointer
/// size, then `nfunc`, `nfiles`, (Go 1.18+: `textStart`), `funcnameOffset`,
/// `cuOffset`, `filetabOffset`, `pctabOffset`, `pclnOffset`, each a pointer-sized word.
/// The file table runs from `filetabOffset` to `pctabOffset`: NUL-terminated names.
fn parse_filetab(data: &[u8]) -> Option<Vec<String>> {
    let magic = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?);
    let ptr = usize::from(*data.get(7)?);
    if ptr != 4 && ptr != 8 {
        return None;
    }
    let (filetab_word, pctab_word) = match magic {
        // Go 1.18, 1.20+: the text start follows nfiles.
        0xffff_fff0 | 0xffff_fff1 => (5, 6),
        // Go 1.16, 1.17.
        0xffff_fffa => (4, 5),
        _ => return None,
    };
    let word = |i: usize| -> Option<usize> {
        let at = 8 + i * ptr;
        let bytes = data.get(at..at + ptr)?;
        let value = if ptr == 8 {
            u64::from_le_bytes(bytes.try_into().ok()?)
        } else {
            u64::from(u32::from_le_bytes(bytes.try_into().ok()?))
        };
        usize::try_from(value).ok()
    };
    let (start, end) = (word(filetab_word)?, word(pctab_word)?);
    let table = data.get(start..end)?;
    Some(
        table
            .split(|b| *b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(files: &[&str]) -> FileTable {
        FileTable {
            files: files.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn replaced_module_dir_from_absolute_names() {
        let t = table(&[
            "/go/src/runtime/proc.go",
            "/work/src/loadhost/main.go",
            "/work/src/shared-v1/shared.go",
            "/work/src/shared-v1/sub/x.go",
        ]);
        let packages = ["example.com/shared", "example.com/shared/sub", "runtime"];
        assert_eq!(
            t.module_dir("example.com/shared", &packages, Some("../shared-v1")),
            Some(PathBuf::from("/work/src/shared-v1"))
        );
        assert_eq!(
            t.module_dir("example.com/shared", &packages, Some("../shared-v2")),
            None
        );
        assert_eq!(
            t.module_dir("example.com/shared", &packages, Some("/work/src/shared-v1")),
            Some(PathBuf::from("/work/src/shared-v1"))
        );
    }

    #[test]
    fn main_module_dir_excludes_goroot_and_other_modules() {
        let t = table(&[
            "/go/src/runtime/proc.go",
            "/go/src/fmt/print.go",
            "/work/src/app/main.go",
            "/work/src/app/api/api.go",
            "/work/src/shared-v1/shared.go",
        ]);
        let packages = ["example.com/app", "example.com/app/api"];
        assert_eq!(t.goroot(), Some(PathBuf::from("/go")));
        assert_eq!(
            t.main_module_dir(
                "example.com/app",
                &packages,
                &[PathBuf::from("/work/src/shared-v1")]
            ),
            Some(PathBuf::from("/work/src/app"))
        );
    }

    #[test]
    fn trimmed_names_give_no_directory() {
        let t = table(&[
            "example.com/loadhost/main.go",
            "example.com/shared@v0.0.0/shared.go",
        ]);
        assert!(!t.has_absolute_paths());
        assert_eq!(
            t.module_dir(
                "example.com/shared",
                &["example.com/shared"],
                Some("../shared-v1")
            ),
            None
        );
    }

    #[test]
    fn module_cache_location() {
        let t = table(&["/home/ci/go/pkg/mod/github.com/!burnt!sushi/toml@v1.3.2/decode.go"]);
        assert_eq!(
            t.module_cache("github.com/BurntSushi/toml", "v1.3.2"),
            Some(PathBuf::from("/home/ci/go/pkg/mod"))
        );
        assert_eq!(
            t.module_dir(
                "github.com/BurntSushi/toml",
                &["github.com/BurntSushi/toml"],
                None
            ),
            Some(PathBuf::from(
                "/home/ci/go/pkg/mod/github.com/!burnt!sushi/toml@v1.3.2"
            ))
        );
    }

    #[test]
    fn paths_clean_lexically() {
        assert_eq!(clean(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
        assert_eq!(
            named_tail("../../x/y"),
            vec!["x".to_string(), "y".to_string()]
        );
    }
}
