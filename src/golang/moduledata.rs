//! The runtime's `moduledata` of a Go binary: its layout, and in a plugin the module's own
//! instance with `pluginpath`, the `pkghashes` table the runtime checks at `plugin.Open`,
//! and the `ptab` of exported symbols.
//!
//! The layout is read from the binary itself: every Go binary carries the type descriptor
//! `type:runtime.moduledata` (`type.runtime.moduledata` before Go 1.20), an
//! `abi.StructType` whose field list gives each field's name and byte offset. A table of
//! layouts read from the runtime source is the fallback.
//!
//! The linker (`cmd/link/internal/ld/symtab.go`) emits a plugin's `pkghashes` as an array
//! of `modulehash{modulename string; linktimehash string; runtimehash *string}` (5 words
//! per entry) in `ctxt.Library` order, with `runtimehash` the address of
//! `go:link.pkghash.<pkg>`. That address is a dynamic relocation against the exported
//! symbol (so that the host's copy interposes), which lets the table be found and ordered
//! without the moduledata and without `.symtab`.

use std::collections::HashMap;

use serde::Serialize;

use super::image::{Image, uvarint};
use super::{GoVersion, HashOrder, PackageHash};

/// Struct kind in `abi.Type.Kind_` (low 5 bits).
const KIND_STRUCT: u8 = 25;
const KIND_FUNC: u8 = 19;
const KIND_MASK: u8 = 0x1f;
/// No real moduledata has more fields; bounds a hostile field count.
const MAX_FIELDS: u64 = 256;
/// No real moduledata is this large (about 600 bytes); bounds every field offset, so
/// that offset arithmetic on a hostile layout cannot overflow.
const MAX_STRUCT_SIZE: u64 = 1 << 16;
/// No real program links this many packages; bounds a hostile table length.
const MAX_PACKAGES: u64 = 100_000;
const MAX_NAME: u64 = 4096;
/// How much of each writable segment is scanned for the pkghashes slice header (real
/// data segments are a few MiB); a hostile 4 GiB segment must not be paged in.
const MAX_SCAN: u64 = 64 << 20;

/// One field of `runtime.moduledata`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ModuleDataField {
    pub name: String,
    /// Byte offset.
    pub offset: u64,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

/// The layout of `runtime.moduledata` in one binary's runtime.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ModuleDataLayout {
    /// Size of the struct in bytes.
    pub size: u64,
    /// Pointer size the offsets are for.
    pub pointer_size: u64,
    /// `type_descriptor` (read from `type:runtime.moduledata` in this binary) or
    /// `version_table` (plugctl's table from the runtime source, by Go version).
    pub source: String,
    /// Every field, in declaration order. Not serialized (see `key_words`).
    #[serde(skip)]
    pub fields: Vec<ModuleDataField>,
    /// Offsets of the fields that the plugin loader reads, for the output.
    pub key_fields: Vec<KeyField>,
}

/// Where one field the plugin loader reads sits.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyField {
    pub name: String,
    /// Byte offset.
    pub offset: u64,
    /// Word (pointer-size) index: `offset / pointer_size`.
    pub word: u64,
}

/// The fields `plugin_lastmoduleinit` and `addmoduledata` touch, reported as word offsets.
pub const KEY_FIELDS: &[&str] = &[
    "text",
    "etext",
    "data",
    "edata",
    "bss",
    "ebss",
    "types",
    "etypes",
    "ftab",
    "typelinks",
    "itablinks",
    "ptab",
    "pluginpath",
    "pkghashes",
    "inittasks",
    "modulename",
    "modulehashes",
    "hasmain",
    "bad",
    "typemap",
    "next",
];

impl ModuleDataLayout {
    pub fn offset_of(&self, name: &str) -> Option<u64> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.offset)
    }

    /// The field covering byte `offset`, if any (a field of size 0 covers nothing).
    pub fn field_at(&self, offset: u64) -> Option<&ModuleDataField> {
        self.fields.iter().find(|f| {
            let size = f.size.unwrap_or(0);
            size > 0 && offset >= f.offset && offset - f.offset < size
        })
    }

    fn with_key_fields(mut self) -> Self {
        self.key_fields = KEY_FIELDS
            .iter()
            .filter_map(|k| {
                let offset = self.offset_of(k)?;
                Some(KeyField {
                    name: k.to_string(),
                    offset,
                    word: offset / self.pointer_size,
                })
            })
            .collect();
        self
    }
}

