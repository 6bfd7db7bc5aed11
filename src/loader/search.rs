//! Search-path pieces of `elf/dl-load.c`: dynamic string tokens (`$ORIGIN`, `$LIB`,
//! `$PLATFORM`), `fillin_rpath`'s normalisation of path lists, and the dependency tree
//! the search produces.

use serde::Serialize;

/// How a requested name was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// `DT_RPATH` of the requesting object or of an object above it in the loader chain.
    Rpath,
    /// `LD_LIBRARY_PATH`.
    LdLibraryPath,
    /// `DT_RUNPATH` of the requesting object.
    Runpath,
    /// `/etc/ld.so.cache`.
    Cache,
    /// ld.so's built-in system directories.
    Default,
    /// An object already in the process matched the name (or, once opened, the file).
    AlreadyLoaded,
    /// The name contains a `/` and is opened as a path.
    DirectPath,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Rpath => "rpath",
            Rule::LdLibraryPath => "ld-library-path",
            Rule::Runpath => "runpath",
            Rule::Cache => "cache",
            Rule::Default => "default",
            Rule::AlreadyLoaded => "already-loaded",
            Rule::DirectPath => "direct-path",
        }
    }
}

/// One `DT_NEEDED` edge (or the dlopen itself, for the root) and how ld.so resolved it.
#[derive(Debug, Clone, Serialize)]
pub struct DepNode {
    /// The name as requested (after `$ORIGIN`-style expansion of a `DT_NEEDED` entry).
    pub name: String,
    /// The object's name in the process (`l_name`): the path it was opened with.
    pub path: Option<String>,
    /// How it was found; `None` when it was not.
    pub rule: Option<Rule>,
    /// The object whose `DT_RPATH`/`DT_RUNPATH` supplied the directory, for those rules.
    pub via: Option<String>,
    /// The dlerror() text when resolving this edge failed.
    pub error: Option<String>,
    /// Candidates the search skipped silently (other ELF class or machine), with why.
    pub skipped: Vec<String>,
    /// Index of the node that requested this one; `None` for the root.
    pub parent: Option<usize>,
    /// Indices of the nodes this object requested, in `DT_NEEDED` order.
    pub children: Vec<usize>,
    pub depth: usize,
}

/// A dependency tree in breadth-first load order (the order ld.so opens objects in);
/// `nodes[0]` is the root. An object appears once with its children; later requests for
/// it are leaves with rule `already-loaded`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DepTree {
    pub nodes: Vec<DepNode>,
}

impl DepTree {
    pub fn root(&self) -> Option<&DepNode> {
        self.nodes.first()
    }

    /// Nodes whose name could not be resolved.
    pub fn missing(&self) -> impl Iterator<Item = &DepNode> {
        self.nodes.iter().filter(|n| n.path.is_none())
    }

    pub(crate) fn push(&mut self, mut node: DepNode) -> usize {
        let index = self.nodes.len();
        if let Some(parent) = node.parent {
            node.depth = self.nodes[parent].depth + 1;
            self.nodes[parent].children.push(index);
        }
        self.nodes.push(node);
        index
    }
}

/// The values dynamic string tokens expand to for one object.
#[derive(Debug, Clone, Copy)]
pub struct Dst<'s> {
    /// `l_origin`: the directory of the object; `None` when unknown (the path is dropped).
    pub origin: Option<&'s str>,
    pub platform: &'s str,
    pub lib: &'s str,
}

/// Length of the token `name` at `input` (just after a `$`), braces included, or 0
/// (`is_dst`: the name must not continue with an identifier character).
fn is_dst(input: &[u8], name: &str) -> usize {
    let (curly, body) = match input.first() {
        Some(b'{') => (true, &input[1..]),
        _ => (false, input),
    };
    let n = name.len();
    if !body.starts_with(name.as_bytes()) {
        return 0;
    }
    let next = body.get(n).copied().unwrap_or(0);
    if curly {
        if next != b'}' {
            return 0;
        }
        return n + 2;
    }
    if next.is_ascii_alphanumeric() || next == b'_' {
        return 0;
    }
    n
}

