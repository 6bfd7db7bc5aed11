//! Per-architecture facts of a glibc Linux target: what its ld.so is called, where it
//! searches, how its `ld.so.cache` entries are tagged, how static TLS is laid out and
//! which dynamic relocation types mean what. Chosen from an ELF header (`e_machine`,
//! class, byte order), never from the machine plugctl runs on.
//!
//! Sources: glibc 2.36 `sysdeps/*/dl-machine.h`, `sysdeps/generic/ldconfig.h`
//! (`FLAG_*`), `sysdeps/unix/sysv/linux/*/ldsodefs.h` and `elf.h`; Debian's
//! multiarch triplets and interpreter paths.
//!
//! | arch | checked against real loads here |
//! |---|---|
//! | x86-64, i386, aarch64 | yes (`tests/predictions.rs`, `tests/predictions_cross.rs`, matrix) |
//! | arm (EABI5 hard-float), ppc64le, s390x, riscv64 | Go hosts and plugins under qemu-user (`tests/predictions_cross.rs`: loads, package and toolchain mismatches, sequences, foreign class, machine and byte order, with and without `--sysroot`); static TLS (matrix rows; `loader::tls`) |

use serde::Serialize;

use super::{Class, Endianness, Identity};

/// How a TLS block is placed relative to the thread pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsVariant {
    /// `TLS_TCB_AT_TP` (x86-64, i386, s390x): blocks below the thread pointer.
    TcbAtTp,
    /// `TLS_DTV_AT_TP` (aarch64, arm, ppc64, riscv): blocks above the TCB.
    DtvAtTp,
}

/// Dynamic relocation types the loader model distinguishes (0 = the arch has none).
#[derive(Debug, Clone, Copy)]
pub struct RelocTypes {
    pub none: u32,
    pub copy: u32,
    pub jump_slot: u32,
    /// Relocations that need no symbol: `RELATIVE`, `IRELATIVE` (and x86-64's `RELATIVE64`).
    pub relative: &'static [u32],
    /// Initial-exec / local-exec TLS offsets: need a static TLS block.
    pub tpoff: &'static [u32],
    /// TLS descriptors: static TLS while the optional surplus lasts.
    pub tlsdesc: u32,
    /// Dynamic-model TLS (`DTPMOD`).
    pub dtpmod: u32,
}

/// What the loader model does with one relocation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelocClass {
    /// `NONE` and the relative kinds: nothing to look up.
    NoSymbol,
    /// Initial-exec TLS offsets (`tpoff`).
    Tpoff,
    /// A TLS descriptor.
    Tlsdesc,
    Copy,
    JumpSlot,
    /// Any other relocation naming a symbol.
    Symbol,
}

/// [`RelocClass`] of every type up to the highest one an arch names, in a table: a big
/// plugin's 34,000 symbol relocations are classified with one load each instead of
/// searching the type lists (1.8 million instructions of a 15 MB plugin's `inspect`).
#[derive(Debug, Clone)]
pub struct RelocClasses {
    table: Vec<RelocClass>,
}

impl RelocClasses {
    pub fn of(&self, r_type: u32) -> RelocClass {
        usize::try_from(r_type)
            .ok()
            .and_then(|t| self.table.get(t))
            .copied()
            .unwrap_or(RelocClass::Symbol)
    }
}

impl RelocTypes {
    /// The class of `r_type`, from the lists.
    fn class(&self, r_type: u32) -> RelocClass {
        match r_type {
            t if t == self.none || self.relative.contains(&t) => RelocClass::NoSymbol,
            t if self.tpoff.contains(&t) => RelocClass::Tpoff,
            t if self.tlsdesc != 0 && t == self.tlsdesc => RelocClass::Tlsdesc,
            t if t == self.copy => RelocClass::Copy,
            t if t == self.jump_slot => RelocClass::JumpSlot,
            _ => RelocClass::Symbol,
        }
    }

    /// Every type's class, looked up in a table.
    pub fn classes(&self) -> RelocClasses {
        let named = [
            self.none,
            self.copy,
            self.jump_slot,
            self.tlsdesc,
            self.dtpmod,
        ];
        let highest = named
            .iter()
            .chain(self.relative)
            .chain(self.tpoff)
            .copied()
            .max()
            .unwrap_or(0);
        RelocClasses {
            table: (0..=highest).map(|t| self.class(t)).collect(),
        }
    }
}

