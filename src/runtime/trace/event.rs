//! The events `bpf/trace.bpf.c` writes into its ring buffer, decoded from their bytes
//! (layouts in `bpf/plugctl_bpf.h`: a 24-byte head, then the kind's fields).

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC.
    pub ts: u64,
    pub tgid: u32,
    pub tid: u32,
    pub what: What,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// A system call returned.
    Syscall {
        nr: i64,
        ret: i64,
    },
    /// A system call returned whose argument was read at its entry: a path, a socket
    /// address, or the bytes of a report line (write to fd 3).
    Data {
        nr: i64,
        ret: i64,
        data: Vec<u8>,
    },
    /// An `execve` entered (its memory is gone once it succeeds).
    ExecCall {
        nr: i64,
        path: Vec<u8>,
    },
    PageAlloc {
        order: u32,
    },
    Fork {
        parent: u32,
        child: u32,
    },
    Exec {
        pid: u32,
    },
    Exit {
        pid: u32,
        group_dead: bool,
    },
    Signal {
        sig: i32,
        to: u32,
    },
    GoPanic {
        goid: u64,
        value: GoValue,
    },
    GoFatalPanic {
        goid: u64,
    },
    GoThrow {
        goid: u64,
        text: String,
    },
}

/// What a Go panic value was, as far as the uprobe could read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoValue {
    String(String),
    /// An error whose first field is its message (errors.New, fmt.Errorf).
    Error(String),
    Int(i64),
    /// Another kind (Go's `reflect.Kind` number): not read.
    Other(u8),
    Unreadable,
}

const EV_SYSCALL: u32 = 1;
const EV_DATA: u32 = 2;
const EV_EXEC_CALL: u32 = 3;
const EV_PAGE_ALLOC: u32 = 4;
const EV_FORK: u32 = 5;
const EV_EXEC: u32 = 6;
const EV_EXIT: u32 = 7;
const EV_SIGNAL: u32 = 8;
const EV_GO_PANIC: u32 = 9;
const EV_GO_FATALPANIC: u32 = 10;
const EV_GO_THROW: u32 = 11;

const HEAD: usize = 24;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn i64_at(b: &[u8], at: usize) -> Option<i64> {
    u64_at(b, at).map(|v| v as i64)
}

/// `len` bytes of the data area starting at `at` (clamped to what is there).
fn bytes_at(b: &[u8], at: usize, len: u32) -> Vec<u8> {
    let start = at.min(b.len());
    let end = (at + len as usize).min(b.len());
    b[start..end].to_vec()
}

/// Decodes one ring-buffer record; `None` for a record too short or of an unknown kind.
pub fn decode(b: &[u8]) -> Option<Event> {
    let ts = u64_at(b, 0)?;
    let kind = u32_at(b, 8)?;
    let tgid = u32_at(b, 12)?;
    let tid = u32_at(b, 16)?;
    let a = i64_at(b, HEAD);
    let r = i64_at(b, HEAD + 8);
    let what = match kind {
        EV_SYSCALL => What::Syscall { nr: a?, ret: r? },
        EV_DATA => What::Data {
            nr: a?,
            ret: r?,
            data: bytes_at(b, HEAD + 24, u32_at(b, HEAD + 16)?),
        },
        EV_EXEC_CALL => What::ExecCall {
            nr: a?,
            path: bytes_at(b, HEAD + 24, u32_at(b, HEAD + 16)?),
        },
        EV_PAGE_ALLOC => What::PageAlloc { order: a? as u32 },
        EV_FORK => What::Fork {
            parent: a? as u32,
            child: r? as u32,
        },
        EV_EXEC => What::Exec { pid: a? as u32 },
        EV_EXIT => What::Exit {
            pid: a? as u32,
            group_dead: r? != 0,
        },
        EV_SIGNAL => What::Signal {
            sig: a? as i32,
            to: r? as u32,
        },
        EV_GO_PANIC | EV_GO_FATALPANIC | EV_GO_THROW => {
            let goid = u64_at(b, HEAD)?;
            let int_value = i64_at(b, HEAD + 8)?;
            let value_kind = u32_at(b, HEAD + 16)?;
            let text = String::from_utf8_lossy(&bytes_at(b, HEAD + 24, u32_at(b, HEAD + 20)?))
                .into_owned();
            match kind {
                EV_GO_PANIC => What::GoPanic {
                    goid,
                    value: match value_kind {
                        1 => GoValue::String(text),
                        2 => GoValue::Error(text),
                        3 => GoValue::Int(int_value),
                        4 => GoValue::Other(int_value as u8),
                        _ => GoValue::Unreadable,
                    },
                },
                EV_GO_FATALPANIC => What::GoFatalPanic { goid },
                _ => What::GoThrow { goid, text },
            }
        }
        _ => return None,
    };
    Some(Event {
        ts,
        tgid,
        tid,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(kind: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(7u64.to_ne_bytes());
        b.extend(kind.to_ne_bytes());
        b.extend(10u32.to_ne_bytes());
        b.extend(11u32.to_ne_bytes());
        b.extend(0u32.to_ne_bytes());
        b
    }

    #[test]
    fn decodes_a_data_event_and_refuses_short_ones() {
        let mut b = head(EV_DATA);
        b.extend(257i64.to_ne_bytes());
        b.extend((-2i64).to_ne_bytes());
        b.extend(4u32.to_ne_bytes());
        b.extend(0u32.to_ne_bytes());
        b.extend(b"/etc\0\0\0\0");
        let e = decode(&b).unwrap();
        assert_eq!(
            e.what,
            What::Data {
                nr: 257,
                ret: -2,
                data: b"/etc".to_vec()
            }
        );
        assert_eq!((e.ts, e.tgid, e.tid), (7, 10, 11));
        assert_eq!(decode(&b[..20]), None);
        assert_eq!(decode(&head(99)), None);
    }

    #[test]
    fn decodes_a_go_panic_with_a_string_value() {
        let mut b = head(EV_GO_PANIC);
        b.extend(42u64.to_ne_bytes());
        b.extend(0i64.to_ne_bytes());
        b.extend(1u32.to_ne_bytes());
        b.extend(4u32.to_ne_bytes());
        b.extend(b"boom");
        assert_eq!(
            decode(&b).unwrap().what,
            What::GoPanic {
                goid: 42,
                value: GoValue::String("boom".into())
            }
        );
    }
}
