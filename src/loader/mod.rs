//! `loader`: emulates glibc's ld.so on a set of artifacts: search, versions, symbols, static TLS.