/// Reads the layout from the binary's own type descriptor.
pub(crate) fn layout_from_type(image: &Image) -> Result<ModuleDataLayout, String> {
    let p = image.ptr;
    let names = ["type:runtime.moduledata", "type.runtime.moduledata"];
    let addr = image
        .art
        .symbols
        .iter()
        .find(|s| s.defined && names.contains(&s.name.as_str()))
        .map(|s| s.value)
        .or_else(|| {
            image
                .symtab_lookup(&names)
                .into_iter()
                .flatten()
                .next()
                .map(|v| v.0)
        })
        .ok_or("no type:runtime.moduledata symbol")?;
    let size = image
        .word(addr)
        .ok_or("moduledata type descriptor unreadable")?;
    // abi.Type: Size_, PtrBytes uintptr; Hash uint32; TFlag, Align_, FieldAlign_, Kind_ uint8.
    if size == 0 || size > MAX_STRUCT_SIZE {
        return Err(format!("type:runtime.moduledata has size {size}"));
    }
    // Every address below is read from the file: checked arithmetic throughout.
    let kind = addr
        .checked_add(2 * p + 7)
        .and_then(|a| image.bytes(a, 1))
        .ok_or("moduledata type descriptor unreadable")?[0];
    if kind & KIND_MASK != KIND_STRUCT {
        return Err(format!(
            "type:runtime.moduledata has kind {kind}, not struct"
        ));
    }
    // abi.Type is 4 words + 16 bytes; then StructType.PkgPath (1 word), Fields (slice).
    let (fields_ptr, n, _) = addr
        .checked_add(5 * p + 16)
        .and_then(|a| image.go_slice(a))
        .ok_or("moduledata field list unreadable")?;
    if n == 0 || n > MAX_FIELDS {
        return Err(format!("moduledata type has {n} fields"));
    }
    let mut fields = Vec::with_capacity(n as usize);
    for i in 0..n {
        let word = |k: u64| {
            fields_ptr
                .checked_add((3 * i + k) * p)
                .and_then(|a| image.word(a))
                .ok_or("moduledata field unreadable")
        };
        let (name_ptr, typ, offset) = (word(0)?, word(1)?, word(2)?);
        let name = read_abi_name(image, name_ptr).ok_or("moduledata field name unreadable")?;
        if offset > size {
            return Err(format!(
                "moduledata field {name} at {offset} is past the struct size {size}"
            ));
        }
        fields.push(ModuleDataField {
            name,
            offset,
            size: image.word(typ),
        });
    }
    Ok(ModuleDataLayout {
        size,
        pointer_size: p,
        source: "type_descriptor".into(),
        fields,
        key_fields: Vec::new(),
    }
    .with_key_fields())
}

