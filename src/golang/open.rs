//! What the host's Go runtime does with a plugin at `plugin.Open`, simulated from the
//! facts of both binaries.
//!
//! The sequence, from `runtime/plugin.go` (`plugin_lastmoduleinit`), `plugin/plugin_dlopen.go`
//! and the linker (Go 1.21-1.27, identical in these steps):
//!
//! 1. A host built without cgo (or for a GOOS without plugin support) has the stub
//!    package: `plugin: not implemented`.
//! 2. `dlopen(realpath, RTLD_NOW|RTLD_GLOBAL)`: loader errors (not simulated here).
//! 3. The plugin's `.init_array` runs `go:link.addmoduledata`, which calls the plugin's own
//!    `runtime.addmoduledata` (the host does not export it): it stores the plugin's
//!    moduledata address at the *plugin's* offset of `next` in `*runtime.lastmoduledatap`,
//!    a variable that binds to the host's. If the host's `next` is elsewhere, the host
//!    never sees the plugin: `fatal error: runtime: no plugin module data` (and a word of
//!    the host's moduledata, or memory after it, is overwritten).
//! 4. The host walks its module list with *its* layout, reading the plugin's `bad` and
//!    `next`; then `pluginpath` (empty: `fatal error: runtime: plugin has empty
//!    pluginpath`), `typemap` (non-nil: `plugin already loaded`), the `pluginpath` of every
//!    active module (equal: `plugin already loaded`), the text/data/bss/types ranges
//!    (overlap: fatal, not simulated), then `pkghashes`: for each entry in the plugin's
//!    table order, `linktimehash != *runtimehash` stops with `plugin was built with a
//!    different version of package <modulename>`. `runtimehash` points at
//!    `go:link.pkghash.<pkg>`, bound by the dynamic loader to the first definition in
//!    global scope: the host's, else an earlier `RTLD_GLOBAL` plugin's, else the plugin's
//!    own (which always matches).
//! 5. When every check passes, `modulesinit`, `typelinksinit`, `pluginftabverify`,
//!    `moduledataverify1` and the itab and ptab walks read the rest of the moduledata.

use serde::Serialize;

use super::{GoFacts, GoRole, ModuleDataLayout};

/// The predicted result of `plugin.Open` in the runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OpenOutcome {
    /// Every runtime check passes (loader and init failures are not covered here).
    Passes,
    /// `plugin: not implemented` (host without cgo).
    NotImplemented,
    /// `fatal error: runtime: no plugin module data`.
    NotRegistered,
    /// `fatal error: runtime: plugin has empty pluginpath`.
    EmptyPluginPath,
    /// `plugin already loaded` (an error, not a crash).
    AlreadyLoaded,
    /// `plugin was built with a different version of package <package>`. `bound_by` says
    /// whose copy of the package the check compared with: `None` for the host's, else the
    /// index in `earlier` of the plugin that bound it first.
    PackageMismatch {
        package: String,
        bound_by: Option<usize>,
    },
    /// A nil or small-integer pointer dereference in `plugin.lastmoduleinit`: SIGSEGV,
    /// `panic: runtime error: invalid memory address or nil pointer dereference`.
    Crash,
    /// The host would read garbage it cannot be told statically what it does with
    /// (most likely a crash).
    Unpredictable,
}

/// A prediction and how it was made.
#[derive(Debug, Clone, Serialize)]
pub struct OpenPrediction {
    pub outcome: OpenOutcome,
    /// The error text Go returns or prints, without the `plugin.Open("...")` prefix.
    pub message: Option<String>,
    /// The steps of the simulation, in order, for the output.
    pub steps: Vec<String>,
}

/// An earlier plugin in the same host process, in load order.
pub struct Earlier<'a> {
    pub facts: &'a GoFacts,
    /// It passed the runtime checks (an active module); a failed one is still
    /// `dlopen`ed (its symbols interpose) but is skipped as `bad`.
    pub active: bool,
}

/// How Go prefixes the errors of `plugin.Open(name)` after `dlopen` succeeded: the name as
/// given, without a trailing `.so` (`plugin/plugin_dlopen.go`; `dlopen` errors keep it).
pub fn open_error(name: &str, errstr: &str) -> String {
    let shown = if name.len() > 3 && name.ends_with(".so") {
        &name[..name.len() - 3]
    } else {
        name
    };
    format!("plugin.Open(\"{shown}\"): {errstr}")
}

