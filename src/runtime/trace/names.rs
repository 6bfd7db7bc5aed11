//! Names for what the kernel reports as numbers: errno values and socket addresses.

/// `ENOENT` for 2; `errno N` for one without a name here.
pub fn errno(e: i64) -> String {
    let name = match e as i32 {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::EDEADLK => "EDEADLK",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENODATA => "ENODATA",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::ECANCELED => "ECANCELED",
        512 => "ERESTARTSYS",
        513 => "ERESTARTNOINTR",
        514 => "ERESTARTNOHAND",
        516 => "ERESTART_RESTARTBLOCK",
        other => return format!("errno {other}"),
    };
    name.to_string()
}

/// `OK` for a call that succeeded, else its errno's name.
pub fn result(ret: i64) -> String {
    if !(-4095..0).contains(&ret) {
        "OK".into()
    } else {
        errno(-ret)
    }
}

/// A `struct sockaddr` as read at a call's entry: (family, address).
pub fn sockaddr(b: &[u8]) -> (String, String) {
    let Some(family) = b.get(..2).map(|f| u16::from_ne_bytes([f[0], f[1]])) else {
        return ("unknown".into(), String::new());
    };
    let port = || b.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]]));
    match family as i32 {
        libc::AF_INET => {
            let addr = b
                .get(4..8)
                .map(|a| std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string())
                .unwrap_or_default();
            ("inet".into(), format!("{addr}:{}", port().unwrap_or(0)))
        }
        libc::AF_INET6 => {
            let addr = b
                .get(8..24)
                .and_then(|a| <[u8; 16]>::try_from(a).ok())
                .map(|a| std::net::Ipv6Addr::from(a).to_string())
                .unwrap_or_default();
            ("inet6".into(), format!("[{addr}]:{}", port().unwrap_or(0)))
        }
        libc::AF_UNIX => {
            let path = b.get(2..).unwrap_or_default();
            let text = match path.first() {
                Some(0) => {
                    let name = &path[1..];
                    let end = name.iter().position(|c| *c == 0).unwrap_or(name.len());
                    format!("@{}", String::from_utf8_lossy(&name[..end]))
                }
                _ => {
                    let end = path.iter().position(|c| *c == 0).unwrap_or(path.len());
                    String::from_utf8_lossy(&path[..end]).into_owned()
                }
            };
            ("unix".into(), text)
        }
        libc::AF_NETLINK => ("netlink".into(), String::new()),
        libc::AF_UNSPEC => ("unspec".into(), String::new()),
        other => (format!("family {other}"), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_results_and_addresses() {
        assert_eq!(result(3), "OK");
        assert_eq!(result(-2), "ENOENT");
        assert_eq!(result(-111), "ECONNREFUSED");
        let mut v4 = vec![0u8; 16];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&9u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(sockaddr(&v4), ("inet".into(), "127.0.0.1:9".into()));
        let mut un = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        un.extend(b"\0abstract\0");
        assert_eq!(sockaddr(&un), ("unix".into(), "@abstract".into()));
    }
}
