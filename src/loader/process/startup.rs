//! Start-up: the executable, ld.so, the vDSO, `LD_PRELOAD` and the executable's
//! dependencies, then the static TLS layout of every start-up object.

use std::collections::HashSet;
use std::path::Path;
use std::rc::Rc;

use super::deps::{DepsWalk, node};
use super::files::{ArtRef, ObjFile};
use super::mapping::Request;
use super::{HostSetup, Loader, Map, Process};
use crate::elf::Artifact;
use crate::loader::fs::{PF_X, Verified};
use crate::loader::search::{self, DepTree, Rule};
use crate::loader::tls::StaticTls;

impl<'a> Loader<'a> {
    pub(super) fn startup(&mut self, host: Option<&'a Artifact>) -> (Process<'a>, HostSetup) {
        // A normal exec: l_name is "", l_origin is the executable's real directory.
        let origin = host.and_then(|h| {
            let real = self.realpath(&h.path)?;
            Some(Path::new(&real).parent()?.to_string_lossy().into_owned())
        });
        self.startup_with(host, String::new(), origin)
    }

    pub(super) fn startup_with(
        &mut self,
        host: Option<&'a Artifact>,
        l_name: String,
        origin: Option<String>,
    ) -> (Process<'a>, HostSetup) {
        let main_file = match host {
            Some(art) => {
                let header = match crate::loader::fs::verify_for(art.bytes(), self.env.arch) {
                    Verified::Ok(h) => Some(*h),
                    _ => None,
                };
                Rc::new(ObjFile::from_artifact(
                    ArtRef::Borrowed(art),
                    header,
                    self.stat_id(&art.path),
                ))
            }
            None => Rc::new(ObjFile::synthetic(&["libc.so.6"], None)),
        };
        let main = Map {
            file: main_file.clone(),
            names: vec![l_name.clone()],
            l_name,
            soname_added: false,
            loader: None,
            origin,
            is_main: true,
            relocated: true,
            versions_done: true,
            deps: Vec::new(),
            searchlist: Vec::new(),
            root: 0,
            static_tls: false,
        };
        let mut process = Process {
            maps: vec![main],
            global: Vec::new(),
            tls: StaticTls::startup(&[], 0, 0),
            stack_exec: main_file.stack_flags() & PF_X != 0,
        };
        let mut problems = Vec::new();
        // ld.so itself, under its PT_INTERP name and its soname; and the vDSO.
        let interp = host
            .and_then(|h| h.identity.interpreter.clone())
            .unwrap_or_else(|| self.env.interpreter.clone());
        let rtld_file = match self.candidate_file(&interp) {
            Some(file) => file,
            None => {
                if !self.env.assume_libraries {
                    problems.push(format!(
                        "{interp}: the program interpreter could not be read"
                    ));
                }
                Rc::new(ObjFile {
                    parse_error: Some("unreadable".into()),
                    ..ObjFile::synthetic(&[], Some(self.env.arch.interpreter_soname()))
                })
            }
        };
        let rtld_soname = rtld_file
            .soname
            .clone()
            .unwrap_or_else(|| self.env.arch.interpreter_soname().into());
        process
            .maps
            .push(self.new_map(rtld_file, interp.clone(), &interp, None, 0));
        if rtld_soname != interp {
            process.maps[1].names.push(rtld_soname);
        }
        process.maps[1].soname_added = true;
        let vdso = Rc::new(ObjFile::synthetic(&[], Some("linux-vdso.so.1")));
        process
            .maps
            .push(self.new_map(vdso, "linux-vdso.so.1".into(), "linux-vdso.so.1", None, 0));
        for m in &mut process.maps {
            m.relocated = true;
            m.versions_done = true;
        }
        let mut tree = DepTree::default();
        let root_name = host.map_or_else(
            || "<C host: libc.so.6 only>".to_string(),
            |h| h.path.to_string_lossy().into_owned(),
        );
        let root_path = host.map(|h| h.path.to_string_lossy().into_owned());
        let root_node = tree.push(node(
            root_name,
            root_path,
            Some(Rule::DirectPath),
            None,
            None,
        ));
        // LD_PRELOAD and /etc/ld.so.preload: mapped before the executable's
        // dependencies, right after it in the search list; failures are ignored.
        let new_from = process.maps.len();
        let mut preloads = Vec::new();
        let mut ignored_preloads = HashSet::new();
        for (name, source) in self.env.preloads() {
            let mut n = node(name.clone(), None, None, None, Some(root_node));
            match self.map_object(
                &mut process,
                Request {
                    loader: Some(0),
                    name: &name,
                    callmap: false,
                    dlopen: false,
                    root: 0,
                },
                &mut n,
            ) {
                Ok(r) => {
                    n.path = Some(process.maps[r.index].l_name.clone());
                    n.rule = Some(if r.new { r.rule } else { Rule::AlreadyLoaded });
                    n.via = r.via;
                    let index = tree.push(n);
                    if r.new {
                        preloads.push((r.index, index));
                    }
                }
                Err(f) => {
                    problems.push(format!(
                        "ERROR: ld.so: object '{name}' from {source} cannot be preloaded ({}): ignored.",
                        f.message
                    ));
                    n.error = Some(f.error);
                    ignored_preloads.insert(tree.push(n));
                }
            }
        }
        let _ = self.map_deps(
            &mut process,
            &mut tree,
            DepsWalk {
                root: 0,
                root_node,
                dlopen: false,
                new_from,
                preloads: &preloads,
            },
        );
        let mut seen = HashSet::new();
        problems.extend(
            tree.nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| !ignored_preloads.contains(i))
                .filter_map(|(_, n)| n.error.clone())
                .filter(|e| seen.insert(e.clone())),
        );
        let searchlist = process.maps[0].searchlist.clone();
        process.global = searchlist;
        // Start-up objects: versions checked and relocated by rtld; their TLS blocks are
        // laid out in module-ID (= load) order.
        let mut blocks = Vec::new();
        for m in process.maps.iter_mut() {
            m.relocated = true;
            m.versions_done = true;
            if let Some(block) = m.file.tls_block() {
                blocks.push(block);
                m.static_tls = true;
            }
        }
        process.tls = StaticTls::startup_for(
            self.env.arch,
            &blocks,
            self.env.static_tls.surplus,
            self.env.static_tls.optional,
        );
        let setup = HostSetup {
            host: host.map(|h| h.path.to_string_lossy().into_owned()),
            tree,
            problems,
            tls_used: process.tls.used,
            tls_free: process.tls.free(),
        };
        (process, setup)
    }

    pub(super) fn new_map(
        &self,
        file: Rc<ObjFile<'a>>,
        l_name: String,
        name: &str,
        loader: Option<usize>,
        root: usize,
    ) -> Map<'a> {
        let origin = search::origin_of(&l_name, &self.env.cwd.to_string_lossy());
        Map {
            file,
            l_name,
            names: vec![name.to_string()],
            soname_added: false,
            loader,
            origin,
            is_main: false,
            relocated: false,
            versions_done: false,
            deps: Vec::new(),
            searchlist: Vec::new(),
            root,
            static_tls: false,
        }
    }
}
