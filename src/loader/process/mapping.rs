//! `_dl_map_object`: an already-loaded match, else the search, then the checks of
//! `_dl_map_object_from_fd` on a new file (and their in-memory twin for a parsed artifact
//! with no file behind it).

use std::rc::Rc;

use super::files::{ArtRef, ObjFile};
use super::{Candidate, DF_1_NOOPEN, DF_1_PIE, Failure, Loader, MapResult, Process, SearchState};
use crate::elf::{Artifact, Libc};
use crate::loader::errno;
use crate::loader::fs::{PF_X, Verified};
use crate::loader::search::{self, DepNode, Rule};
use crate::verdict::Outcome;

/// One `_dl_map_object` call: which name, asked for by whom, and how.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request<'n> {
    /// The requesting map (its paths are searched; it becomes the new map's `l_loader`).
    pub(super) loader: Option<usize>,
    pub(super) name: &'n str,
    /// The dlopen root: the search uses the caller's paths, the new map gets no `l_loader`.
    pub(super) callmap: bool,
    /// Asked for by dlopen rather than at start-up (`-z nodlopen` and the executable-stack
    /// refusal apply).
    pub(super) dlopen: bool,
    /// The root whose search list is a new object's local scope.
    pub(super) root: usize,
}

impl<'a> Loader<'a> {
    /// `_dl_map_object` for one [`Request`]; records the search in `node`.
    pub(super) fn map_object(
        &mut self,
        p: &mut Process<'a>,
        req: Request<'_>,
        node: &mut DepNode,
    ) -> Result<MapResult, Failure> {
        let Request {
            loader,
            name,
            callmap,
            dlopen,
            root,
        } = req;
        // Already loaded under this name (or, the first time, its soname)?
        for (i, m) in p.maps.iter_mut().enumerate() {
            if m.name_matches(name) {
                return Ok(MapResult {
                    index: i,
                    new: false,
                    rule: Rule::AlreadyLoaded,
                    via: None,
                });
            }
            if !m.soname_added && m.file.soname.as_deref() == Some(name) {
                m.names.push(name.to_string());
                m.soname_added = true;
                return Ok(MapResult {
                    index: i,
                    new: false,
                    rule: Rule::AlreadyLoaded,
                    via: None,
                });
            }
        }
        // errno as ld.so leaves it: 0 until an open() fails, so a search that tries
        // nothing (-z nodefaultlib, no paths) reports no strerror text.
        let mut state = SearchState::default();
        let searched = if name.contains('/') {
            let realname = match loader {
                Some(l) => search::expand(name, &self.dst(&p.maps[l])).unwrap_or_default(),
                None => name.to_string(),
            };
            self.try_candidate(&realname, &mut state, true)
                .map(|c| c.map(|c| (c, Rule::DirectPath, None)))
        } else {
            self.search(p, loader, name, &mut state)
        };
        let musl_requester = loader.is_some_and(|l| p.maps[l].file.libc == Libc::Musl);
        let found = match searched {
            Ok(found) => found,
            Err(mut f) if musl_requester && name.starts_with("libc.") => {
                f.outcome = Outcome::WrongLibc;
                f.cause = format!(
                    "musl-linked object: it needs musl's {name}; on this glibc system that name finds the C library's linker script or nothing ({})",
                    f.error
                );
                f.fix = "rebuild it against glibc (or run it in a musl environment)".into();
                return Err(f);
            }
            Err(f) => return Err(f),
        };
        node.skipped = state
            .skipped
            .iter()
            .map(|(path, why)| format!("{path}: {why}"))
            .collect();
        let Some((candidate, rule, via)) = found else {
            if self.env.assume_libraries && !callmap && !name.contains('/') {
                return Ok(self.assumed_library(p, name, loader, root));
            }
            return Err(self.not_found(p, loader, name, &state, callmap));
        };
        // The same file under another name?
        if let Some(id) = candidate.file.id
            && let Some(i) = p.maps.iter().position(|m| m.file.id == Some(id))
        {
            if !p.maps[i].name_matches(name) {
                p.maps[i].names.push(name.to_string());
            }
            return Ok(MapResult {
                index: i,
                new: false,
                rule: Rule::AlreadyLoaded,
                via: None,
            });
        }
        self.map_checks(p, &candidate, name, dlopen)?;
        let map_loader = if callmap { None } else { loader };
        let mut map = self.new_map(candidate.file, candidate.realname, name, map_loader, root);
        map.root = if callmap { p.maps.len() } else { root };
        p.maps.push(map);
        Ok(MapResult {
            index: p.maps.len() - 1,
            new: true,
            rule,
            via,
        })
    }

    /// A library of a foreign target without a sysroot: assumed present, with unknown
    /// symbols (undefined references to it are then not checked, and say so).
    pub(super) fn assumed_library(
        &mut self,
        p: &mut Process<'a>,
        name: &str,
        loader: Option<usize>,
        root: usize,
    ) -> MapResult {
        let file = Rc::new(ObjFile {
            parse_error: Some("assumed present on the target".into()),
            ..ObjFile::synthetic(&[], Some(name))
        });
        let mut map = self.new_map(file, name.to_string(), name, loader, root);
        map.origin = None;
        p.maps.push(map);
        MapResult {
            index: p.maps.len() - 1,
            new: true,
            rule: Rule::Default,
            via: Some("assumed: the target's libraries are not on this machine".into()),
        }
    }