/// Simulates the host runtime's checks on `plugin`, after `earlier` plugins.
pub fn predict_open(host: &GoFacts, plugin: &GoFacts, earlier: &[Earlier]) -> OpenPrediction {
    predict(host, Some(plugin), earlier)
}

/// The same for a file that `dlopen` loads but that registers no Go module (a C shared
/// object): `fatal error: runtime: no plugin module data`, or `plugin already loaded`
/// after an earlier plugin loaded.
pub fn predict_open_non_go(host: &GoFacts, earlier: &[Earlier]) -> OpenPrediction {
    predict(host, None, earlier)
}

fn predict(host: &GoFacts, plugin: Option<&GoFacts>, earlier: &[Earlier]) -> OpenPrediction {
    let mut steps = Vec::new();
    let done = |outcome: OpenOutcome, message: Option<String>, steps: Vec<String>| OpenPrediction {
        outcome,
        message,
        steps,
    };
    if host.cgo_enabled() == Some(false) {
        steps.push("host built with CGO_ENABLED=0: package plugin is the stub".into());
        return done(
            OpenOutcome::NotImplemented,
            Some("plugin: not implemented".into()),
            steps,
        );
    }
    if let Some(goos) = host.setting("GOOS")
        && !matches!(goos, "linux" | "freebsd" | "darwin")
    {
        steps.push(format!("host GOOS={goos} has no plugin support"));
        return done(
            OpenOutcome::NotImplemented,
            Some("plugin: not implemented".into()),
            steps,
        );
    }
    // Without a new module, lastmoduleinit takes the last module that is not `bad`: an
    // earlier plugin that loaded (already initialised: its typemap is set), or none.
    let not_registered = |mut steps: Vec<String>| {
        if let Some(e) = earlier.iter().rev().find(|e| e.active) {
            steps.push(format!(
                "the last registered module is the earlier plugin {}, already initialised (typemap set)",
                e.facts.plugin_path.as_deref().unwrap_or("?")
            ));
            done(
                OpenOutcome::AlreadyLoaded,
                Some("plugin already loaded".into()),
                steps,
            )
        } else {
            done(
                OpenOutcome::NotRegistered,
                Some("fatal error: runtime: no plugin module data".into()),
                steps,
            )
        }
    };
    let Some(plugin) = plugin.filter(|p| p.role == GoRole::Plugin) else {
        steps.push("the file is not a Go plugin: it registers no Go module".into());
        return not_registered(steps);
    };
    let (Some(h), Some(p)) = (
        host.moduledata_layout.as_ref(),
        plugin.moduledata_layout.as_ref(),
    ) else {
        steps.push("the moduledata layout of the host or the plugin is unknown".into());
        return done(OpenOutcome::Unpredictable, None, steps);
    };
    let (Some(h_next), Some(p_next)) = (h.offset_of("next"), p.offset_of("next")) else {
        steps.push("moduledata has no `next` field".into());
        return done(OpenOutcome::Unpredictable, None, steps);
    };
    if h_next != p_next {
        steps.push(format!(
            "the plugin's runtime.addmoduledata links its module at byte {p_next} of the host's last moduledata, the host's `next` is at byte {h_next}: the host never sees the plugin's module"
        ));
        return not_registered(steps);
    }
    steps.push(format!(
        "module registered: `next` at byte {h_next} in both runtimes"
    ));
    let same_layout = same_fields(h, p);
    if same_layout {
        steps.push("host and plugin runtimes have the same moduledata layout".into());
        return check_hashes(host, plugin, earlier, steps, true);
    }
    steps.push(format!(
        "moduledata layouts differ (host {} bytes, plugin {} bytes): the host reads the plugin's moduledata with its own field offsets",
        h.size, p.size
    ));
    let Some(md) = plugin.module_data.as_ref() else {
        steps.push("the plugin's moduledata was not found: its words cannot be read".into());
        return done(OpenOutcome::Unpredictable, None, steps);
    };
    let view = View {
        words: &md.words,
        relocated: &md.relocated,
        plugin: p,
    };
    // The module list walk: bad, then next.
    if let Some(off) = h.offset_of("bad") {
        match view.byte(off) {
            Some(0) => {}
            Some(_) => {
                steps.push(format!(
                    "host reads `bad` at byte {off}: {}, non-zero: the module is skipped",
                    view.describe(off)
                ));
                return not_registered(steps);
            }
            None => return unpredictable(steps, "bad", off),
        }
    }
    match view.word(h_next) {
        Some(Word::Zero) => {}
        Some(Word::Small(_)) => {
            steps.push(format!(
                "host reads `next` at byte {h_next}: {}: walking the list dereferences it",
                view.describe(h_next)
            ));
            return crash(steps);
        }
        _ => return unpredictable(steps, "next", h_next),
    }
    // pluginpath: only its length matters here (compared with "" and other modules).
    let Some(pp) = h.offset_of("pluginpath") else {
        return unpredictable(steps, "pluginpath", 0);
    };
    match view.word(pp + h.pointer_size) {
        Some(Word::Zero) => {
            steps.push(format!("host reads `pluginpath` at byte {pp}: length 0"));
            return done(
                OpenOutcome::EmptyPluginPath,
                Some("fatal error: runtime: plugin has empty pluginpath".into()),
                steps,
            );
        }
        Some(w) => steps.push(format!(
            "host reads `pluginpath` at byte {pp}: {} string ({})",
            if pp == p.offset_of("pluginpath").unwrap_or(u64::MAX) {
                "the real"
            } else {
                "a garbage"
            },
            match w {
                Word::Small(n) => format!("length {n}"),
                _ => "length is an address".into(),
            }
        )),
        None => return unpredictable(steps, "pluginpath", pp),
    }
    if let Some(tm) = h.offset_of("typemap") {
        match view.word(tm) {
            Some(Word::Zero) => {}
            Some(_) => {
                steps.push(format!(
                    "host reads `typemap` at byte {tm}: {}, non-nil",
                    view.describe(tm)
                ));
                return done(
                    OpenOutcome::AlreadyLoaded,
                    Some("plugin already loaded".into()),
                    steps,
                );
            }
            None => return unpredictable(steps, "typemap", tm),
        }
    }
    let Some(ph) = h.offset_of("pkghashes") else {
        return unpredictable(steps, "pkghashes", 0);
    };
    if Some(ph) == p.offset_of("pkghashes") {
        steps.push(format!(
            "`pkghashes` is at byte {ph} in both runtimes: the real table is checked"
        ));
        return check_hashes(host, plugin, earlier, steps, false);
    }
    let ptr = view.word(ph);
    let len = view.word(ph + h.pointer_size);
    steps.push(format!(
        "host reads `pkghashes` at byte {ph} (the plugin's is at byte {}): pointer = {}, length = {}",
        p.offset_of("pkghashes").map_or("?".into(), |o| o.to_string()),
        view.describe(ph),
        view.describe(ph + h.pointer_size)
    ));
    match (ptr, len) {
        (_, Some(Word::Zero)) => {
            steps.push(
                "an empty table: the check passes and the host goes on reading a foreign layout"
                    .into(),
            );
            done(OpenOutcome::Unpredictable, None, steps)
        }
        (Some(Word::Zero | Word::Small(_)), Some(_)) => {
            steps.push("the first entry is read through a nil or small-integer pointer".into());
            crash(steps)
        }
        _ => unpredictable(steps, "pkghashes", ph),
    }
}