/// Decodes an `abi.Name`: a flags byte, a varint length, the bytes (Go 1.17+).
pub(crate) fn read_abi_name(image: &Image, addr: u64) -> Option<String> {
    let head = image.bytes_upto(addr, 11)?;
    let (len, n) = uvarint(head.get(1..)?)?;
    if len > MAX_NAME {
        return None;
    }
    let bytes = image.bytes(addr.checked_add(1 + n as u64)?, len)?;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// Layouts read from the runtime source (`runtime/symtab.go`), for 64-bit targets, as
/// (field, word offset) of the fields plugctl uses, and the struct size in words.
/// Go 1.21.13 and 1.22.10 were read and checked against the binaries' type descriptors;
/// 1.20 and 1.23-1.25 are assumed equal to them (same struct in the source, not measured).
fn version_table(v: &GoVersion) -> Option<(u64, &'static [(&'static str, u64)])> {
    if v.major != 1 {
        return None;
    }
    const GO120: &[(&str, u64)] = &[
        ("text", 22),
        ("etext", 23),
        ("data", 26),
        ("edata", 27),
        ("bss", 28),
        ("ebss", 29),
        ("types", 37),
        ("etypes", 38),
        ("ftab", 16),
        ("typelinks", 44),
        ("itablinks", 47),
        ("ptab", 50),
        ("pluginpath", 53),
        ("pkghashes", 55),
        ("inittasks", 58),
        ("modulename", 61),
        ("modulehashes", 63),
        ("hasmain", 66),
        ("typemap", 71),
        ("bad", 72),
        ("next", 73),
    ];
    const GO126: &[(&str, u64)] = &[
        ("text", 22),
        ("etext", 23),
        ("data", 26),
        ("edata", 27),
        ("bss", 28),
        ("ebss", 29),
        ("types", 37),
        ("etypes", 38),
        ("ftab", 16),
        ("typelinks", 45),
        ("itablinks", 48),
        ("ptab", 51),
        ("pluginpath", 54),
        ("pkghashes", 56),
        ("inittasks", 59),
        ("modulename", 62),
        ("modulehashes", 64),
        ("hasmain", 67),
        ("typemap", 72),
        ("next", 73),
    ];
    const GO127: &[(&str, u64)] = &[
        ("text", 22),
        ("etext", 23),
        ("data", 26),
        ("edata", 27),
        ("bss", 28),
        ("ebss", 29),
        ("types", 37),
        ("etypes", 39),
        ("ftab", 16),
        ("ptab", 48),
        ("pluginpath", 51),
        ("pkghashes", 53),
        ("inittasks", 56),
        ("modulename", 59),
        ("modulehashes", 61),
        ("hasmain", 64),
        ("typemap", 69),
        ("next", 70),
    ];
    match v.minor {
        20..=25 => Some((74, GO120)),
        26 => Some((74, GO126)),
        27 => Some((71, GO127)),
        _ => None,
    }
}

pub(crate) fn layout_from_version(v: &GoVersion, pointer_size: u64) -> Option<ModuleDataLayout> {
    if pointer_size != 8 {
        return None;
    }
    let (words, table) = version_table(v)?;
    let mut fields: Vec<ModuleDataField> = table
        .iter()
        .map(|(name, w)| ModuleDataField {
            name: name.to_string(),
            offset: w * 8,
            size: None,
        })
        .collect();
    if v.minor >= 26 {
        // hasmain uint8 and bad bool share a word from 1.26 on.
        let hasmain = table.iter().find(|f| f.0 == "hasmain").map(|f| f.1)?;
        fields.push(ModuleDataField {
            name: "bad".into(),
            offset: hasmain * 8 + 1,
            size: Some(1),
        });
    }
    fields.sort_by_key(|f| f.offset);
    Some(
        ModuleDataLayout {
            size: words * 8,
            pointer_size: 8,
            source: "version_table".into(),
            fields,
            key_fields: Vec::new(),
        }
        .with_key_fields(),
    )
}

/// A plugin module's own moduledata, as found in the file.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleData {
    /// Virtual address of the struct (load base 0).
    pub address: u64,
    /// How it was found: `go.module_section` (Go 1.26+ puts it in its own section) or
    /// `pkghashes_slice_scan` (the slice header pointing at the table found through the
    /// relocations, in writable data; the struct is the local `local.pluginmoduledata`,
    /// absent from `.symtab`).
    pub located_by: String,
    /// The struct's words as the loader leaves them (load base 0), and what follows it,
    /// up to [`MODULE_DATA_WORDS`] words, for simulating how another runtime reads them.
    /// Not serialized.
    #[serde(skip)]
    pub words: Vec<u64>,
    /// Per word: whether a dynamic relocation sets it (at run time it then holds an
    /// address inside the loaded plugin, whatever its static value).
    #[serde(skip)]
    pub relocated: Vec<bool>,
}

/// How many words of a plugin's moduledata (and what follows) are kept: more than any
/// Go version's struct, so a runtime with a larger layout can be simulated too.
pub const MODULE_DATA_WORDS: u64 = 96;

/// What was read about a plugin's package hashes and its identity.
#[derive(Debug, Default)]
pub(crate) struct PluginTables {
    pub plugin_path: Option<String>,
    pub hashes: Vec<PackageHash>,
    pub order: Option<(HashOrder, String)>,
    pub module_data: Option<ModuleData>,
    /// ptab: (name, is_func) as the runtime builds the symbol map.
    pub ptab: Option<Vec<(String, Option<bool>)>>,
}