/// One target architecture.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Arch {
    /// plugctl's name, as in `ELF64 Little aarch64`.
    pub name: &'static str,
    /// `GOARCH`.
    pub goarch: &'static str,
    pub machine: u16,
    #[serde(skip)]
    pub class: Class,
    #[serde(skip)]
    pub endianness: Endianness,
    /// `PT_INTERP` of glibc programs.
    pub interpreter: &'static str,
    /// Debian's multiarch triplet (`lib/<triplet>` is `$LIB`).
    pub triplet: &'static str,
    /// ld.so's built-in directories when they cannot be read from the interpreter.
    pub system_dirs: &'static [&'static str],
    /// `ld.so.cache` entry flags this ld.so accepts (`FLAG_ELF_LIBC6 | FLAG_<ARCH>`).
    pub cache_flags: i32,
    /// `$PLATFORM` (`AT_PLATFORM`) assumed for a CPU plugctl cannot see.
    pub platform: &'static str,
    pub tls: TlsVariant,
    /// `TLS_TCB_ALIGN` = `__alignof__ (struct pthread)`: `TCB_ALIGNMENT`, at least 32 since
    /// glibc 2.35 (the 32-byte aligned rseq area). Measured 32 on aarch64 (loader::tls).
    pub tcb_align: u64,
    /// `TLS_TCB_SIZE` of a `TLS_DTV_AT_TP` layout (`sizeof (tcbhead_t)` where the TCB
    /// sits at the thread pointer; 0 where it sits before it); 0 for `TLS_TCB_AT_TP`.
    #[serde(skip)]
    pub tls_tcb_size: u64,
    /// `LIBC_ABI_MAX` of glibc on Linux for this arch: `EI_ABIVERSION` must be below it.
    pub libc_abi_max: u8,
    #[serde(skip)]
    pub relocs: RelocTypes,
}

const FLAG_ELF_LIBC6: i32 = 0x0003;

pub const X86_64: Arch = Arch {
    name: "x86-64",
    goarch: "amd64",
    machine: 62,
    class: Class::Elf64,
    endianness: Endianness::Little,
    interpreter: "/lib64/ld-linux-x86-64.so.2",
    triplet: "x86_64-linux-gnu",
    system_dirs: &[
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib",
        "/usr/lib",
    ],
    cache_flags: FLAG_ELF_LIBC6 | 0x0300,
    platform: "x86_64",
    tls: TlsVariant::TcbAtTp,
    tcb_align: 64,
    tls_tcb_size: 0,
    libc_abi_max: 4,
    relocs: RelocTypes {
        none: 0,
        copy: 5,
        jump_slot: 7,
        relative: &[8, 37, 38],
        tpoff: &[18, 23],
        tlsdesc: 36,
        dtpmod: 16,
    },
};

pub const I386: Arch = Arch {
    name: "i386",
    goarch: "386",
    machine: 3,
    class: Class::Elf32,
    endianness: Endianness::Little,
    interpreter: "/lib/ld-linux.so.2",
    triplet: "i386-linux-gnu",
    system_dirs: &[
        "/lib/i386-linux-gnu",
        "/usr/lib/i386-linux-gnu",
        "/lib",
        "/usr/lib",
    ],
    // i386 entries carry no machine bits.
    cache_flags: FLAG_ELF_LIBC6,
    platform: "i686",
    tls: TlsVariant::TcbAtTp,
    tcb_align: 64,
    tls_tcb_size: 0,
    libc_abi_max: 4,
    relocs: RelocTypes {
        none: 0,
        copy: 5,
        jump_slot: 7,
        relative: &[8, 42],
        // R_386_TLS_TPOFF, R_386_TLS_TPOFF32
        tpoff: &[14, 37],
        tlsdesc: 41,
        dtpmod: 35,
    },
};