fn crash(mut steps: Vec<String>) -> OpenPrediction {
    steps.push("SIGSEGV in plugin.lastmoduleinit".into());
    OpenPrediction {
        outcome: OpenOutcome::Crash,
        message: Some(
            "panic: runtime error: invalid memory address or nil pointer dereference".into(),
        ),
        steps,
    }
}

fn unpredictable(mut steps: Vec<String>, field: &str, off: u64) -> OpenPrediction {
    steps.push(format!(
        "host reads `{field}` at byte {off} of the plugin's moduledata as a pointer into the plugin: what follows cannot be told statically"
    ));
    OpenPrediction {
        outcome: OpenOutcome::Unpredictable,
        message: None,
        steps,
    }
}

/// The package-hash check, then "passes".
fn check_hashes(
    host: &GoFacts,
    plugin: &GoFacts,
    earlier: &[Earlier],
    mut steps: Vec<String>,
    same_layout: bool,
) -> OpenPrediction {
    // pluginpath against the active modules.
    if let Some(pp) = plugin.plugin_path.as_deref() {
        if same_layout
            && let Some(e) = earlier
                .iter()
                .find(|e| e.active && e.facts.plugin_path.as_deref() == Some(pp))
        {
            steps.push(format!(
                "an earlier plugin ({}) has the same pluginpath {pp:?}",
                e.facts.main_path.as_deref().unwrap_or("?")
            ));
            return OpenPrediction {
                outcome: OpenOutcome::AlreadyLoaded,
                message: Some("plugin already loaded".into()),
                steps,
            };
        }
        if pp.is_empty() {
            return OpenPrediction {
                outcome: OpenOutcome::EmptyPluginPath,
                message: Some("fatal error: runtime: plugin has empty pluginpath".into()),
                steps,
            };
        }
    }
    steps.push(format!(
        "{} package hashes checked in the plugin's order ({:?})",
        plugin.package_hashes.len(),
        plugin.hash_order
    ));
    let lookup = |path: &str| -> Option<(&[u8; 8], Option<usize>, String)> {
        if let Some(h) = host.package_hash(path) {
            return Some((&h.hash, None, "the host".into()));
        }
        earlier.iter().enumerate().find_map(|(index, e)| {
            e.facts.package_hash(path).map(|h| {
                (
                    &h.hash,
                    Some(index),
                    format!(
                        "earlier plugin {}",
                        e.facts.plugin_path.as_deref().unwrap_or("?")
                    ),
                )
            })
        })
    };
    for ph in &plugin.package_hashes {
        let Some((bound, bound_by, whose)) = lookup(&ph.path) else {
            continue; // binds to the plugin's own copy
        };
        if *bound != ph.hash {
            steps.push(format!(
                "first mismatch: {} is {} in the plugin, {} in {whose}",
                ph.path,
                ph.hex(),
                bound.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ));
            return OpenPrediction {
                outcome: OpenOutcome::PackageMismatch {
                    package: ph.path.clone(),
                    bound_by,
                },
                message: Some(format!(
                    "plugin was built with a different version of package {}",
                    ph.path
                )),
                steps,
            };
        }
    }
    if !same_layout {
        steps.push("every hash matches but the layouts differ: module initialisation reads a foreign layout".into());
        return OpenPrediction {
            outcome: OpenOutcome::Unpredictable,
            message: None,
            steps,
        };
    }
    steps.push("every shared package hash matches".into());
    OpenPrediction {
        outcome: OpenOutcome::Passes,
        message: None,
        steps,
    }
}

