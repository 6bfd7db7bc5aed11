//! The Go build info blob (`debug/buildinfo`): the Go version and the module info text
//! that `go version -m` prints.
//!
//! Format (Go's `src/debug/buildinfo/buildinfo.go`): a 32-byte header, 16-byte aligned,
//! starting with the 14-byte magic `"\xff Go buildinf:"`, then `ptrSize` (byte 14) and
//! `flags` (byte 15). With `flags & 2` (Go 1.18+) the header is followed inline by two
//! varint-length-prefixed strings, the version and the module info. Without it (before
//! 1.18) bytes 16.. hold two pointers, of `ptrSize` bytes with the endianness of
//! `flags & 1`, to Go string headers for the version and the module info. The module info
//! is framed by 16-byte sentinels, stripped when `len >= 33 && mod[len-17] == '\n'`.

use serde::Serialize;

use super::image::{Image, uvarint};
use super::{BuildSetting, Module};

pub(crate) const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_SIZE: u64 = 32;
const ALIGN: u64 = 16;
/// Larger than any real module info; bounds what a hostile length can make us copy.
const MAX_STRING: u64 = 16 << 20;
/// How far into `.go.buildinfo` or a writable segment the magic is searched. The linker
/// puts the blob first (Go before 1.22 read only 64 KiB); a hostile 4 GiB segment must
/// not be paged in.
const MAX_SCAN: u64 = 1 << 20;

/// Where and in which form the build info was found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BuildInfoSource {
    /// Virtual address of the blob's header.
    pub address: u64,
    /// `inline` (Go 1.18+) or `pointer` (before 1.18).
    pub format: BuildInfoFormat,
    /// `section` (`.go.buildinfo`) or `segment_scan` (no section headers: the magic was
    /// searched in the writable `PT_LOAD` segments).
    pub located_by: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BuildInfoFormat {
    Inline,
    Pointer,
}

/// The raw blob: version string and module info text (sentinels stripped).
pub(crate) struct RawBuildInfo {
    pub version: String,
    pub modinfo: String,
    pub source: BuildInfoSource,
}

/// Finds and decodes the build info blob. `Err` explains why there is none.
pub(crate) fn read_raw(image: &Image) -> Result<RawBuildInfo, String> {
    let (address, located_by) = locate(image)?;
    let header = image
        .bytes(address, HEADER_SIZE)
        .ok_or("build info header runs past the end of its segment")?;
    let flags = header[15];
    let (version, modinfo, format) = if flags & 2 != 0 {
        let (version, next) = address
            .checked_add(HEADER_SIZE)
            .and_then(|at| decode_varint_string(image, at))
            .ok_or("build info version string is unreadable")?;
        let (modinfo, _) =
            decode_varint_string(image, next).ok_or("build info module string is unreadable")?;
        (version, modinfo, BuildInfoFormat::Inline)
    } else {
        let ptr_size = u64::from(header[14]);
        if ptr_size != 4 && ptr_size != 8 {
            return Err(format!("build info pointer size {ptr_size} is invalid"));
        }
        let big = flags & 1 != 0;
        let read_ptr = |b: &[u8]| -> u64 {
            let b = &b[..ptr_size as usize];
            let mut v = 0u64;
            if big {
                b.iter().for_each(|x| v = (v << 8) | u64::from(*x));
            } else {
                b.iter().rev().for_each(|x| v = (v << 8) | u64::from(*x));
            }
            v
        };
        let vers_ptr = read_ptr(&header[16..]);
        let mod_ptr = read_ptr(&header[16 + ptr_size as usize..]);
        let string_at = |addr: u64| -> Vec<u8> {
            let Some(hdr) = image.bytes(addr, 2 * ptr_size) else {
                return Vec::new();
            };
            let data = read_ptr(hdr);
            let len = read_ptr(&hdr[ptr_size as usize..]);
            if len > MAX_STRING {
                return Vec::new();
            }
            image
                .bytes(data, len)
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        };
        (
            string_at(vers_ptr),
            string_at(mod_ptr),
            BuildInfoFormat::Pointer,
        )
    };
    if version.is_empty() {
        return Err("build info has an empty Go version".into());
    }
    let mut modinfo = modinfo;
    let n = modinfo.len();
    if n >= 33 && modinfo[n - 17] == b'\n' {
        modinfo = modinfo[16..n - 16].to_vec();
    } else {
        modinfo.clear();
    }
    Ok(RawBuildInfo {
        version: String::from_utf8_lossy(&version).into_owned(),
        modinfo: String::from_utf8_lossy(&modinfo).into_owned(),
        source: BuildInfoSource {
            address,
            format,
            located_by: located_by.into(),
        },
    })
}