pub const AARCH64: Arch = Arch {
    name: "aarch64",
    goarch: "arm64",
    machine: 183,
    class: Class::Elf64,
    endianness: Endianness::Little,
    interpreter: "/lib/ld-linux-aarch64.so.1",
    triplet: "aarch64-linux-gnu",
    system_dirs: &[
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib",
        "/usr/lib",
    ],
    cache_flags: FLAG_ELF_LIBC6 | 0x0a00,
    platform: "aarch64",
    tls: TlsVariant::DtvAtTp,
    tcb_align: 32,
    tls_tcb_size: 16,
    libc_abi_max: 4,
    relocs: RelocTypes {
        none: 0,
        copy: 1024,
        jump_slot: 1026,
        relative: &[1027, 1032],
        tpoff: &[1030],
        tlsdesc: 1031,
        dtpmod: 1028,
    },
};

pub const ARM_HF: Arch = Arch {
    name: "arm",
    goarch: "arm",
    machine: 40,
    class: Class::Elf32,
    endianness: Endianness::Little,
    interpreter: "/lib/ld-linux-armhf.so.3",
    triplet: "arm-linux-gnueabihf",
    system_dirs: &[
        "/lib/arm-linux-gnueabihf",
        "/usr/lib/arm-linux-gnueabihf",
        "/lib",
        "/usr/lib",
    ],
    cache_flags: FLAG_ELF_LIBC6 | 0x0900,
    platform: "v7l",
    tls: TlsVariant::DtvAtTp,
    tcb_align: 32,
    tls_tcb_size: 8,
    libc_abi_max: 4,
    relocs: RelocTypes {
        none: 0,
        copy: 20,
        jump_slot: 22,
        relative: &[23, 160],
        tpoff: &[19],
        tlsdesc: 13,
        dtpmod: 17,
    },
};

pub const PPC64LE: Arch = Arch {
    name: "ppc64le",
    goarch: "ppc64le",
    machine: 21,
    class: Class::Elf64,
    endianness: Endianness::Little,
    interpreter: "/lib64/ld64.so.2",
    triplet: "powerpc64le-linux-gnu",
    system_dirs: &[
        "/lib/powerpc64le-linux-gnu",
        "/usr/lib/powerpc64le-linux-gnu",
        "/lib",
        "/usr/lib",
    ],
    cache_flags: FLAG_ELF_LIBC6 | 0x0500,
    platform: "power8",
    tls: TlsVariant::DtvAtTp,
    tcb_align: 32,
    tls_tcb_size: 0,
    libc_abi_max: 4,
    relocs: RelocTypes {
        none: 0,
        copy: 19,
        jump_slot: 21,
        relative: &[22, 248],
        tpoff: &[73],
        tlsdesc: 0,
        dtpmod: 68,
    },
};

pub const S390X: Arch = Arch {
    name: "s390x",
    goarch: "s390x",
    machine: 22,
    class: Class::Elf64,
    endianness: Endianness::Big,
    interpreter: "/lib/ld64.so.1",
    triplet: "s390x-linux-gnu",
    system_dirs: &[
        "/lib/s390x-linux-gnu",
        "/usr/lib/s390x-linux-gnu",
        "/lib",
        "/usr/lib",
    ],
    cache_flags: FLAG_ELF_LIBC6 | 0x0400,
    platform: "z900",
    tls: TlsVariant::TcbAtTp,
    tcb_align: 32,
    tls_tcb_size: 0,
    libc_abi_max: 4,
    relocs: RelocTypes {
        none: 0,
        copy: 9,
        jump_slot: 11,
        relative: &[12, 61],
        tpoff: &[56],
        tlsdesc: 0,
        dtpmod: 54,
    },
};

pub const RISCV64: Arch = Arch {
    name: "riscv64",
    goarch: "riscv64",
    machine: 243,
    class: Class::Elf64,
    endianness: Endianness::Little,
    interpreter: "/lib/ld-linux-riscv64-lp64d.so.1",
    triplet: "riscv64-linux-gnu",
    system_dirs: &[
        "/lib/riscv64-linux-gnu",
        "/usr/lib/riscv64-linux-gnu",
        "/lib",
        "/usr/lib",
    ],
    cache_flags: FLAG_ELF_LIBC6 | 0x1000,
    platform: "",
    tls: TlsVariant::DtvAtTp,
    tcb_align: 32,
    tls_tcb_size: 0,
    libc_abi_max: 4,
    relocs: RelocTypes {
        none: 0,
        copy: 4,
        jump_slot: 5,
        relative: &[3, 58],
        tpoff: &[11],
        tlsdesc: 12,
        dtpmod: 7,
    },
};

