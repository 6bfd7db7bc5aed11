#!/usr/bin/env bash
# plugctl benchmarks, one command from anywhere:
#
#     bash bench/run.sh
#
# 1. builds plugctl (cargo build --release --locked),
# 2. makes sure the fixture corpus exists (python3 tests/fixtures/build.py; a
#    no-op when it is up to date),
# 3. runs (a) inspect of the big Go plugin vs readelf vs go version -m,
#    (b) plugctl's prediction for big host x big plugin vs really loading it
#    vs building a harness and loading, (c) dependency-tree resolution of every
#    ELF shared object under /usr/lib/x86_64-linux-gnu vs ldd, (d) peak memory,
# 4. keeps the raw hyperfine / time exports in bench/results/ and writes
#    bench/RESULTS.md (bench/summarize.py) with the machine description.
#
# A step that fails is recorded (bench/results/status.tsv, RESULTS.md) and the
# others still run. Environment: PLUGCTL_FIXTURE_DIR (default target/fixtures),
# PLUGCTL_CACHE_DIR (toolchains, as build.py), BENCH_LIB_DIR (default
# /usr/lib/x86_64-linux-gnu). Needs hyperfine and GNU time (installed with
# apt-get when missing and running as root).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RES="$ROOT/bench/results"
rm -rf "$RES"
mkdir -p "$RES"
echo "start $(cat /proc/loadavg)" >"$RES/loadavg.txt"
STATUS="$RES/status.tsv"
: >"$STATUS"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

note() { # step status detail
    printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$STATUS"
    echo "== $1: $2${3:+ ($3)}" >&2
}

# --- tools --------------------------------------------------------------------
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
command -v readelf >/dev/null || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing ${need[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        echo "bench/run.sh: missing ${need[*]} (run as root to install them)" >&2
        exit 1
    fi
fi

# --- plugctl --------------------------------------------------------------------
PLUGCTL="$ROOT/target/release/plugctl"
if cargo build --release --locked >"$RES/cargo-build.log" 2>&1; then
    note build ok "cargo build --release --locked"
elif [ -x "$PLUGCTL" ]; then
    note build STALE "cargo build failed (see results/cargo-build.log); benchmarking the existing binary from $(date -u -r "$PLUGCTL" +%FT%TZ)"
else
    note build FAILED "cargo build failed and there is no target/release/plugctl"
    python3 bench/summarize.py
    exit 1
fi

# --- fixtures -------------------------------------------------------------------
FX=$(realpath -m "${PLUGCTL_FIXTURE_DIR:-$ROOT/target/fixtures}")
if python3 tests/fixtures/build.py --out "$FX" >"$RES/fixtures.log" 2>&1; then
    note fixtures ok "$(tail -1 "$RES/fixtures.log")"
else
    note fixtures FAILED "see results/fixtures.log"
    python3 bench/summarize.py
    exit 1
fi
art() { # artifact id -> absolute path
    python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))
print(next(a["path"] for a in m["artifacts"] if a["id"] == sys.argv[2]))' "$FX/manifest.json" "$1" |
        sed "s|^|$FX/|"
}
BIG_PLUGIN=$(art go/plugin/1.26.6/llm-big)
BIG_HOST=$(art go/host/1.26.6/big)
CACHE=${PLUGCTL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/plugctl}
GO="$CACHE/toolchains/go1.26.6/go/bin/go"
# The environment build.py builds with (only the go commands read it).
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off GOWORK=off GOENV=off \
    GOCACHE="$CACHE/gocache" GOPATH="$CACHE/gopath" CGO_ENABLED=1 CC=gcc
{
    echo "big_plugin=$BIG_PLUGIN"
    echo "big_plugin_size=$(stat -c %s "$BIG_PLUGIN")"
    echo "big_host=$BIG_HOST"
    echo "big_host_size=$(stat -c %s "$BIG_HOST")"
    echo "go=$GO"
    echo "plugctl=$PLUGCTL"
} >"$RES/inputs.txt"

# --- (a) reading the big plugin -------------------------------------------------
"$PLUGCTL" inspect --format json "$BIG_PLUGIN" >"$RES/a-plugctl.json" 2>"$RES/a-plugctl.stderr"
echo "$?" >"$RES/a-plugctl.exit"
if hyperfine --warmup 3 -N -i \
    --export-markdown "$RES/a-inspect.md" --export-json "$RES/a-inspect.json" \
    -n "plugctl inspect --format json" "$PLUGCTL inspect --format json $BIG_PLUGIN" \
    -n "readelf -W -d -V --dyn-syms -l" "readelf -W -d -V --dyn-syms -l $BIG_PLUGIN" \
    -n "go version -m" "$GO version -m $BIG_PLUGIN" \
    >"$RES/a-inspect.log" 2>&1; then
    note a ok "inspect vs readelf vs go version -m"
