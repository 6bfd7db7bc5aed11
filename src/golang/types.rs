//! Go's run-time type metadata, read statically: the plugin's export table (`ptab`:
//! name and type offsets into the module's type section) and every type descriptor
//! reachable from it (`internal/abi.Type` and the kind-specific structs that follow it:
//! arrays, chans, funcs with their parameters, interfaces with their methods, maps,
//! pointers, slices, structs with field names, tags and embedded flags, and the
//! uncommon type of named types with their method sets).
//!
//! Layouts checked against `internal/abi/type.go` and `map.go` of Go 1.21.13, 1.22.10,
//! 1.26.x and 1.27.3: the header is `4 * ptrsize + 16` bytes in all of them; the kind
//! byte's low five bits are the kind (1.21/1.22 keep two flag bits above it, 1.26+ keep
//! none); only the map descriptor changed (Go 1.24's swiss maps: three more words), which
//! matters because the uncommon type follows the kind-specific struct. Pointer size and
//! byte order come from the artifact.
//!
//! The result is a [`TypeGraph`] (one node per descriptor, children by index) so cycles
//! through named types cost nothing; [`TypeTree`] renders one export's type as a tree in
//! which each named composite type is expanded once and referenced afterwards.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::image::{Image, uvarint};
use super::{GoVersion, ModuleDataLayout};

/// Caps for hostile input: more descriptors, fields or parameters than real programs have.
const MAX_NODES: usize = 200_000;
const MAX_FIELDS: u64 = 1 << 14;
const MAX_METHODS: u64 = 1 << 14;
const MAX_NAME: u64 = 1 << 16;
const MAX_EXPORTS: u64 = 100_000;
/// Deeper unnamed nesting than this is cut in trees (Go cannot nest unnamed types
/// recursively, so only hostile input reaches it).
const MAX_TREE_DEPTH: usize = 96;

const TFLAG_UNCOMMON: u8 = 1;
const TFLAG_EXTRA_STAR: u8 = 2;
const TFLAG_NAMED: u8 = 4;
const KIND_MASK: u8 = 0x1f;

const NAME_EXPORTED: u8 = 1;
const NAME_HAS_TAG: u8 = 2;
const NAME_EMBEDDED: u8 = 8;

/// Index of a node in a [`TypeGraph`].
pub type TypeId = usize;

/// `reflect.Kind`, named as `reflect.Kind.String()` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Kind {
    #[serde(rename = "invalid")]
    Invalid,
    #[serde(rename = "bool")]
    Bool,
    #[serde(rename = "int")]
    Int,
    #[serde(rename = "int8")]
    Int8,
    #[serde(rename = "int16")]
    Int16,
    #[serde(rename = "int32")]
    Int32,
    #[serde(rename = "int64")]
    Int64,
    #[serde(rename = "uint")]
    Uint,
    #[serde(rename = "uint8")]
    Uint8,
    #[serde(rename = "uint16")]
    Uint16,
    #[serde(rename = "uint32")]
    Uint32,
    #[serde(rename = "uint64")]
    Uint64,
    #[serde(rename = "uintptr")]
    Uintptr,
    #[serde(rename = "float32")]
    Float32,
    #[serde(rename = "float64")]
    Float64,
    #[serde(rename = "complex64")]
    Complex64,
    #[serde(rename = "complex128")]
    Complex128,
    #[serde(rename = "array")]
    Array,
    #[serde(rename = "chan")]
    Chan,
    #[serde(rename = "func")]
    Func,
    #[serde(rename = "interface")]
    Interface,
    #[serde(rename = "map")]
    Map,
    #[serde(rename = "ptr")]
    Ptr,
    #[serde(rename = "slice")]
    Slice,
    #[serde(rename = "string")]
    String,
    #[serde(rename = "struct")]
    Struct,
    #[serde(rename = "unsafe.Pointer")]
    UnsafePointer,
}

impl Kind {
    fn from_abi(k: u8) -> Kind {
        use Kind::*;
        const ALL: [Kind; 27] = [
            Invalid,
            Bool,
            Int,
            Int8,
            Int16,
            Int32,
            Int64,
            Uint,
            Uint8,
            Uint16,
            Uint32,
            Uint64,
            Uintptr,
            Float32,
            Float64,
            Complex64,
            Complex128,
            Array,
            Chan,
            Func,
            Interface,
            Map,
            Ptr,
            Slice,
            String,
            Struct,
            UnsafePointer,
        ];
        ALL.get(usize::from(k & KIND_MASK))
            .copied()
            .unwrap_or(Invalid)
    }

