//! `dlopen`: `dl_open_worker_begin` for one plugin: map it and its dependencies,
//! check versions and ISA levels, relocate dependencies first; a failure leaves the
//! process as it was.

use std::path::Path;

use super::deps::{DepsWalk, node};
use super::mapping::Request;
use super::relocate::relocation_order;
use super::{Failure, Loader, LoaderPrediction, Note, OpenMode, Plugin, Process, TlsUse};
use crate::elf::Artifact;
use crate::loader::fs::PF_X;
use crate::loader::search::DepTree;
use crate::verdict::{LoadVerdict, Outcome};

/// What one dlopen records besides its outcome: the dependency tree, static TLS use and
/// notes.
struct Record<'r> {
    tree: &'r mut DepTree,
    tls: &'r mut TlsUse,
    notes: &'r mut Vec<Note>,
}

impl<'a> Loader<'a> {
    /// dlopen of one plugin into `p`; `p` is left as it was when it fails.
    pub(super) fn dlopen(
        &mut self,
        p: &mut Process<'a>,
        plugin: &Plugin<'a>,
        mode: OpenMode,
    ) -> LoaderPrediction {
        let (art, given) = match plugin {
            Plugin::Artifact(art) => (Some(*art), art.path.to_string_lossy().into_owned()),
            Plugin::Name(name) => (None, name.clone()),
        };
        // A file the user named without a slash can stand for that file rather than a
        // name to search for: the C host is then handed `./NAME`.
        let mut name = if mode.bare_name_is_file && !given.contains('/') {
            format!("./{given}")
        } else {
            given.clone()
        };
        let mut notes = Vec::new();
        let free_before = p.tls.free();
        let mut tls = TlsUse {
            size: art.and_then(|a| a.tls.size).unwrap_or(0),
            align: art.and_then(|a| a.tls.align).unwrap_or(0),
            model: art.map(|a| a.tls.model).unwrap_or_default(),
            static_blocks: Vec::new(),
            free_before,
            free_after: free_before,
        };
        let mut tree = DepTree::default();
        if mode.realpath {
            match self.realpath(Path::new(&given)) {
                Some(real) => name = real,
                None => {
                    let error = format!("plugin.Open(\"{given}\"): realpath failed");
                    let verdict = LoadVerdict::fail(
                        Outcome::MissingLibrary,
                        error,
                        "the plugin path does not resolve (realpath(3) failed)",
                        "",
                    );
                    return LoaderPrediction {
                        name,
                        verdict,
                        tree,
                        tls,
                        loaded: Vec::new(),
                        notes,
                    };
                }
            }
        }
        let snapshot = p.clone();
        let record = Record {
            tree: &mut tree,
            tls: &mut tls,
            notes: &mut notes,
        };
        let outcome = self.dlopen_worker(p, art, &name, mode, record);
        if art.is_none()
            && let Some(root) = p.maps.get(snapshot.maps.len())
            && let Some(a) = root.file.artifact()
        {
            tls.size = a.tls.size.unwrap_or(0);
            tls.align = a.tls.align.unwrap_or(0);
            tls.model = a.tls.model;
        }
        let (verdict, loaded) = match outcome {
            Ok(loaded) => {
                tls.free_after = p.tls.free();
                (LoadVerdict::ok(ok_cause(&loaded, mode)), loaded)
            }
            Err(f) => {
                *p = snapshot;
                tls.static_blocks.clear();
                (
                    LoadVerdict {
                        outcome: f.outcome,
                        error: Some(f.error),
                        package: None,
                        cause: f.cause,
                        fix: f.fix,
                    },
                    Vec::new(),
                )
            }
        };
        LoaderPrediction {
            name,
            verdict,
            tree,
            tls,
            loaded,
            notes,
        }
    }

