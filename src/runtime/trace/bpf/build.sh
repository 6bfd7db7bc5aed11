#!/bin/sh
# Regenerates src/runtime/trace/bpf/trace.bpf.o, the committed eBPF object of
# `plugctl load --trace` (a fresh machine without clang still builds plugctl).
# Usage: src/runtime/trace/bpf/build.sh [OUT]   (tests/trace_bpf_object.rs checks it.)
# Deterministic: no debug info but BTF (needed for the .maps section), relative paths.
set -eu
cd "$(dirname "$0")"
out="${1:-trace.bpf.o}"
"${CLANG:-clang}" -O2 -g -target bpf -fdebug-prefix-map="$PWD"=. -fdebug-compilation-dir=. \
  -Wall -Werror -c trace.bpf.c -o "$out.tmp"
# Keep .BTF/.BTF.ext, drop the DWARF sections.
"${LLVM_STRIP:-llvm-strip}" -g "$out.tmp"
mv "$out.tmp" "$out"