    pub fn as_str(self) -> &'static str {
        use Kind::*;
        match self {
            Invalid => "invalid",
            Bool => "bool",
            Int => "int",
            Int8 => "int8",
            Int16 => "int16",
            Int32 => "int32",
            Int64 => "int64",
            Uint => "uint",
            Uint8 => "uint8",
            Uint16 => "uint16",
            Uint32 => "uint32",
            Uint64 => "uint64",
            Uintptr => "uintptr",
            Float32 => "float32",
            Float64 => "float64",
            Complex64 => "complex64",
            Complex128 => "complex128",
            Array => "array",
            Chan => "chan",
            Func => "func",
            Interface => "interface",
            Map => "map",
            Ptr => "ptr",
            Slice => "slice",
            String => "string",
            Struct => "struct",
            UnsafePointer => "unsafe.Pointer",
        }
    }

    /// Kinds with element types, fields, parameters or methods of their own.
    pub fn is_composite(self) -> bool {
        matches!(
            self,
            Kind::Array
                | Kind::Chan
                | Kind::Func
                | Kind::Interface
                | Kind::Map
                | Kind::Ptr
                | Kind::Slice
                | Kind::Struct
        )
    }

    pub fn is_integer(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Int | Int8 | Int16 | Int32 | Int64 | Uint | Uint8 | Uint16 | Uint32 | Uint64 | Uintptr
        )
    }

    pub fn is_unsigned(self) -> bool {
        use Kind::*;
        matches!(self, Uint | Uint8 | Uint16 | Uint32 | Uint64 | Uintptr)
    }
}

/// `reflect.ChanDir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChanDir {
    Recv,
    Send,
    Both,
}

/// One struct field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub typ: TypeId,
    /// The raw tag, e.g. `json:"name" validate:"required"`.
    pub tag: String,
    pub embedded: bool,
    pub exported: bool,
    pub offset: u64,
}

/// One method: exported methods of a named type (as `reflect.Type.Method` lists them),
/// or every method of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    pub name: String,
    /// The signature without receiver, e.g. `func(context.Context) error`; `None` when
    /// the linker dropped the method's type (unreachable method).
    pub signature: Option<String>,
}

/// One type descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeNode {
    /// `reflect.Type.String()`.
    pub string: String,
    pub kind: Kind,
    /// A defined (named) type: `reflect.Type.Name()` is not empty.
    pub named: bool,
    /// `reflect.Type.PkgPath()` for named types.
    pub pkg_path: String,
    pub size: u64,
    pub elem: Option<TypeId>,
    pub key: Option<TypeId>,
    pub len: Option<u64>,
    pub dir: Option<ChanDir>,
    pub fields: Vec<Field>,
    pub params: Vec<TypeId>,
    pub results: Vec<TypeId>,
    pub variadic: bool,
    pub methods: Vec<Method>,
    /// The descriptor could not be read completely (hostile or unknown layout).
    pub incomplete: bool,
}

impl TypeNode {
    /// A node not decoded (yet): incomplete until its descriptor is read.
    fn placeholder() -> TypeNode {
        TypeNode {
            string: String::new(),
            kind: Kind::Invalid,
            named: false,
            pkg_path: String::new(),
            size: 0,
            elem: None,
            key: None,
            len: None,
            dir: None,
            fields: Vec::new(),
            params: Vec::new(),
            results: Vec::new(),
            variadic: false,
            methods: Vec::new(),
            incomplete: true,
        }
    }

    /// `reflect.Type.Name()`: the string after the last `.` outside brackets.
    pub fn name(&self) -> &str {
        if !self.named {
            return "";
        }
        let s = self.string.as_bytes();
        let mut depth = 0i32;
        for i in (0..s.len()).rev() {
            match s[i] {
                b']' => depth += 1,
                b'[' => depth -= 1,
                b'.' if depth == 0 => return &self.string[i + 1..],
                _ => {}
            }
        }
        &self.string
    }
}

/// An exported symbol of a plugin and its type as `Plugin.Lookup` returns it: the
/// function type for functions, a pointer to the variable's type for variables.
#[derive(Debug, Clone)]
pub struct ExportType {
    pub graph: Arc<TypeGraph>,
    pub id: TypeId,
}