    /// The checks of `_dl_map_object_from_fd` after the file is known to be new.
    pub(super) fn map_checks(
        &mut self,
        p: &mut Process<'a>,
        c: &Candidate<'a>,
        name: &str,
        dlopen: bool,
    ) -> Result<(), Failure> {
        let file = &c.file;
        let Some(header) = &file.header else {
            return Ok(());
        };
        if let Err(message) = header.map_check() {
            let (outcome, cause) = match message {
                "cannot dynamically load executable" => (
                    Outcome::NotAPlugin,
                    format!(
                        "{} is an executable (ET_EXEC), not a shared object",
                        c.realname
                    ),
                ),
                "object file has no dynamic section" => (
                    Outcome::NotAPlugin,
                    format!(
                        "{} has no dynamic section (a separate debug-info file or a static object)",
                        c.realname
                    ),
                ),
                _ => (Outcome::NotElf, format!("{}: {message}", c.realname)),
            };
            return Err(Failure::new(
                name,
                message,
                0,
                outcome,
                cause,
                String::new(),
            ));
        }
        if let Some(load) = header.truncated_load() {
            return Err(Failure {
                error: "Bus error".into(),
                message: "Bus error".into(),
                outcome: Outcome::Crash,
                cause: format!(
                    "{} is truncated ({} bytes) inside a loadable segment (file offset {:#x}..{:#x}): ld.so maps it and the process dies with SIGBUS when it touches the missing pages",
                    c.realname,
                    header.file_size,
                    load.offset,
                    load.offset.saturating_add(load.filesz)
                ),
                fix: "restore the complete file".into(),
            });
        }
        if let Some(problem) = &file.parse_error {
            return Err(Failure {
                error: "Segmentation fault".into(),
                message: "Segmentation fault".into(),
                outcome: Outcome::Crash,
                cause: format!(
                    "{} has a valid ELF header but an unreadable body ({problem}); ld.so is likely to crash on it",
                    c.realname
                ),
                fix: "restore the complete file".into(),
            });
        }
        if (file.flags_1 & DF_1_NOOPEN != 0 && dlopen) || file.flags_1 & DF_1_PIE != 0 {
            let (message, cause) = if file.flags_1 & DF_1_PIE != 0 {
                (
                    "cannot dynamically load position-independent executable",
                    format!(
                        "{} is a position-independent executable (DF_1_PIE), not a shared object",
                        c.realname
                    ),
                )
            } else {
                (
                    "shared object cannot be dlopen()ed",
                    format!("{} is marked DF_1_NOOPEN (-z nodlopen)", c.realname),
                )
            };
            return Err(Failure::new(
                name,
                message,
                0,
                Outcome::NotAPlugin,
                cause,
                "build it with -buildmode=plugin / -shared",
            ));
        }
        if file.stack_flags() & PF_X != 0 && !p.stack_exec {
            if dlopen && self.env.refuses_exec_stack() {
                return Err(Failure::new(
                    name,
                    "cannot enable executable stack as shared object requires",
                    errno::EINVAL,
                    Outcome::NotAPlugin,
                    format!(
                        "{} asks for an executable stack (PT_GNU_STACK with PF_X, or none); glibc 2.41+ refuses that in dlopen",
                        c.realname
                    ),
                    "link it with -z noexecstack",
                ));
            }
            p.stack_exec = true;
        }
        Ok(())
    }

    /// dlopen of an artifact that only exists in memory: header checks on its bytes.
    pub(super) fn map_in_memory(
        &mut self,
        p: &mut Process<'a>,
        art: &'a Artifact,
        name: &str,
    ) -> Result<MapResult, Failure> {
        let header = match crate::loader::fs::verify_for(art.bytes(), self.env.arch) {
            Verified::Ok(h) => *h,
            Verified::Fatal(f) => return Err(self.fatal(name, &f, true)),
            Verified::OtherClass(_) => return Err(self.wrong_class(name, None)),
            Verified::OtherMachine(m) => {
                let arch = self.env.arch;
                let cause = format!(
                    "{} object, host is {} (glibc reports a wrong-machine object as missing)",
                    crate::elf::names::machine(m),
                    arch.name
                );
                return Err(Failure::new(
                    name,
                    "cannot open shared object file",
                    errno::ENOENT,
                    Outcome::WrongMachine,
                    cause,
                    format!("rebuild it for {} (GOARCH={})", arch.name, arch.goarch),
                ));
            }
            Verified::NotOpened(e) => {
                return Err(Failure::new(
                    name,
                    "cannot open shared object file",
                    e,
                    Outcome::MissingLibrary,
                    "not readable",
                    "",
                ));
            }
            Verified::Special(_) => {
                return Err(Failure::new(
                    name,
                    "cannot open shared object file",
                    errno::ENOENT,
                    Outcome::MissingLibrary,
                    "not a file",
                    "",
                ));
            }
        };
        let file = Rc::new(ObjFile::from_artifact(
            ArtRef::Borrowed(art),
            Some(header),
            None,
        ));
        let candidate = Candidate {
            realname: name.to_string(),
            file,
        };
        self.map_checks(p, &candidate, name, true)?;
        let index = p.maps.len();
        let map = self.new_map(candidate.file, candidate.realname, name, None, index);
        p.maps.push(map);
        Ok(MapResult {
            index,
            new: true,
            rule: Rule::DirectPath,
            via: None,
        })
    }
}