fn same_fields(a: &ModuleDataLayout, b: &ModuleDataLayout) -> bool {
    a.size == b.size
        && a.fields.len() == b.fields.len()
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|(x, y)| x.name == y.name && x.offset == y.offset)
}

/// A word of the plugin's moduledata as the host would see it at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Zero,
    /// A plain value (not relocated), small enough to be an invalid address.
    Small(u64),
    /// An address inside the plugin (relocated), or a large plain value.
    Address,
}

struct View<'a> {
    words: &'a [u64],
    relocated: &'a [bool],
    plugin: &'a ModuleDataLayout,
}

impl View<'_> {
    fn word(&self, off: u64) -> Option<Word> {
        let ps = self.plugin.pointer_size;
        if !off.is_multiple_of(ps) {
            return None;
        }
        let i = usize::try_from(off / ps).ok()?;
        let v = *self.words.get(i)?;
        Some(if self.relocated.get(i).copied().unwrap_or(false) {
            Word::Address
        } else if v == 0 {
            Word::Zero
        } else if v < 0x10000 {
            Word::Small(v)
        } else {
            Word::Address
        })
    }

    fn byte(&self, off: u64) -> Option<u8> {
        let ps = self.plugin.pointer_size;
        let i = usize::try_from(off / ps).ok()?;
        if self.relocated.get(i).copied().unwrap_or(false) {
            return None; // a byte of an address: cannot be told
        }
        let v = *self.words.get(i)?;
        Some((v >> (8 * (off % ps))) as u8)
    }

    /// "word 55 of the plugin (its `pluginpath` length, 19)".
    fn describe(&self, off: u64) -> String {
        let field = self
            .plugin
            .field_at(off)
            .map(|f| {
                if f.offset == off {
                    format!("its `{}`", f.name)
                } else {
                    format!("inside its `{}` (+{})", f.name, off - f.offset)
                }
            })
            .unwrap_or_else(|| {
                if off >= self.plugin.size {
                    "past its end".into()
                } else {
                    "padding".into()
                }
            });
        let value = match self.word(off) {
            Some(Word::Zero) => "0".to_string(),
            Some(Word::Small(v)) => v.to_string(),
            Some(Word::Address) => "an address".into(),
            None => "?".into(),
        };
        format!("{value} ({field})")
    }
}
