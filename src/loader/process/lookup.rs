//! The library search of `_dl_map_object` for a name without a slash (RPATH,
//! LD_LIBRARY_PATH, RUNPATH, ld.so.cache, system directories), `open_path`, `open_verify`
//! on each candidate, and the dlerror() text when nothing is found.

use std::collections::HashSet;

use super::{Candidate, DF_1_NODEFLIB, Failure, Loader, Map, Process, SearchState};
use crate::elf::Libc;
use crate::loader::errno;
use crate::loader::fs::{FileError, Listed, Verified};
use crate::loader::search::{self, Rule};
use crate::verdict::Outcome;

impl<'a> Loader<'a> {
    /// The search of `_dl_map_object` for a name without a slash.
    #[allow(clippy::type_complexity)]
    pub(super) fn search(
        &mut self,
        p: &Process<'a>,
        loader: Option<usize>,
        name: &str,
        state: &mut SearchState,
    ) -> Result<Option<(Candidate<'a>, Rule, Option<String>)>, Failure> {
        let main = 0usize;
        // DT_RPATH of the requester and up its loader chain, then of the executable,
        // unless the requester has DT_RUNPATH.
        if loader.is_none_or(|l| p.maps[l].file.runpath.is_none()) {
            let mut did_main = false;
            let mut chain = loader;
            let mut seen = HashSet::new();
            while let Some(l) = chain {
                if !seen.insert(l) {
                    break;
                }
                let map = &p.maps[l];
                if let Some(rpath) = &map.file.rpath {
                    let dirs = self.dirs_of(rpath, map);
                    let via = map.shown_name();
                    if !dirs.is_empty() {
                        if let Some(c) = self.open_path(name, &dirs, state)? {
                            return Ok(Some((c, Rule::Rpath, Some(via))));
                        }
                        did_main |= l == main;
                    }
                }
                chain = map.loader;
            }
            if !did_main && let Some(rpath) = &p.maps[main].file.rpath {
                let dirs = self.dirs_of(rpath, &p.maps[main]);
                if !dirs.is_empty()
                    && let Some(c) = self.open_path(name, &dirs, state)?
                {
                    return Ok(Some((c, Rule::Rpath, Some(p.maps[main].shown_name()))));
                }
            }
        }
        // LD_LIBRARY_PATH ($ORIGIN there is the executable's).
        let llp = self.env.ld_library_path_dirs();
        if !llp.is_empty() {
            let dirs = search::path_list(llp.iter().map(String::as_str), &self.dst(&p.maps[main]));
            if let Some(c) = self.open_path(name, &dirs, state)? {
                return Ok(Some((c, Rule::LdLibraryPath, None)));
            }
        }
        // DT_RUNPATH of the requester only.
        if let Some(l) = loader
            && let Some(runpath) = &p.maps[l].file.runpath
        {
            let dirs = self.dirs_of(runpath, &p.maps[l]);
            if !dirs.is_empty()
                && let Some(c) = self.open_path(name, &dirs, state)?
            {
                return Ok(Some((c, Rule::Runpath, Some(p.maps[l].shown_name()))));
            }
        }
        let nodeflib = p.maps[loader.unwrap_or(main)].file.flags_1 & DF_1_NODEFLIB != 0;
        // ld.so.cache.
        if let Some(cache) = self.env.cache.clone()
            && let Some(cached) = cache.lookup(name, &self.env.cache_abi)
        {
            let in_system_dir = self
                .env
                .system_dirs
                .iter()
                .any(|d| cached.starts_with(&format!("{d}/")));
            if !(nodeflib && in_system_dir)
                && let Some(c) = self.try_candidate(cached, state, false)?
            {
                return Ok(Some((c, Rule::Cache, None)));
            }
        }
        // The system directories.
        if !nodeflib {
            let dirs: Vec<String> = self
                .env
                .system_dirs
                .iter()
                .map(|d| format!("{}/", d.trim_end_matches('/')))
                .collect();
            if let Some(c) = self.open_path(name, &dirs, state)? {
                return Ok(Some((c, Rule::Default, None)));
            }
        }
        Ok(None)
    }

    pub(super) fn dirs_of(&self, elements: &[String], map: &Map<'_>) -> Vec<String> {
        if elements.iter().all(String::is_empty) && elements.len() <= 1 {
            return Vec::new(); // An empty DT_RPATH/DT_RUNPATH string is ignored.
        }
        search::path_list(elements.iter().map(String::as_str), &self.dst(map))
    }