impl ExportType {
    pub fn node(&self) -> &TypeNode {
        &self.graph.nodes[self.id]
    }
}

impl Serialize for ExportType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TypeTree::new(&self.graph, self.id).serialize(s)
    }
}

/// All descriptors read from one module.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TypeGraph {
    pub nodes: Vec<TypeNode>,
}

impl TypeGraph {
    pub fn node(&self, id: TypeId) -> &TypeNode {
        &self.nodes[id]
    }

    /// Every node reachable from `root` through elements, keys, fields and parameters
    /// (not through method signatures), `root` first, each once.
    pub fn reachable(&self, root: TypeId) -> Vec<TypeId> {
        let mut seen = HashSet::new();
        let mut order = Vec::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if id >= self.nodes.len() || !seen.insert(id) {
                continue;
            }
            order.push(id);
            let n = &self.nodes[id];
            let children = n
                .key
                .iter()
                .chain(n.elem.iter())
                .copied()
                .chain(n.fields.iter().map(|f| f.typ))
                .chain(n.params.iter().copied())
                .chain(n.results.iter().copied())
                .collect::<Vec<_>>();
            stack.extend(children.into_iter().rev());
        }
        order
    }
}

/// What the descriptor reader needs from the module.
struct Reader<'a, 'b> {
    image: &'b Image<'a>,
    p: u64,
    /// `moduledata.types`: base of name and type offsets.
    types: u64,
    header: u64,
    /// Size of `abi.MapType` (the uncommon type follows it).
    map_size: u64,
    nodes: Vec<TypeNode>,
    by_addr: HashMap<u64, TypeId>,
    queue: VecDeque<(u64, TypeId)>,
}

fn round_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to) * to
}

impl<'a, 'b> Reader<'a, 'b> {
    fn new(image: &'b Image<'a>, types: u64, version: Option<&GoVersion>) -> Self {
        let p = image.ptr;
        let header = 4 * p + 16;
        // Swiss maps (Go 1.24+): Key, Elem, Group, Hasher, GroupSize, SlotSize, ElemOff,
        // Flags uint32. Before: Key, Elem, Bucket, Hasher, KeySize/ValueSize u8,
        // BucketSize u16, Flags u32.
        let swiss = version.is_none_or(|v| v.major > 1 || v.minor >= 24);
        let map_size = if swiss {
            round_up(header + 7 * p + 4, p)
        } else {
            round_up(header + 4 * p + 8, p)
        };
        Reader {
            image,
            p,
            types,
            header,
            map_size,
            nodes: Vec::new(),
            by_addr: HashMap::new(),
            queue: VecDeque::new(),
        }
    }

    fn u8_at(&self, a: u64) -> Option<u8> {
        self.image.bytes(a, 1).map(|b| b[0])
    }

    fn u16_at(&self, a: u64) -> Option<u16> {
        Some(self.image.uint_of(self.image.bytes(a, 2)?) as u16)
    }

    fn i32_at(&self, a: u64) -> Option<i32> {
        self.image.u32_at(a).map(|v| v as i32)
    }

    /// `md.types + off`, `None` for the "no type" offset -1 and for 0 where Go uses it.
    fn resolve_off(&self, off: i32) -> Option<u64> {
        if off == -1 {
            return None;
        }
        self.types.checked_add_signed(i64::from(off))
    }

    /// An `abi.Name` at `addr`: (flags, name, tag).
    fn name_at(&self, addr: u64) -> Option<(u8, String, String)> {
        let head = self.image.bytes_upto(addr, 11)?;
        let flags = *head.first()?;
        let (len, n) = uvarint(head.get(1..)?)?;
        if len > MAX_NAME {
            return None;
        }
        let data = addr.checked_add(1 + n as u64)?;
        let name = self.image.bytes(data, len)?;
        let mut tag = String::new();
        if flags & NAME_HAS_TAG != 0 {
            let at = data.checked_add(len)?;
            let head = self.image.bytes_upto(at, 10)?;
            let (tlen, tn) = uvarint(head)?;
            if tlen > MAX_NAME {
                return None;
            }
            let t = self.image.bytes(at.checked_add(tn as u64)?, tlen)?;
            tag = String::from_utf8_lossy(t).into_owned();
        }
        Some((flags, String::from_utf8_lossy(name).into_owned(), tag))
    }

    fn name_off(&self, off: i32) -> Option<String> {
        self.name_at(self.resolve_off(off)?).map(|n| n.1)
    }