/// `pkghashes` entries found through the relocations to `go:link.pkghash.<pkg>`:
/// (table address, package names in `r_offset` order), if they form one table.
fn table_from_relocations<'a>(
    image: &Image<'a>,
    problems: &mut Vec<String>,
) -> Option<(u64, Vec<String>)> {
    let p = image.ptr;
    let package_of = |name: &'a str| {
        name.strip_prefix("go:link.pkghash.")
            .or_else(|| name.strip_prefix("go.link.pkghash."))
    };
    // The pkghash symbols first, in one pass over the symbols in order: a big plugin's
    // 34,000 symbol relocations then test a bit each instead of reaching for a symbol
    // name at random.
    let is_pkghash: Vec<bool> = std::iter::once(false)
        .chain(
            image
                .art
                .symbols
                .iter()
                .map(|s| package_of(&s.name).is_some()),
        )
        .collect();
    let mut entries: Vec<(u64, &str)> = image
        .art
        .relocations
        .iter()
        .filter(|r| is_pkghash.get(r.symbol as usize) == Some(&true))
        .filter_map(|r| Some((r.offset, package_of(&image.art.relocation_symbol(r)?.name)?)))
        .collect();
    if entries.is_empty() {
        return None;
    }
    entries.sort_by_key(|e| e.0);
    entries.dedup_by_key(|e| e.0);
    // Entries are 5 words apart; the runtimehash word is the 5th (index 4).
    let stride = 5 * p;
    let first = entries[0].0;
    let regular = entries
        .iter()
        .enumerate()
        .all(|(i, e)| first.checked_add(i as u64 * stride) == Some(e.0));
    if !regular {
        problems.push(format!(
            "the {} relocations to go:link.pkghash.* are not one table of {stride}-byte entries",
            entries.len()
        ));
        return None;
    }
    let start = first.checked_sub(4 * p)?;
    Some((
        start,
        entries.into_iter().map(|e| e.1.to_string()).collect(),
    ))
}

/// Reads `n` entries of a pkghashes table at `start`.
/// One `pkghashes` entry: package path, link-time hash, the symbol `runtimehash` binds to.
type TableEntry = (String, [u8; 8], Option<String>);

fn read_table(image: &Image, start: u64, n: u64) -> Option<Vec<TableEntry>> {
    let p = image.ptr;
    if n > MAX_PACKAGES || n.checked_mul(5 * p)? > image.data.len() as u64 {
        return None;
    }
    let mut by_offset: HashMap<u64, &str> = HashMap::new();
    for r in &image.art.relocations {
        if r.offset >= start
            && r.offset - start < n * 5 * p
            && let Some(s) = image.art.relocation_symbol(r)
        {
            by_offset.insert(r.offset, s.name.as_str());
        }
    }
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        // `start` is read from the file: near 2^64 the entry is unreadable, not an overflow.
        let e = start.checked_add(i * 5 * p)?;
        let name = image.go_string(e, MAX_NAME)?;
        let hash = image.go_string(e.checked_add(2 * p)?, 64)?;
        let hash: [u8; 8] = hash.try_into().ok()?;
        let runtime_symbol = e
            .checked_add(4 * p)
            .and_then(|a| by_offset.get(&a))
            .map(|s| s.to_string());
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            hash,
            runtime_symbol,
        ));
    }
    Some(out)
}