    /// `open_path`: each directory, each hwcaps subdirectory, in order.
    pub(super) fn open_path(
        &mut self,
        name: &str,
        dirs: &[String],
        state: &mut SearchState,
    ) -> Result<Option<Candidate<'a>>, Failure> {
        for dir in dirs {
            let mut here_any = false;
            for ci in 0..self.capstrs.len() {
                let subdir = format!("{dir}{}", self.capstrs[ci]);
                let listing = match self
                    .fs
                    .locate(if subdir.is_empty() { "." } else { &subdir })
                {
                    Ok(host) => self.dirs.lookup(&host, name),
                    Err(e) => {
                        state.errno = e;
                        continue;
                    }
                };
                match listing {
                    Listed::NoDir => continue,
                    Listed::Absent => {
                        here_any = true;
                        state.errno = errno::ENOENT;
                    }
                    Listed::Maybe => {
                        here_any = true;
                        let path = format!("{subdir}{name}");
                        if let Some(c) = self.try_candidate(&path, state, false)? {
                            return Ok(Some(c));
                        }
                    }
                }
            }
            if here_any && state.errno != errno::ENOENT && state.errno != errno::EACCES {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// `open_verify` on one candidate path: `Ok(None)` when it is skipped or absent.
    pub(super) fn try_candidate(
        &mut self,
        path: &str,
        state: &mut SearchState,
        direct: bool,
    ) -> Result<Option<Candidate<'a>>, Failure> {
        let (verified, id) = self.verify_cached(path);
        match verified {
            Verified::Ok(header) => {
                let file = self.file_for(path, *header, id);
                Ok(Some(Candidate {
                    realname: path.to_string(),
                    file,
                }))
            }
            Verified::OtherClass(class) => {
                state.other_class = Some(class);
                state.errno = errno::ENOENT;
                let what = match class {
                    1 => "32-bit object".to_string(),
                    other => format!("invalid ELF class {other}"),
                };
                state.skipped.push((path.to_string(), what));
                Ok(None)
            }
            Verified::OtherMachine(machine) => {
                state.errno = errno::ENOENT;
                state.skipped.push((
                    path.to_string(),
                    format!("{} object", crate::elf::names::machine(machine)),
                ));
                Ok(None)
            }
            Verified::NotOpened(e) => {
                state.errno = e;
                Ok(None)
            }
            Verified::Fatal(f) => Err(self.fatal(path, &f, direct)),
            Verified::Special(what) => Err(Failure::new(
                "",
                &format!("{path} is {what}"),
                0,
                Outcome::Crash,
                format!("{path} is {what}: ld.so's open(2) blocks on it and dlopen never returns"),
                format!("remove {path}"),
            )),
        }
    }

    pub(super) fn fatal(&self, path: &str, f: &FileError, _direct: bool) -> Failure {
        let (outcome, cause, fix) = match f.message {
            "invalid ELF header" => (
                Outcome::NotElf,
                format!(
                    "{path} is not an ELF file (a linker script, text or data); ld.so stops the search there"
                ),
                String::new(),
            ),
            "file too short" => (
                Outcome::NotElf,
                format!("{path} is shorter than an ELF header"),
                String::new(),
            ),
            "cannot read file data" if f.errno == errno::EISDIR => (
                Outcome::NotElf,
                format!("{path} is a directory"),
                String::new(),
            ),
            "cannot read file data" => (
                Outcome::Truncated,
                format!("{path} is truncated: its program headers are missing"),
                String::new(),
            ),
            "ELF file data encoding not little-endian"
            | "ELF file data encoding not big-endian" => (
                Outcome::WrongMachine,
                format!(
                    "{path} has the other byte order; the host is {} ({}-endian)",
                    self.env.arch.name,
                    if self.env.arch.endianness == crate::elf::Endianness::Big {
                        "big"
                    } else {
                        "little"
                    }
                ),
                format!("rebuild it for {}", self.env.arch.name),
            ),
            "only ET_DYN and ET_EXEC can be loaded" => (
                Outcome::NotAPlugin,
                format!("{path} is not a shared object (a relocatable .o or core file)"),
                "link it with -shared".to_string(),
            ),
            other => (Outcome::NotElf, format!("{path}: {other}"), String::new()),
        };
        Failure::new(path, f.message, f.errno, outcome, cause, fix)
    }

    /// `wrong ELF class: ELFCLASS32` (or 64 on a 32-bit target) for `name`; `cause` for a
    /// dependency, `None` for the object asked for.
    pub(super) fn wrong_class(&self, name: &str, cause: Option<String>) -> Failure {
        let arch = self.env.arch;
        let other = arch.other_class();
        let cause = cause.unwrap_or_else(|| {
            format!(
                "{}-bit ({}) object, host is {}",
                other.pointer_size() * 8,
                other.glibc_name(),
                arch.describe()
            )
        });
        Failure::new(
            name,
            &format!("wrong ELF class: {}", other.glibc_name()),
            0,
            Outcome::WrongClass,
            cause,
            format!(
                "rebuild it as a {} object (GOARCH={})",
                arch.describe(),
                arch.goarch
            ),
        )
    }

    pub(super) fn not_found(
        &self,
        p: &Process<'a>,
        loader: Option<usize>,
        name: &str,
        state: &SearchState,
        root: bool,
    ) -> Failure {
        if state.other_class.is_some() {
            let skipped = state
                .skipped
                .iter()
                .map(|(p, why)| format!("{p} ({why})"))
                .collect::<Vec<_>>()
                .join(", ");
            let arch = self.env.arch;
            let cause = if root {
                None
            } else {
                Some(format!(
                    "{name}: only {}-bit candidates were found ({skipped}); the host is {}",
                    arch.other_class().pointer_size() * 8,
                    arch.describe()
                ))
            };
            return self.wrong_class(name, cause);
        }
        let requester = loader.map(|l| p.maps[l].shown_name()).unwrap_or_default();
        if let Some((path, why)) = state.skipped.first() {
            let cause = if root {
                format!(
                    "{why}, host is {} (glibc reports a wrong-machine object as missing)",
                    self.env.arch.name
                )
            } else {
                format!(
                    "{name}: the only candidate, {path}, is an {why}; the host is {} (glibc reports it as missing)",
                    self.env.arch.name
                )
            };
            return Failure::new(
                name,
                "cannot open shared object file",
                state.errno,
                Outcome::WrongMachine,
                cause,
                format!(
                    "rebuild it for {} (GOARCH={})",
                    self.env.arch.name, self.env.arch.goarch
                ),
            );
        }
        if name.contains('/') {
            let by = if requester.is_empty() {
                String::new()
            } else {
                format!(" (named in DT_NEEDED of {requester})")
            };
            return Failure::new(
                name,
                "cannot open shared object file",
                state.errno,
                Outcome::MissingLibrary,
                format!(
                    "{name}{by} cannot be opened: {}",
                    errno::strerror(state.errno)
                ),
                "check the path (a relative path is taken from the process's working directory)",
            );
        }
        let by = if root || requester.is_empty() {
            String::new()
        } else {
            format!(" (needed by {requester})")
        };
        let is_musl = loader.is_some_and(|l| p.maps[l].file.libc == Libc::Musl);
        if is_musl && name.starts_with("libc.") {
            return Failure::new(
                name,
                "cannot open shared object file",
                state.errno,
                Outcome::WrongLibc,
                format!(
                    "musl-linked object: it needs musl's {name}, which this glibc system does not have{by}"
                ),
                "rebuild it against glibc",
            );
        }
        let nodeflib = p.maps[loader.unwrap_or(0)].file.flags_1 & DF_1_NODEFLIB != 0;
        if nodeflib && state.errno == 0 {
            // Nothing was opened, so errno stayed 0 and glibc prints no strerror text.
            let who = p.maps[loader.unwrap_or(0)].shown_name();
            return Failure::new(
                name,
                "cannot open shared object file",
                0,
                Outcome::MissingLibrary,
                format!(
                    "{name}{by} was never looked for: {who} is linked with -z nodefaultlib (DF_1_NODEFLIB), which skips ld.so.cache entries in the system directories and the system directories themselves, and it has no RPATH/RUNPATH (nor LD_LIBRARY_PATH) that holds {name}"
                ),
                format!(
                    "give {who} a RUNPATH to {name}'s directory (-Wl,-rpath,DIR), set LD_LIBRARY_PATH, or link it without -z nodefaultlib"
                ),
            );
        }
        Failure::new(
            name,
            "cannot open shared object file",
            state.errno,
            Outcome::MissingLibrary,
            format!(
                "{name}{by} is not in any directory ld.so searches (RPATH, LD_LIBRARY_PATH, RUNPATH, ld.so.cache, system directories)"
            ),
            format!(
                "install {name}, or add its directory to LD_LIBRARY_PATH or to the requester's RUNPATH ($ORIGIN-relative)"
            ),
        )
    }
}