    /// The `reflect.Type.String()` of the descriptor at `addr`, without decoding it.
    fn string_of(&self, addr: u64) -> Option<String> {
        let tflag = self.u8_at(addr.checked_add(2 * self.p + 4)?)?;
        let s = self.name_off(self.i32_at(addr.checked_add(4 * self.p + 8)?)?)?;
        Some(if tflag & TFLAG_EXTRA_STAR != 0 && s.starts_with('*') {
            s[1..].to_string()
        } else {
            s
        })
    }

    /// The node for the descriptor at `addr`, queued for decoding on first sight.
    fn id_of(&mut self, addr: u64) -> Option<TypeId> {
        if let Some(&id) = self.by_addr.get(&addr) {
            return Some(id);
        }
        if self.nodes.len() >= MAX_NODES {
            return None;
        }
        let id = self.nodes.len();
        self.nodes.push(TypeNode::placeholder());
        self.by_addr.insert(addr, id);
        self.queue.push_back((addr, id));
        Some(id)
    }

    /// The type a pointer-sized word at `at` points to.
    fn ptr_field(&mut self, at: u64) -> Option<TypeId> {
        let target = self.image.word(at)?;
        if target == 0 {
            return None;
        }
        self.id_of(target)
    }

    fn drain(&mut self) {
        while let Some((addr, id)) = self.queue.pop_front() {
            if let Some(node) = self.decode(addr) {
                self.nodes[id] = node;
            } else if let Some(s) = self.string_of(addr) {
                self.nodes[id].string = s;
            }
        }
    }

    fn decode(&mut self, t: u64) -> Option<TypeNode> {
        let p = self.p;
        let h = self.header;
        let size = self.image.word(t)?;
        let tflag = self.u8_at(t.checked_add(2 * p + 4)?)?;
        let kind = Kind::from_abi(self.u8_at(t.checked_add(2 * p + 7)?)?);
        let string = self.string_of(t)?;
        let mut node = TypeNode {
            string,
            kind,
            named: tflag & TFLAG_NAMED != 0,
            size,
            incomplete: false,
            ..TypeNode::placeholder()
        };
        let at = |k: u64| t.checked_add(h + k);
        let base = match kind {
            Kind::Array => {
                node.elem = self.ptr_field(at(0)?);
                node.len = self.image.word(at(2 * p)?);
                h + 3 * p
            }
            Kind::Chan => {
                node.elem = self.ptr_field(at(0)?);
                node.dir = match self.image.word(at(p)?)? {
                    1 => Some(ChanDir::Recv),
                    2 => Some(ChanDir::Send),
                    _ => Some(ChanDir::Both),
                };
                h + 2 * p
            }
            Kind::Func => h + 4,
            Kind::Interface => {
                let (ptr, n, _) = self.image.go_slice(at(p)?)?;
                if n > MAX_METHODS {
                    return None;
                }
                for i in 0..n {
                    let m = ptr.checked_add(i * 8)?;
                    let name = self.name_off(self.i32_at(m)?)?;
                    let signature = self
                        .resolve_off(self.i32_at(m.checked_add(4)?)?)
                        .and_then(|a| self.string_of(a));
                    node.methods.push(Method { name, signature });
                }
                h + 4 * p
            }
            Kind::Map => {
                node.key = self.ptr_field(at(0)?);
                node.elem = self.ptr_field(at(p)?);
                self.map_size
            }
            Kind::Ptr | Kind::Slice => {
                node.elem = self.ptr_field(at(0)?);
                h + p
            }
            Kind::Struct => {
                let (ptr, n, _) = self.image.go_slice(at(p)?)?;
                if n > MAX_FIELDS {
                    return None;
                }
                for i in 0..n {
                    let f = ptr.checked_add(i.checked_mul(3 * p)?)?;
                    let (flags, name, tag) = self.name_at(self.image.word(f)?)?;
                    let typ = self.ptr_field(f.checked_add(p)?)?;
                    let offset = self.image.word(f.checked_add(2 * p)?)?;
                    node.fields.push(Field {
                        name,
                        typ,
                        tag,
                        embedded: flags & NAME_EMBEDDED != 0,
                        exported: flags & NAME_EXPORTED != 0,
                        offset,
                    });
                }
                h + 4 * p
            }
            _ => h,
        };
        let base = round_up(base, p);
        let uncommon = (tflag & TFLAG_UNCOMMON != 0).then(|| t.checked_add(base));
        let uncommon = match uncommon {
            Some(Some(u)) => Some(u),
            Some(None) => return None,
            None => None,
        };
        if kind == Kind::Func {
            let ins = self.u16_at(at(0)?)?;
            let outs = self.u16_at(at(2)?)?;
            node.variadic = outs & 0x8000 != 0;
            let outs = outs & 0x7fff;
            let params = t.checked_add(base + if uncommon.is_some() { 16 } else { 0 })?;
            for i in 0..u64::from(ins) + u64::from(outs) {
                let id = self.ptr_field(params.checked_add(i * p)?)?;
                if i < u64::from(ins) {
                    node.params.push(id);
                } else {
                    node.results.push(id);
                }
            }
        }
        if let Some(u) = uncommon {
            if node.named {
                node.pkg_path = self.name_off(self.i32_at(u)?).unwrap_or_default();
            }
            if kind != Kind::Interface {
                let xcount = u64::from(self.u16_at(u.checked_add(6)?)?);
                let moff = u64::from(self.image.u32_at(u.checked_add(8)?)?);
                let methods = u.checked_add(moff)?;
                for i in 0..xcount.min(MAX_METHODS) {
                    let m = methods.checked_add(i * 16)?;
                    let name = self.name_off(self.i32_at(m)?)?;
                    let signature = self
                        .resolve_off(self.i32_at(m.checked_add(4)?)?)
                        .and_then(|a| self.string_of(a));
                    node.methods.push(Method { name, signature });
                }
            }
        }
        Some(node)
    }
}