/// Every architecture plugctl models.
pub const ALL: &[&Arch] = &[
    &X86_64, &I386, &AARCH64, &ARM_HF, &PPC64LE, &S390X, &RISCV64,
];

impl Arch {
    /// The architecture of an ELF header; `None` for a machine/class plugctl does not model.
    pub fn of(identity: &Identity) -> Option<&'static Arch> {
        ALL.iter().copied().find(|a| {
            a.machine == identity.machine_id
                && a.class == identity.class
                && a.endianness == identity.endianness
        })
    }

    /// The architecture named by the first 20 bytes of an ELF file (`e_ident`, `e_machine`).
    pub fn from_header(head: &[u8]) -> Option<&'static Arch> {
        if head.len() < 20 || head[..4] != *b"\x7fELF" {
            return None;
        }
        let class = match head[4] {
            1 => Class::Elf32,
            2 => Class::Elf64,
            _ => return None,
        };
        let (endianness, machine) = match head[5] {
            1 => (Endianness::Little, u16::from_le_bytes([head[18], head[19]])),
            2 => (Endianness::Big, u16::from_be_bytes([head[18], head[19]])),
            _ => return None,
        };
        ALL.iter()
            .copied()
            .find(|a| a.machine == machine && a.class == class && a.endianness == endianness)
    }

    /// The architecture of the ELF file at `path`, reading only its first 20 bytes.
    pub fn of_file(path: &std::path::Path) -> Option<&'static Arch> {
        use std::io::Read;
        let mut head = [0u8; 20];
        // Regular files only, checked before open(2): opening a FIFO would block.
        if !std::fs::metadata(path).ok()?.is_file() {
            return None;
        }
        let mut file = std::fs::File::open(path).ok()?;
        file.read_exact(&mut head).ok()?;
        Arch::from_header(&head)
    }

    /// The architecture plugctl itself was built for (the default target).
    pub fn native() -> &'static Arch {
        let goarch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            _ => "amd64",
        };
        ALL.iter()
            .copied()
            .find(|a| a.goarch == goarch)
            .unwrap_or(&X86_64)
    }

    pub fn is_64(&self) -> bool {
        self.class == Class::Elf64
    }

    /// `ELFCLASS32`/`ELFCLASS64`: the class this ld.so refuses (the other one).
    pub fn other_class(&self) -> Class {
        match self.class {
            Class::Elf32 => Class::Elf64,
            Class::Elf64 => Class::Elf32,
        }
    }

    /// `"64-bit x86-64"` / `"32-bit i386"`, for causes.
    pub fn describe(&self) -> String {
        format!("{}-bit {}", self.class.pointer_size() * 8, self.name)
    }

    /// The ld.so soname (the interpreter's file name).
    pub fn interpreter_soname(&self) -> &'static str {
        self.interpreter
            .rsplit_once('/')
            .map_or(self.interpreter, |(_, name)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocation_classes_from_the_table_match_the_lists() {
        for arch in ALL {
            let rt = arch.relocs;
            let classes = rt.classes();
            for t in 0..5000 {
                assert_eq!(classes.of(t), rt.class(t), "{} type {t}", arch.name);
            }
            assert_eq!(classes.of(u32::MAX), RelocClass::Symbol);
            assert_eq!(classes.of(rt.relative[0]), RelocClass::NoSymbol);
            assert_eq!(classes.of(rt.tpoff[0]), RelocClass::Tpoff);
            assert_eq!(classes.of(rt.jump_slot), RelocClass::JumpSlot);
        }
        assert_eq!(X86_64.relocs.classes().of(36), RelocClass::Tlsdesc);
        assert_eq!(X86_64.relocs.classes().of(1), RelocClass::Symbol);
    }

    #[test]
    fn arches_are_distinct_and_found_by_header() {
        for a in ALL {
            let id = Identity {
                class: a.class,
                endianness: a.endianness,
                machine_id: a.machine,
                machine: a.name.into(),
                os_abi: String::new(),
                os_abi_id: 0,
                kind: super::super::ObjectKind::SharedObject,
                interpreter: None,
                libc: super::super::Libc::Glibc,
            };
            assert_eq!(Arch::of(&id).unwrap().name, a.name);
        }
        assert_eq!(I386.interpreter_soname(), "ld-linux.so.2");
        assert_eq!(AARCH64.describe(), "64-bit aarch64");
    }
}
