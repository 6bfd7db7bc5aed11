//! The files of a run: each read once, with what the loader needs from it.

use std::cell::OnceCell;
use std::rc::Rc;

use super::Loader;
use crate::elf::{Artifact, Libc};
use crate::loader::errno;
use crate::loader::fs::{FileId, Header, Verified};
use crate::loader::symbols::{Ref, SymIndex};
use crate::loader::tls::Block;

pub(super) enum ArtRef<'a> {
    Borrowed(&'a Artifact),
    Owned(Box<Artifact>),
}

impl ArtRef<'_> {
    pub(super) fn get(&self) -> &Artifact {
        match self {
            ArtRef::Borrowed(a) => a,
            ArtRef::Owned(a) => a,
        }
    }
}

/// One file, read once per run, with what the loader needs from it.
pub(super) struct ObjFile<'a> {
    pub(super) art: Option<ArtRef<'a>>,
    pub(super) header: Option<Header>,
    pub(super) id: Option<FileId>,
    pub(super) needed: Vec<String>,
    pub(super) soname: Option<String>,
    /// `DT_RPATH`, only when there is no `DT_RUNPATH` (ld.so ignores it then).
    pub(super) rpath: Option<Vec<String>>,
    pub(super) runpath: Option<Vec<String>>,
    pub(super) flags_1: u64,
    pub(super) bind_now: bool,
    pub(super) libc: Libc,
    pub(super) parse_error: Option<String>,
    pub(super) syms: OnceCell<SymIndex>,
}

impl<'a> ObjFile<'a> {
    pub(super) fn from_artifact(
        art: ArtRef<'a>,
        header: Option<Header>,
        id: Option<FileId>,
    ) -> ObjFile<'a> {
        let a = art.get();
        let d = &a.dynamic;
        let runpath = (!d.runpath.is_empty()).then(|| d.runpath.clone());
        let rpath = (runpath.is_none() && !d.rpath.is_empty()).then(|| d.rpath.clone());
        ObjFile {
            needed: d.needed.clone(),
            soname: d.soname.clone(),
            rpath,
            runpath,
            flags_1: d.flags_1,
            bind_now: d.bind_now,
            libc: a.identity.libc,
            header,
            id,
            art: Some(art),
            parse_error: None,
            syms: OnceCell::new(),
        }
    }

    pub(super) fn synthetic(needed: &[&str], soname: Option<&str>) -> ObjFile<'a> {
        ObjFile {
            art: None,
            header: None,
            id: None,
            needed: needed.iter().map(|s| s.to_string()).collect(),
            soname: soname.map(str::to_string),
            rpath: None,
            runpath: None,
            flags_1: 0,
            bind_now: false,
            libc: Libc::Glibc,
            parse_error: None,
            syms: OnceCell::new(),
        }
    }

    pub(super) fn artifact(&self) -> Option<&Artifact> {
        self.art.as_ref().map(ArtRef::get)
    }

    pub(super) fn syms(&self) -> &SymIndex {
        self.syms.get_or_init(|| match self.artifact() {
            Some(a) => SymIndex::build(a),
            None => SymIndex::empty(self.parse_error.is_none()),
        })
    }

    /// Whether this object defines a symbol that satisfies `wanted`.
    pub(super) fn provides(&self, wanted: Ref<'_>) -> bool {
        self.artifact()
            .is_some_and(|a| self.syms().provides(a, wanted))
    }

    pub(super) fn tls_block(&self) -> Option<Block> {
        let tls = self.header.as_ref()?.tls()?;
        Some(Block::new(tls.memsz, tls.align, tls.vaddr))
    }

    pub(super) fn stack_flags(&self) -> u32 {
        self.header.as_ref().map_or(6, Header::stack_flags)
    }
}

impl<'a> Loader<'a> {
    pub(super) fn verify_cached(&mut self, path: &str) -> (Verified, Option<FileId>) {
        if let Some(hit) = self.verified.get(path) {
            return hit.clone();
        }
        let (verified, id, _) = self.fs.verify_path(path);
        self.verified
            .insert(path.to_string(), (verified.clone(), id));
        (verified, id)
    }

    /// The parsed file behind a verified candidate (parsed once per file).
    pub(super) fn file_for(
        &mut self,
        path: &str,
        header: Header,
        id: Option<FileId>,
    ) -> Rc<ObjFile<'a>> {
        if let Some(id) = id
            && let Some(file) = self.files.get(&id)
        {
            return file.clone();
        }
        let file = if let Some(art) = id.and_then(|id| self.provided.get(&id).copied()) {
            ObjFile::from_artifact(ArtRef::Borrowed(art), Some(header), id)
        } else {
            match self
                .fs
                .locate(path)
                .map_err(errno::strerror)
                .and_then(|p| Artifact::read(&p).map_err(|e| e.to_string()))
            {
                Ok(art) => ObjFile::from_artifact(ArtRef::Owned(Box::new(art)), Some(header), id),
                Err(e) => ObjFile {
                    header: Some(header),
                    id,
                    parse_error: Some(e),
                    ..ObjFile::synthetic(&[], None)
                },
            }
        };
        let file = Rc::new(file);
        if let Some(id) = id {
            self.files.insert(id, file.clone());
        }
        file
    }

    /// A file opened directly (the interpreter), if it verifies.
    pub(super) fn candidate_file(&mut self, path: &str) -> Option<Rc<ObjFile<'a>>> {
        match self.verify_cached(path) {
            (Verified::Ok(h), id) => Some(self.file_for(path, *h, id)),
            _ => None,
        }
    }
}