    /// `dl_open_worker_begin`: the objects this dlopen adds, in load order.
    fn dlopen_worker(
        &mut self,
        p: &mut Process<'a>,
        art: Option<&'a Artifact>,
        name: &str,
        mode: OpenMode,
        record: Record<'_>,
    ) -> Result<Vec<String>, Failure> {
        let Record { tree, tls, notes } = record;
        let before = p.maps.len();
        let root_node = tree.push(node(name.to_string(), None, None, None, None));
        let mut scratch = tree.nodes[root_node].clone();
        let stack_before = p.stack_exec;
        let in_memory =
            art.filter(|_| name.contains('/') && self.fs.locate(name).is_ok_and(|h| !h.exists()));
        let mapped = if let Some(art) = in_memory {
            // An in-memory artifact with no file behind it: verify its bytes.
            self.map_in_memory(p, art, name)
        } else {
            self.map_object(
                p,
                Request {
                    loader: Some(0),
                    name,
                    callmap: true,
                    dlopen: true,
                    root: before,
                },
                &mut scratch,
            )
        };
        let root = match mapped {
            Ok(r) => r,
            Err(f) => {
                let n = &mut tree.nodes[root_node];
                n.error = Some(f.error.clone());
                n.skipped = scratch.skipped;
                return Err(f);
            }
        };
        {
            let n = &mut tree.nodes[root_node];
            n.path = Some(p.maps[root.index].l_name.clone());
            n.rule = Some(root.rule);
            n.via = root.via.clone();
            n.skipped = scratch.skipped;
        }
        if !root.new {
            notes.push(Note {
                code: "already-loaded",
                object: p.maps[root.index].l_name.clone(),
                message: format!("{name} is already in the process (as {}); dlopen returns it without loading anything", p.maps[root.index].l_name),
            });
            if mode.global && !p.global.contains(&root.index) {
                p.global.push(root.index);
            }
            return Ok(Vec::new());
        }
        let root = root.index;
        if let Some(f) = self.map_deps(
            p,
            tree,
            DepsWalk {
                root,
                root_node,
                dlopen: true,
                new_from: before,
                preloads: &[],
            },
        ) {
            return Err(f);
        }
        let searchlist = p.maps[root].searchlist.clone();
        if !stack_before && p.stack_exec {
            let who: Vec<&str> = (before..p.maps.len())
                .filter(|&i| p.maps[i].file.stack_flags() & PF_X != 0)
                .map(|i| p.maps[i].l_name.as_str())
                .collect();
            notes.push(Note {
                code: "exec-stack",
                object: who.join(", "),
                message: format!(
                    "{} requires an executable stack; glibc {} makes every thread stack executable to load it (glibc 2.41 and later refuse: \"cannot enable executable stack as shared object requires: Invalid argument\")",
                    who.join(", "),
                    self.env.glibc_version.as_deref().unwrap_or("(unknown)")
                ),
            });
        }
        // Versions, in search-list order.
        for &m in &searchlist {
            if p.maps[m].versions_done {
                continue;
            }
            self.check_versions(p, m)?;
        }
        for &m in &searchlist {
            p.maps[m].versions_done = true;
        }
        // Relocation order: DFS post-order over the search list, dependencies first.
        let order = relocation_order(p, &searchlist);
        for &m in &order {
            if p.maps[m].relocated || m < before {
                continue;
            }
            let need = p.maps[m].file.header.as_ref().map_or(0, |h| h.isa_1_needed);
            if need & self.env.isa_1 != need {
                return Err(Failure::new(
                    &p.maps[m].l_name,
                    "CPU ISA level is lower than required",
                    0,
                    Outcome::WrongMachine,
                    format!(
                        "{} needs x86 ISA level bits {need:#x}; this CPU has {:#x}",
                        p.maps[m].l_name, self.env.isa_1
                    ),
                    "rebuild it for a lower x86-64 level (GOAMD64=v1 / -march=x86-64)",
                ));
            }
        }
        let mut scope = p.global.clone();
        scope.extend(searchlist.iter().copied());
        for &m in &order {
            if p.maps[m].relocated {
                continue;
            }
            self.relocate(p, m, &scope, mode, tls, notes)?;
            p.maps[m].relocated = true;
        }
        if mode.global {
            for &m in &searchlist {
                if !p.global.contains(&m) {
                    p.global.push(m);
                }
            }
        }
        Ok((before..p.maps.len())
            .map(|i| p.maps[i].l_name.clone())
            .collect())
    }
}

fn ok_cause(loaded: &[String], mode: OpenMode) -> String {
    let how = if mode.lazy { "RTLD_LAZY" } else { "RTLD_NOW" };
    match loaded.len() {
        0 => "already loaded".to_string(),
        1 => format!("ld.so maps, versions and relocates it ({how}) without error"),
        2 => format!(
            "ld.so maps it and 1 dependency, checks versions and relocates ({how}) without error"
        ),
        n => format!(
            "ld.so maps it and {} dependencies, checks versions and relocates ({how}) without error",
            n - 1
        ),
    }
}