fn decode_varint_string(image: &Image, addr: u64) -> Option<(Vec<u8>, u64)> {
    let head = image.bytes_upto(addr, 10)?;
    let (len, n) = uvarint(head)?;
    if len > MAX_STRING {
        return None;
    }
    let start = addr.checked_add(n as u64)?;
    let data = image.bytes(start, len)?;
    Some((data.to_vec(), start.checked_add(len)?))
}

/// The blob's address: the start of `.go.buildinfo` (what Go itself uses on ELF), else the
/// first 16-byte aligned magic in a writable segment (what Go did before 1.22, and what
/// still works when section headers are gone).
fn locate(image: &Image) -> Result<(u64, &'static str), String> {
    if let Some((addr, data)) = image.section(".go.buildinfo") {
        // Go searches the section for the first aligned magic.
        let data = &data[..data.len().min(MAX_SCAN as usize)];
        if let Some(at) = find_aligned_magic(data, addr) {
            return Ok((at, "section"));
        }
        return Err(".go.buildinfo section holds no build info magic".into());
    }
    for load in image.loads.iter().filter(|l| l.writable) {
        let Some(data) = image.bytes(load.vaddr, load.file_size.min(MAX_SCAN)) else {
            continue;
        };
        if let Some(at) = find_aligned_magic(data, load.vaddr) {
            return Ok((at, "segment_scan"));
        }
    }
    Err(
        "no Go build info (no .go.buildinfo section, no build info magic in the data segments)"
            .into(),
    )
}

fn find_aligned_magic(data: &[u8], base: u64) -> Option<u64> {
    // Positions where base + i is 16-byte aligned.
    let first = ((ALIGN - base % ALIGN) % ALIGN) as usize;
    let mut i = first;
    while i + HEADER_SIZE as usize <= data.len() {
        if data[i] == 0xff && &data[i..i + MAGIC.len()] == MAGIC {
            // A hostile section address near 2^64: no address, not an overflow.
            return base.checked_add(i as u64);
        }
        i += ALIGN as usize;
    }
    None
}

/// Module info text, parsed like `runtime/debug.ParseBuildInfo`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ModInfo {
    pub path: Option<String>,
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    pub settings: Vec<BuildSetting>,
}