/// The exported symbols of a plugin with their types: (name, is_func, type).
pub struct ExportTable {
    pub graph: Arc<TypeGraph>,
    pub entries: Vec<(String, bool, Option<TypeId>)>,
}

/// Reads the plugin's `ptab` through its moduledata at `md` and decodes every type
/// reachable from it.
pub(crate) fn read_exports(
    image: &Image,
    md: u64,
    layout: &ModuleDataLayout,
    version: Option<&GoVersion>,
) -> Result<ExportTable, String> {
    let field = |name: &str| {
        layout
            .offset_of(name)
            .and_then(|o| md.checked_add(o))
            .ok_or_else(|| format!("moduledata has no {name} field"))
    };
    let types = image
        .word(field("types")?)
        .ok_or("moduledata.types unreadable")?;
    let (ptab, n, _) = image
        .go_slice(field("ptab")?)
        .ok_or("moduledata.ptab unreadable")?;
    if n > MAX_EXPORTS || n.saturating_mul(8) > image.data.len() as u64 {
        return Err(format!("moduledata.ptab claims {n} entries"));
    }
    let mut reader = Reader::new(image, types, version);
    let mut entries = Vec::with_capacity(n as usize);
    for i in 0..n {
        let e = ptab
            .checked_add(i * 8)
            .ok_or("ptab entry address overflows")?;
        let name_off = reader.i32_at(e).ok_or("ptab entry unreadable")?;
        let typ_off = reader
            .i32_at(e.checked_add(4).ok_or("ptab entry unreadable")?)
            .ok_or("ptab entry unreadable")?;
        let name = reader
            .name_off(name_off)
            .ok_or_else(|| format!("ptab name {i} unreadable"))?;
        let addr = reader.resolve_off(typ_off);
        let id = addr.and_then(|a| reader.id_of(a));
        let is_func = addr
            .and_then(|a| reader.u8_at(a.checked_add(2 * reader.p + 7)?))
            .is_some_and(|k| Kind::from_abi(k) == Kind::Func);
        entries.push((name, is_func, id));
    }
    reader.drain();
    Ok(ExportTable {
        graph: Arc::new(TypeGraph {
            nodes: reader.nodes,
        }),
        entries,
    })
}

/// One type rendered as a tree: named composite types are expanded at their first
/// occurrence and referenced (`"ref": true`) after that, so cycles end; method sets
/// are listed by signature string. The same shape is what the reflect-based test host
/// prints, so the two can be compared as JSON.
pub struct TypeTree<'g> {
    graph: &'g TypeGraph,
    root: TypeId,
}

impl<'g> TypeTree<'g> {
    pub fn new(graph: &'g TypeGraph, root: TypeId) -> Self {
        TypeTree { graph, root }
    }
}