else
    note a FAILED "see results/a-inspect.log"
fi

# --- (b) will the big plugin load into the big host? ---------------------------
"$PLUGCTL" inspect --format json --host "$BIG_HOST" "$BIG_PLUGIN" >"$RES/b-plugctl.json" 2>"$RES/b-plugctl.stderr"
echo "$?" >"$RES/b-plugctl.exit"
"$BIG_HOST" "$BIG_PLUGIN" >"$RES/b-load.out" 2>&1
echo "$?" >"$RES/b-load.exit"
# The harness is built from the fixture's own copy of the loadhost source (the
# same directory, so the package hashes match the plugin's), into a temp dir.
HARNESS_SRC="$FX/work/src/loadhost"
BUILD_AND_LOAD="cd $HARNESS_SRC && $GO build -tags=bighost -o $TMP/harness . && $TMP/harness $BIG_PLUGIN"
bash -c "$BUILD_AND_LOAD" >"$RES/b-harness.out" 2>&1
echo "$?" >"$RES/b-harness.exit"
if hyperfine --warmup 3 -i \
    --export-markdown "$RES/b-host.md" --export-json "$RES/b-host.json" \
    -n "plugctl inspect --host" "$PLUGCTL inspect --host $BIG_HOST $BIG_PLUGIN" \
    -n "load (big host runs plugin.Open)" "$BIG_HOST $BIG_PLUGIN" \
    -n "go build harness + load" "$BUILD_AND_LOAD" \
    >"$RES/b-host.log" 2>&1; then
    note b ok "inspect --host vs load vs build+load"
else
    note b FAILED "see results/b-host.log"
fi

# --- (c) dependency trees of every shared object -------------------------------
LIB_DIR=${BENCH_LIB_DIR:-/usr/lib/x86_64-linux-gnu}
LIST="$RES/c-files.txt"
find "$LIB_DIR" -type f \( -name '*.so' -o -name '*.so.*' \) -print0 | sort -z |
    python3 -c 'import sys
for p in sys.stdin.buffer.read().split(b"\0"):
    if p:
        try:
            with open(p, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    sys.stdout.buffer.write(p + b"\n")
        except OSError:
            pass' >"$LIST"
# One chunked pass first, to check the output (counts kept in c-check.json;
# the 4 MB of JSON is not). xargs exits 123 when a chunk exits 1 (findings).
xargs -d '\n' -n 256 -a "$LIST" "$PLUGCTL" inspect --format json --tree \
    >"$TMP/c-plugctl.jsonl" 2>"$RES/c-plugctl.stderr"
echo "$?" >"$RES/c-plugctl.exit"
python3 bench/summarize.py --tree-check "$TMP/c-plugctl.jsonl" >"$RES/c-check.json"
if hyperfine --warmup 1 --runs 5 -i \
    --export-markdown "$RES/c-tree.md" --export-json "$RES/c-tree.json" \
    -n "plugctl inspect --format json --tree (xargs -n 256)" \
    "xargs -d '\n' -n 256 -a $LIST $PLUGCTL inspect --format json --tree" \
    -n "ldd (one per file)" \
    "while IFS= read -r f; do ldd \"\$f\"; done < $LIST" \
    >"$RES/c-tree.log" 2>&1; then
    note c ok "$(wc -l <"$LIST") ELF files under $LIB_DIR"
else
    note c FAILED "see results/c-tree.log"
fi

# --- (d) peak memory ---------------------------------------------------------------
peak() { # name command... : 5 runs of /usr/bin/time -v, one "name kb" line each
    local name=$1
    shift
    for _ in 1 2 3 4 5; do
        /usr/bin/time -v "$@" >/dev/null 2>"$TMP/time.txt"
        printf '%s\t%s\n' "$name" "$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/time.txt")"
    done >>"$RES/d-peak-rss.tsv"
}
: >"$RES/d-peak-rss.tsv"
peak "plugctl inspect --format json" "$PLUGCTL" inspect --format json "$BIG_PLUGIN"
peak "plugctl inspect --host" "$PLUGCTL" inspect --host "$BIG_HOST" "$BIG_PLUGIN"
peak "readelf -W -d -V --dyn-syms -l" readelf -W -d -V --dyn-syms -l "$BIG_PLUGIN"
peak "go version -m" "$GO" version -m "$BIG_PLUGIN"
peak "load (big host runs plugin.Open)" "$BIG_HOST" "$BIG_PLUGIN"
if grep -qP '\t\d+$' "$RES/d-peak-rss.tsv"; then
    note d ok "/usr/bin/time -v, 5 runs each"
else
    note d FAILED "no figures from /usr/bin/time"
fi

echo "end $(cat /proc/loadavg)" >>"$RES/loadavg.txt"
python3 bench/summarize.py
echo "wrote bench/RESULTS.md" >&2