/// Parses module info text. Lines Go would reject are skipped and reported.
pub(crate) fn parse_modinfo(text: &str, problems: &mut Vec<String>) -> ModInfo {
    let mut info = ModInfo::default();
    // Which module a `=>` line replaces: None, the main module, or the last dep.
    #[derive(Clone, Copy)]
    enum Last {
        None,
        Main,
        Dep,
    }
    let mut last = Last::None;
    // Like Go: only newline-terminated lines count.
    let mut rest = text;
    let mut line_num = 0usize;
    while let Some((line, tail)) = rest.split_once('\n') {
        rest = tail;
        line_num += 1;
        let mut bad = |what: String| problems.push(format!("build info line {line_num}: {what}"));
        if let Some(p) = line.strip_prefix("path\t") {
            info.path = Some(p.to_string());
        } else if let Some(m) = line.strip_prefix("mod\t") {
            match module_line(m) {
                Some(module) => {
                    info.main = Some(module);
                    last = Last::Main;
                }
                None => bad("malformed mod line".into()),
            }
        } else if let Some(m) = line.strip_prefix("dep\t") {
            match module_line(m) {
                Some(module) => {
                    info.deps.push(module);
                    last = Last::Dep;
                }
                None => bad("malformed dep line".into()),
            }
        } else if let Some(m) = line.strip_prefix("=>\t") {
            let elem: Vec<&str> = m.split('\t').collect();
            if elem.len() != 3 {
                bad("replacement line without 3 columns".into());
                continue;
            }
            let replacement = Box::new(Module {
                path: elem[0].into(),
                version: elem[1].into(),
                sum: elem[2].into(),
                replace: None,
            });
            match last {
                Last::Main => {
                    if let Some(main) = info.main.as_mut() {
                        main.replace = Some(replacement)
                    }
                }
                Last::Dep => {
                    if let Some(dep) = info.deps.last_mut() {
                        dep.replace = Some(replacement)
                    }
                }
                Last::None => bad("replacement with no module on previous line".into()),
            }
            last = Last::None;
        } else if let Some(kv) = line.strip_prefix("build\t") {
            match build_line(kv) {
                Ok(setting) => info.settings.push(setting),
                Err(e) => bad(e),
            }
        }
    }
    info
}

fn module_line(m: &str) -> Option<Module> {
    let elem: Vec<&str> = m.split('\t').collect();
    if elem.len() != 2 && elem.len() != 3 {
        return None;
    }
    Some(Module {
        path: elem[0].into(),
        version: elem[1].into(),
        sum: elem.get(2).copied().unwrap_or("").into(),
        replace: None,
    })
}

fn build_line(kv: &str) -> Result<BuildSetting, String> {
    let first = kv.chars().next().ok_or("build line missing '='")?;
    let (key, raw_value) = match first {
        '=' => return Err("build line with missing key".into()),
        '`' | '"' => {
            let raw_key = quoted_prefix(kv).ok_or("invalid quoted key in build line")?;
            let after = &kv[raw_key.len()..];
            let value = after
                .strip_prefix('=')
                .ok_or("build line missing '=' after quoted key")?;
            (unquote(raw_key).ok_or("invalid quoted key")?, value)
        }
        _ => {
            let (k, v) = kv
                .split_once('=')
                .ok_or("build line missing '=' after key")?;
            (k.to_string(), v)
        }
    };
    let value = match raw_value.chars().next() {
        Some('`') | Some('"') => unquote(raw_value).ok_or("invalid quoted value in build line")?,
        _ => raw_value.to_string(),
    };
    Ok(BuildSetting { key, value })
}

/// Whether Go quotes a build setting key / value when printing (`runtime/debug`).
pub(crate) fn quote_key(key: &str) -> bool {
    key.is_empty() || key.contains(['=', ' ', '\t', '\r', '\n', '"', '`'])
}
pub(crate) fn quote_value(value: &str) -> bool {
    value.contains([' ', '\t', '\r', '\n', '"', '`'])
}