/// Finds the plugin's moduledata, its pluginpath, pkghashes and ptab.
pub(crate) fn read_plugin_tables(
    image: &Image,
    layout: Option<&ModuleDataLayout>,
    problems: &mut Vec<String>,
) -> PluginTables {
    let p = image.ptr;
    let mut out = PluginTables::default();
    let from_relocs = table_from_relocations(image, problems);

    // Where the pkghashes slice header sits relative to the struct, and the pluginpath.
    let pkghashes_off = layout.and_then(|l| l.offset_of("pkghashes"));
    let pluginpath_off = layout.and_then(|l| l.offset_of("pluginpath"));

    // 1. Find the moduledata.
    let mut md_addr: Option<(u64, &str)> = None;
    if let Some(off) = pkghashes_off {
        if let Some((addr, data)) = image.section(".go.module")
            && (data.len() as u64) >= off.saturating_add(3 * p)
        {
            md_addr = Some((addr, "go.module_section"));
        }
        if md_addr.is_none()
            && let Some((table, ref names)) = from_relocs
            && let Some(hdr) = find_slice_header(image, table, names.len() as u64)
            && let Some(base) = hdr.checked_sub(off)
        {
            md_addr = Some((base, "pkghashes_slice_scan"));
        }
    }

    // 2. Read pluginpath and the table through the moduledata.
    let mut md_table: Option<(u64, u64)> = None;
    if let (Some((base, how)), Some(pk_off)) = (md_addr, pkghashes_off) {
        let slice = base.checked_add(pk_off).and_then(|a| image.go_slice(a));
        match slice {
            Some((ptr, len, cap)) if len == cap && len <= MAX_PACKAGES && ptr != 0 => {
                md_table = Some((ptr, len));
            }
            _ => problems.push(format!(
                "moduledata at {base:#x} ({how}) has no readable pkghashes slice"
            )),
        }
        if let Some(pp_off) = pluginpath_off {
            out.plugin_path = base
                .checked_add(pp_off)
                .and_then(|a| image.go_string(a, MAX_NAME))
                .map(|b| String::from_utf8_lossy(b).into_owned());
        }
        let words: Vec<u64> = (0..MODULE_DATA_WORDS)
            .map_while(|i| image.word(base.checked_add(i * p)?))
            .collect();
        let relocated = (0..words.len() as u64)
            .map(|i| {
                base.checked_add(i * p)
                    .and_then(|a| image.reloc_at(a))
                    .is_some()
            })
            .collect();
        out.module_data = Some(ModuleData {
            address: base,
            located_by: how.into(),
            words,
            relocated,
        });
        out.ptab = read_ptab(image, base, layout);
    } else if let Some((table, ref names)) = from_relocs {
        // No layout: in every Go version pluginpath is the string right before pkghashes.
        if let Some(hdr) = find_slice_header(image, table, names.len() as u64) {
            out.plugin_path = hdr
                .checked_sub(2 * p)
                .and_then(|a| image.go_string(a, MAX_NAME))
                .map(|b| String::from_utf8_lossy(b).into_owned());
        }
    }
    if out.plugin_path.is_none() {
        // .symtab keeps go:link.thispluginpath (the string data) in unstripped plugins.
        if let Some(Some((addr, size))) = image
            .symtab_lookup(&["go:link.thispluginpath"])
            .first()
            .copied()
        {
            out.plugin_path = image
                .bytes(addr, size.min(MAX_NAME))
                .map(|b| String::from_utf8_lossy(b).into_owned());
        }
    }

    // 3. The table, ordered.
    let reloc_names = from_relocs.as_ref().map(|(_, n)| n);
    let mut chosen: Option<(u64, u64, HashOrder, String)> = None;
    if let Some((ptr, len)) = md_table {
        let how = md_addr.map_or("", |m| m.1);
        chosen = Some((
            ptr,
            len,
            HashOrder::ModuleData,
            format!("md.pkghashes read from the plugin's moduledata (found by {how})"),
        ));
    }
    if chosen.is_none()
        && let Some((start, names)) = &from_relocs
    {
        chosen = Some((
                *start,
                names.len() as u64,
                HashOrder::Relocations,
                "pkghashes entries located by their dynamic relocations to go:link.pkghash.*, sorted by address".into(),
            ));
    }
    if chosen.is_none() {
        let found = image.symtab_lookup(&["go:link.pkghashes", "go.link.pkghashes"]);
        if let Some((addr, size)) = found.into_iter().flatten().next() {
            chosen = Some((
                addr,
                size / (5 * p),
                HashOrder::Symtab,
                "the .symtab symbol go:link.pkghashes".into(),
            ));
        }
    }
    let Some((start, n, order, mut detail)) = chosen else {
        return out;
    };
    let Some(entries) = read_table(image, start, n) else {
        problems.push(format!(
            "pkghashes table at {start:#x} ({n} entries) is unreadable"
        ));
        return out;
    };
    // Cross-check the two independent ways of finding the order.
    if let Some(names) = reloc_names {
        let same =
            names.len() == entries.len() && names.iter().zip(&entries).all(|(a, b)| *a == b.0);
        if same {
            detail.push_str(&format!(
                "; agrees with the {} relocations to go:link.pkghash.* in address order",
                names.len()
            ));
        } else {
            problems.push(format!(
                "pkghashes table ({} entries) and relocations to go:link.pkghash.* ({}) disagree",
                entries.len(),
                names.len()
            ));
        }
    }
    let unbound: Vec<&str> = entries
        .iter()
        .filter(|e| {
            let want_a = format!("go:link.pkghash.{}", e.0);
            let want_b = format!("go.link.pkghash.{}", e.0);
            e.2.as_deref() != Some(want_a.as_str()) && e.2.as_deref() != Some(want_b.as_str())
        })
        .map(|e| e.0.as_str())
        .collect();
    if !unbound.is_empty() {
        problems.push(format!(
            "{} pkghashes entries do not point at go:link.pkghash.<pkg> through a dynamic relocation (e.g. {}): a host cannot interpose them",
            unbound.len(),
            unbound[0]
        ));
    }
    out.hashes = entries
        .into_iter()
        .map(|(path, hash, _)| PackageHash { path, hash })
        .collect();
    out.order = Some((
        order,
        format!("{} entries at {start:#x}: {detail}", out.hashes.len()),
    ));
    out
}

