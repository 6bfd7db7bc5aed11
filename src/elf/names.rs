//! Readable names for ELF constants that plugctl shows to people.

use object::elf;

/// `e_machine` → the name people use (`x86-64`, `aarch64`, …).
pub fn machine(id: u16) -> String {
    let name = match id {
        0 => "none",
        2 => "sparc",
        3 => "i386",
        8 => "mips",
        20 => "ppc",
        21 => "ppc64",
        22 => "s390x",
        40 => "arm",
        43 => "sparcv9",
        50 => "ia64",
        62 => "x86-64",
        183 => "aarch64",
        243 => "riscv",
        258 => "loongarch",
        _ => return format!("machine {id}"),
    };
    name.to_string()
}

/// `EI_OSABI` → name.
pub fn os_abi(id: u8) -> String {
    let name = match id {
        0 => "SYSV",
        3 => "GNU/Linux",
        6 => "Solaris",
        9 => "FreeBSD",
        12 => "OpenBSD",
        _ => return format!("OS/ABI {id}"),
    };
    name.to_string()
}

const DT_FLAGS_NAMES: &[(u64, &str)] = &[
    (elf::DF_ORIGIN.0, "ORIGIN"),
    (elf::DF_SYMBOLIC.0, "SYMBOLIC"),
    (elf::DF_TEXTREL.0, "TEXTREL"),
    (elf::DF_BIND_NOW.0, "BIND_NOW"),
    (elf::DF_STATIC_TLS.0, "STATIC_TLS"),
];

const DT_FLAGS_1_NAMES: &[(u64, &str)] = &[
    (elf::DF_1_NOW.0, "NOW"),
    (elf::DF_1_GLOBAL.0, "GLOBAL"),
    (elf::DF_1_GROUP.0, "GROUP"),
    (elf::DF_1_NODELETE.0, "NODELETE"),
    (elf::DF_1_LOADFLTR.0, "LOADFLTR"),
    (elf::DF_1_INITFIRST.0, "INITFIRST"),
    (elf::DF_1_NOOPEN.0, "NOOPEN"),
    (elf::DF_1_ORIGIN.0, "ORIGIN"),
    (elf::DF_1_DIRECT.0, "DIRECT"),
    (elf::DF_1_INTERPOSE.0, "INTERPOSE"),
    (elf::DF_1_NODEFLIB.0, "NODEFLIB"),
    (elf::DF_1_NODUMP.0, "NODUMP"),
    (elf::DF_1_PIE.0, "PIE"),
];

/// Names of the bits set in `DT_FLAGS` and `DT_FLAGS_1`, without repeats.
pub fn dynamic_flags(flags: u64, flags_1: u64) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    };
    for (bit, name) in DT_FLAGS_NAMES {
        if flags & *bit != 0 {
            push(name);
        }
    }
    for (bit, name) in DT_FLAGS_1_NAMES {
        if flags_1 & *bit != 0 {
            push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_named_once() {
        let names = dynamic_flags(
            elf::DF_ORIGIN.0 | elf::DF_STATIC_TLS.0,
            elf::DF_1_ORIGIN.0 | elf::DF_1_NOW.0,
        );
        assert_eq!(names, ["ORIGIN", "STATIC_TLS", "NOW"]);
    }

    #[test]
    fn unknown_machines_keep_their_number() {
        assert_eq!(machine(9999), "machine 9999");
    }
}
