#!/usr/bin/env bash
# The speed goals of issue 16, measured in ONE hyperfine run so every ratio sees the
# same machine load:
#
#     bash bench/ratios.sh            # prints the table and the ratios
#     bash bench/ratios.sh --record   # and writes them into bench/RESULTS.md
#
#   inspect --format json BIG.so          vs readelf -W -d -V --dyn-syms -l BIG.so  (goal >= 12x faster)
#   inspect --format json BIG.so          vs go version -m BIG.so                  (goal <= 2x)
#     twice: back to back (each command repeated, its caches warm: the alternative's best
#     case), and alternating (each run of one prepared by a run of the other, as when a
#     CI job runs both once)
#   inspect --format json --host H BIG.so vs inspect --format json BIG.so           (goal <= 1.5x)
#   inspect -r LIBDIR --format jsonl      files per second                          (goal >= 1500/s)
#
# BIG.so is the largest fixture plugin (llm-big, go1.26.6), H the big loadhost. Uses the
# release binary (built here), PLUGCTL_FIXTURE_DIR (default target/fixtures),
# BENCH_LIB_DIR (default /usr/lib/x86_64-linux-gnu), BENCH_RUNS (default 40).
# Prints the load average before and after: other processes share the cores.
set -euo pipefail
RECORD=${1:-}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
FX=${PLUGCTL_FIXTURE_DIR:-$ROOT/target/fixtures}
LIB=${BENCH_LIB_DIR:-/usr/lib/x86_64-linux-gnu}
RUNS=${BENCH_RUNS:-40}
BIG=$FX/go/plugins/llm-big-1.26.6-default.so
HOST=$FX/go/hosts/loadhost-1.26.6-big
GO=${PLUGCTL_CACHE_DIR:-$HOME/.cache/plugctl}/toolchains/go1.26.6/go/bin/go
for f in "$BIG" "$HOST" "$GO"; do
    [ -e "$f" ] || { echo "bench/ratios.sh: missing $f (run python3 tests/fixtures/build.py)" >&2; exit 1; }
done
command -v hyperfine >/dev/null || { echo "bench/ratios.sh: hyperfine is not installed" >&2; exit 1; }
cargo build --release --locked -q
P=$ROOT/target/release/plugctl
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before: $LOAD_BEFORE; $(nproc) cores"
hyperfine -N -w 5 -r "$RUNS" --export-json "$OUT/single.json" \
    -n inspect "$P inspect --format json $BIG" \
    -n inspect-host "$P inspect --format json --host $HOST $BIG" \
    -n readelf "readelf -W -d -V --dyn-syms -l $BIG" \
    -n go-version-m "$GO version -m $BIG" >/dev/null
hyperfine -N -w 5 -r "$RUNS" --export-json "$OUT/alternating.json" \
    -n inspect --prepare "$GO version -m $BIG" "$P inspect --format json $BIG" \
    -n go-version-m --prepare "$P inspect --format json $BIG" "$GO version -m $BIG" >/dev/null
FILES=$("$P" inspect -r "$LIB" --format jsonl 2>/dev/null | grep -c '"path"' || true)
hyperfine -N -i -w 1 -r 5 --export-json "$OUT/batch.json" \
    -n batch "$P inspect -r $LIB --format jsonl" >/dev/null
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$OUT/single.json" "$OUT/batch.json" "$FILES" "$OUT/alternating.json" >"$OUT/ratios.txt" <<'EOF'
import json, sys
single = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
batch = json.load(open(sys.argv[2]))["results"][0]
files = int(sys.argv[3])
alternating = {r["command"]: r for r in json.load(open(sys.argv[4]))["results"]}
# The mean takes every outlier of a shared machine; the median is printed beside it.
ms = lambda name: single[name]["mean"] * 1000
med = lambda name: single[name]["median"] * 1000
cpu = lambda name: (single[name]["user"] + single[name]["system"]) * 1000
print(f"{'command':<14} {'wall ms':>8} {'median':>8} {'cpu ms':>8}")
for name in ("inspect", "inspect-host", "readelf", "go-version-m"):
    print(f"{name:<14} {ms(name):8.2f} {med(name):8.2f} {cpu(name):8.2f}")
pairs = [
    ("readelf / inspect", "readelf", "inspect", ">= 12"),
    ("inspect / go version -m", "inspect", "go-version-m", "<= 2"),
    ("inspect --host / inspect", "inspect-host", "inspect", "<= 1.5"),
]
print(f"\n{'ratio':<26} {'wall':>6} {'median':>6} {'cpu':>6}  goal")
for name, a, b, goal in pairs:
    print(f"{name:<26} {ms(a) / ms(b):6.2f} {med(a) / med(b):6.2f} {cpu(a) / cpu(b):6.2f}  {goal}")
alt = lambda name, key: alternating[name][key] * 1000
print(f"{'  alternating runs':<26} {alt('inspect', 'mean') / alt('go-version-m', 'mean'):6.2f} "
      f"{alt('inspect', 'median') / alt('go-version-m', 'median'):6.2f} {'':>6}  <= 2"
      f"   (inspect {alt('inspect', 'median'):.2f} ms, go version -m {alt('go-version-m', 'median'):.2f} ms, medians)")
rate = files / batch["mean"]
print(f"\nbatch: {files} ELF files in {batch['mean']:.2f} s = {rate:.0f} files/s (goal >= 1500)")
EOF
cat "$OUT/ratios.txt"
if [ "$RECORD" = --record ]; then
    python3 - "$ROOT/bench/RESULTS.md" "$OUT/ratios.txt" "$LOAD_BEFORE" "$LOAD_AFTER" "$(git rev-parse --short HEAD)" "$RUNS" <<'EOF'
import sys, time
from pathlib import Path
results, text, before, after, commit, runs = Path(sys.argv[1]), Path(sys.argv[2]).read_text(), *sys.argv[3:]
begin, end = "<!-- ratios:begin -->", "<!-- ratios:end -->"
block = "\n".join([
    begin,
    "## Issue 16 speed ratios (`bash bench/ratios.sh --record`)",
    "",
    f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, plugctl {commit}, one hyperfine run "
    f"({runs} runs each, 5 warm-up); load average before {before}, after {after} on 2 cores "
    "shared with other work: wall means take every outlier; medians and CPU times (user+sys) "
    "are the steadier figures.",
    "",
    "```text",
    text.rstrip(),
    "```",
    end,
])
old = results.read_text() if results.exists() else "# plugctl benchmarks\n"
if begin in old and end in old:
    new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
else:
    new = old.rstrip("\n") + "\n\n" + block + "\n"
results.write_text(new)
print(f"recorded in {results}")
EOF
fi