/// The address of a `{ptr: table, len: n, cap: n}` slice header in writable data: first
/// among the words relocated to `table` (position-independent plugins), then a plain scan.
fn find_slice_header(image: &Image, table: u64, n: u64) -> Option<u64> {
    let p = image.ptr;
    let writable = |a: u64| {
        image
            .loads
            .iter()
            .any(|l| l.writable && a >= l.vaddr && a < l.vaddr.saturating_add(l.file_size))
    };
    let is_header = |a: u64| {
        writable(a)
            && a.checked_add(p).and_then(|x| image.word(x)) == Some(n)
            && a.checked_add(2 * p).and_then(|x| image.word(x)) == Some(n)
    };
    if let Some(a) = image.relocated_to(table).find(|&a| is_header(a)) {
        return Some(a);
    }
    for load in image.loads.iter().filter(|l| l.writable) {
        let Some(data) = image.bytes(load.vaddr, load.file_size.min(MAX_SCAN)) else {
            continue;
        };
        let skip = ((p - load.vaddr % p) % p) as usize;
        for (i, chunk) in data.get(skip..)?.chunks_exact(p as usize).enumerate() {
            if image.uint_of(chunk) == table {
                let Some(a) = load.vaddr.checked_add(skip as u64 + i as u64 * p) else {
                    break;
                };
                if is_header(a) {
                    return Some(a);
                }
            }
        }
    }
    None
}

/// The plugin's ptab: exported names and whether each is a func.
fn read_ptab(
    image: &Image,
    base: u64,
    layout: Option<&ModuleDataLayout>,
) -> Option<Vec<(String, Option<bool>)>> {
    let l = layout?;
    let p = image.ptr;
    let (ptr, n, _) = image.go_slice(base.checked_add(l.offset_of("ptab")?)?)?;
    let types = image.word(base.checked_add(l.offset_of("types")?)?)?;
    if n > 100_000 || n.checked_mul(8)? > image.data.len() as u64 {
        return None;
    }
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let entry = ptr.checked_add(i * 8)?;
        let name_off = image.u32_at(entry)?;
        let typ_off = image.u32_at(entry.checked_add(4)?)?;
        let name = read_abi_name(image, types.checked_add(u64::from(name_off))?)?;
        let kind = types
            .checked_add(u64::from(typ_off))
            .and_then(|t| image.bytes(t.checked_add(2 * p + 7)?, 1))
            .map(|k| k[0] & KIND_MASK == KIND_FUNC);
        out.push((name, kind));
    }
    Some(out)
}