impl Serialize for TypeTree<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let expanded = std::cell::RefCell::new(HashSet::new());
        Node {
            graph: self.graph,
            id: self.root,
            expanded: &expanded,
            depth: 0,
        }
        .serialize(s)
    }
}

struct Node<'g, 'e> {
    graph: &'g TypeGraph,
    id: TypeId,
    expanded: &'e std::cell::RefCell<HashSet<TypeId>>,
    depth: usize,
}

impl Node<'_, '_> {
    fn child(&self, id: TypeId) -> Self {
        Node {
            graph: self.graph,
            id,
            expanded: self.expanded,
            depth: self.depth + 1,
        }
    }
}

struct FieldNode<'a, 'g, 'e> {
    parent: &'a Node<'g, 'e>,
    field: &'a Field,
}

impl Serialize for FieldNode<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.field;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", &f.name)?;
        m.serialize_entry("type", &self.parent.child(f.typ))?;
        if !f.tag.is_empty() {
            m.serialize_entry("tag", &f.tag)?;
        }
        if f.embedded {
            m.serialize_entry("embedded", &true)?;
        }
        m.serialize_entry("offset", &f.offset)?;
        m.end()
    }
}

/// A slice serialized element by element through `F` (no intermediate vector).
struct SeqOf<'a, T, F>(&'a [T], F);

impl<'a, T, R: Serialize, F: Fn(&'a T) -> R> Serialize for SeqOf<'a, T, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

struct MethodJson<'a>(&'a Method);

impl Serialize for MethodJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("name", &self.0.name)?;
        m.serialize_entry("type", &self.0.signature)?;
        m.end()
    }
}

impl Serialize for Node<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.graph.node(self.id);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("string", &n.string)?;
        m.serialize_entry("kind", &n.kind)?;
        if n.named {
            m.serialize_entry("name", n.name())?;
            if !n.pkg_path.is_empty() {
                m.serialize_entry("pkg_path", &n.pkg_path)?;
            }
        }
        if n.incomplete {
            m.serialize_entry("incomplete", &true)?;
            return m.end();
        }
        if n.named && n.kind.is_composite() && !self.expanded.borrow_mut().insert(self.id) {
            m.serialize_entry("ref", &true)?;
            return m.end();
        }
        if self.depth >= MAX_TREE_DEPTH {
            m.serialize_entry("truncated", &true)?;
            return m.end();
        }
        if let Some(k) = n.key {
            m.serialize_entry("key", &self.child(k))?;
        }
        if let Some(e) = n.elem {
            m.serialize_entry("elem", &self.child(e))?;
        }
        if let Some(len) = n.len {
            m.serialize_entry("len", &len)?;
        }
        if let Some(dir) = n.dir {
            m.serialize_entry("dir", &dir)?;
        }
        if n.kind == Kind::Struct {
            m.serialize_entry(
                "fields",
                &SeqOf(&n.fields, |field| FieldNode {
                    parent: self,
                    field,
                }),
            )?;
        }
        if n.kind == Kind::Func {
            m.serialize_entry("in", &SeqOf(&n.params, |&id| self.child(id)))?;
            m.serialize_entry("out", &SeqOf(&n.results, |&id| self.child(id)))?;
            if n.variadic {
                m.serialize_entry("variadic", &true)?;
            }
        }
        if !n.methods.is_empty() {
            let methods: Vec<MethodJson> = n.methods.iter().map(MethodJson).collect();
            m.serialize_entry("methods", &methods)?;
        }
        m.end()
    }
}

impl PartialEq for ExportType {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && (Arc::ptr_eq(&self.graph, &other.graph) || self.graph == other.graph)
    }
}

impl Eq for ExportType {}

/// Sets the type of every export of a plugin whose moduledata was found.
pub(crate) fn attach(image: &Image, facts: &mut super::GoFacts) {
    let (Some(md), Some(layout)) = (&facts.module_data, &facts.moduledata_layout) else {
        return;
    };
    if facts.exports_source != "ptab" {
        return;
    }
    match read_exports(image, md.address, layout, facts.parsed_version.as_ref()) {
        Ok(table) => {
            for export in &mut facts.exports {
                if let Some((_, _, Some(id))) = table.entries.iter().find(|e| e.0 == export.name) {
                    export.type_ = Some(ExportType {
                        graph: Arc::clone(&table.graph),
                        id: *id,
                    });
                }
            }
        }
        Err(why) => facts
            .problems
            .push(format!("types of the exports not read: {why}")),
    }
}