/// `_dl_dst_substitute`: replaces `$ORIGIN`, `$PLATFORM` and `$LIB` (also `${...}`);
/// other `$` sequences stay. `None` when a known token has no value (ld.so then drops
/// the path, or skips the `DT_NEEDED` entry).
pub fn expand(input: &str, dst: &Dst<'_>) -> Option<String> {
    if !input.contains('$') {
        return Some(input.to_string());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 32);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let rest = &bytes[i + 1..];
        let (len, value) = if let n @ 1.. = is_dst(rest, "ORIGIN") {
            (n, dst.origin)
        } else if let n @ 1.. = is_dst(rest, "PLATFORM") {
            (n, Some(dst.platform))
        } else if let n @ 1.. = is_dst(rest, "LIB") {
            (n, Some(dst.lib))
        } else {
            (0, None)
        };
        if len == 0 {
            out.push(b'$');
            i += 1;
            continue;
        }
        out.extend_from_slice(value?.as_bytes());
        i += 1 + len;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// `fillin_rpath`: expands each element, drops those that expand to nothing, strips
/// trailing slashes and adds one, and drops repeats. An empty element (`a::b`) stays as
/// `""`: the current directory.
pub fn path_list<'i>(elements: impl IntoIterator<Item = &'i str>, dst: &Dst<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for element in elements {
        let dir = if element.is_empty() {
            String::new()
        } else {
            let Some(mut expanded) = expand(element, dst) else {
                continue;
            };
            if expanded.is_empty() {
                continue;
            }
            while expanded.len() > 1 && expanded.ends_with('/') {
                expanded.pop();
            }
            if !expanded.ends_with('/') {
                expanded.push('/');
            }
            expanded
        };
        if !out.contains(&dir) {
            out.push(dir);
        }
    }
    out
}

/// `l_origin` of an object opened as `realname` (`_dl_new_object`): its directory, made
/// absolute against `cwd`, not normalised, symlinks not resolved.
pub fn origin_of(realname: &str, cwd: &str) -> Option<String> {
    if realname.is_empty() {
        return None;
    }
    let full = if realname.starts_with('/') {
        realname.to_string()
    } else {
        format!("{}/{realname}", cwd.trim_end_matches('/'))
    };
    let cut = full.rfind('/')?;
    Some(if cut == 0 {
        "/".to_string()
    } else {
        full[..cut].to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DST: Dst<'static> = Dst {
        origin: Some("/opt/app/plugins"),
        platform: "x86_64",
        lib: "lib/x86_64-linux-gnu",
    };

    #[test]
    fn tokens_expand_like_glibc() {
        assert_eq!(
            expand("$ORIGIN/../lib", &DST).unwrap(),
            "/opt/app/plugins/../lib"
        );
        assert_eq!(expand("${ORIGIN}/x", &DST).unwrap(), "/opt/app/plugins/x");
        assert_eq!(
            expand("/usr/$LIB/$PLATFORM", &DST).unwrap(),
            "/usr/lib/x86_64-linux-gnu/x86_64"
        );
        // Not a token: an identifier continues, or unknown name.
        assert_eq!(expand("$ORIGINAL/$HOME", &DST).unwrap(), "$ORIGINAL/$HOME");
        let unknown = Dst {
            origin: None,
            ..DST
        };
        assert_eq!(expand("$ORIGIN/lib", &unknown), None);
    }

    #[test]
    fn path_lists_are_normalised() {
        let list = path_list("$ORIGIN/../lib//:/usr/lib/:/usr/lib::/".split(':'), &DST);
        assert_eq!(list, ["/opt/app/plugins/../lib/", "/usr/lib/", "", "/"]);
    }

    #[test]
    fn origin_is_the_unnormalised_directory() {
        assert_eq!(origin_of("/a/b/../c/lib.so", "/w").unwrap(), "/a/b/../c");
        assert_eq!(origin_of("./p.so", "/w/").unwrap(), "/w/.");
        assert_eq!(origin_of("/lib.so", "/w").unwrap(), "/");
        assert_eq!(origin_of("", "/w"), None);
    }
}