/// The quoted string at the start of `s` (Go's `strconv.QuotedPrefix`), raw.
fn quoted_prefix(s: &str) -> Option<&str> {
    let quote = s.chars().next()?;
    if quote == '`' {
        let end = s[1..].find('`')?;
        return Some(&s[..end + 2]);
    }
    if quote != '"' {
        return None;
    }
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(&s[..=i]),
            b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// Go's `strconv.Unquote` for double-quoted and back-quoted strings.
pub(crate) fn unquote(s: &str) -> Option<String> {
    if s.len() >= 2 && s.starts_with('`') && s.ends_with('`') {
        let inner = &s[1..s.len() - 1];
        if inner.contains('`') {
            return None;
        }
        return Some(inner.replace('\r', ""));
    }
    if s.len() < 2 || !s.starts_with('"') || !s.ends_with('"') {
        return None;
    }
    let inner = &s.as_bytes()[1..s.len() - 1];
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut i = 0;
    let hex =
        |b: &[u8]| -> Option<u32> { u32::from_str_radix(std::str::from_utf8(b).ok()?, 16).ok() };
    while i < inner.len() {
        let c = inner[i];
        if c == b'"' || c == b'\n' {
            return None;
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *inner.get(i + 1)?;
        i += 2;
        let simple = match e {
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(11),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            b'\'' => return None,
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        match e {
            b'x' => {
                out.push(hex(inner.get(i..i + 2)?)? as u8);
                i += 2;
            }
            b'0'..=b'7' => {
                let digits = inner.get(i - 1..i + 2)?;
                let v = u32::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()?;
                if v > 255 {
                    return None;
                }
                out.push(v as u8);
                i += 2;
            }
            b'u' | b'U' => {
                let n = if e == b'u' { 4 } else { 8 };
                let v = hex(inner.get(i..i + n)?)?;
                let ch = char::from_u32(v)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += n;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// Go's `strconv.Quote` for the printable strings build settings hold.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modinfo_like_go() {
        let text = "path\texample.com/plug\nmod\texample.com/plug\t(devel)\t\n\
            dep\texample.com/lib\tv0.0.0-00010101000000-000000000000\t\n\
            =>\t../lib\t(devel)\t\n\
            dep\tgolang.org/x/text\tv0.14.0\th1:abc=\n\
            build\t-buildmode=plugin\nbuild\t-ldflags=\"-s -w\"\nbuild\tCGO_ENABLED=1\n\
            build\t-tags=netgo,osusergo\nbuild\tvcs.modified=true\n";
        let mut problems = Vec::new();
        let info = parse_modinfo(text, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(info.path.as_deref(), Some("example.com/plug"));
        assert_eq!(info.main.as_ref().unwrap().version, "(devel)");
        assert_eq!(info.deps.len(), 2);
        let lib = &info.deps[0];
        assert_eq!(lib.replace.as_ref().unwrap().path, "../lib");
        assert_eq!(info.deps[1].sum, "h1:abc=");
        assert_eq!(info.settings[1].key, "-ldflags");
        assert_eq!(info.settings[1].value, "-s -w");
        assert_eq!(info.settings.len(), 5);
    }

    #[test]
    fn modinfo_garbage_is_reported_not_fatal() {
        let mut problems = Vec::new();
        let info = parse_modinfo(
            "=>\ta\tb\tc\nmod\tonly\nbuild\t=x\nbuild\t\"unterminated\nbuild\tk=\"bad\n",
            &mut problems,
        );
        assert!(info.main.is_none());
        assert_eq!(problems.len(), 5, "{problems:?}");
        // A final line without newline is ignored, as in Go.
        let info = parse_modinfo("path\tx", &mut problems);
        assert!(info.path.is_none());
    }

    #[test]
    fn unquote_and_quote_round_trip() {
        assert_eq!(unquote("\"-s -w\"").as_deref(), Some("-s -w"));
        assert_eq!(unquote("`a b`").as_deref(), Some("a b"));
        assert_eq!(
            unquote("\"a\\tb\\x41\\u00e9\\101\"").as_deref(),
            Some("a\tbAéA")
        );
        assert_eq!(unquote("\"bad"), None);
        assert_eq!(unquote("\"\\q\""), None);
        assert_eq!(unquote("\"\\x4\""), None);
        for s in ["-s -w", "all=-N -l", "a\"b", "tab\there"] {
            assert_eq!(unquote(&quote(s)).as_deref(), Some(s));
        }
    }

    #[test]
    fn magic_must_be_aligned() {
        let mut data = vec![0u8; 96];
        data[8..22].copy_from_slice(MAGIC);
        assert_eq!(find_aligned_magic(&data, 0x1000), None);
        data[48..62].copy_from_slice(MAGIC);
        assert_eq!(find_aligned_magic(&data, 0x1000), Some(0x1030));
        // Alignment is of the address, not of the offset in the data.
        assert_eq!(find_aligned_magic(&data, 0x1008), Some(0x1010));
    }
}
