#!/usr/bin/env bash
# load --wasm vs a native plugin, for the CPU-bound fixture tests/fixtures/src/wasm/cpu:
#
#     bash bench/wasm.sh [RUNS]        (default 3 runs of each; needs go1.26.6 in plugctl's cache)
#
# Measures (a) the build: cold (an empty GOCACHE) and warm, GOOS=wasip1 -buildmode=c-shared
# through plugctl vs `go build -buildmode=plugin`; (b) the WASM module's compile and
# instantiation time in the interpreter (wasmi) and its fuel; (c) Run's time in the
# interpreter vs Run's time in the native plugin loaded by plugctl's Go harness, and the
# slowdown factor; (d) that the fuel is the same in every run. Prints a Markdown table
# and writes bench/results-wasm.json. Uses target/debug/plugctl (wasmi is compiled with
# opt-level 3 in the dev profile, see Cargo.toml) unless PLUGCTL is set.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${1:-3}
PLUGCTL=${PLUGCTL:-$ROOT/target/debug/plugctl}
[ -x "$PLUGCTL" ] || cargo build --locked
CACHE=${PLUGCTL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/plugctl}
GO=$CACHE/toolchains/go1.26.6/go/bin/go
[ -x "$GO" ] || { echo "bench/wasm.sh: $GO missing (plugctl load --wasm --go 1.26.6 installs it)" >&2; exit 2; }
PKG=tests/fixtures/src/wasm/cpu
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

ms() { python3 -c 'import sys,time; print(round((time.time()-float(sys.argv[1]))*1000))' "$1"; }

# (a) cold builds, each with an empty build cache.
t=$(date +%s.%N)
GOCACHE=$WORK/cold-wasm "$PLUGCTL" load --wasm --go 1.26.6 --format json "$PKG" >"$WORK/cold-wasm.json" 2>/dev/null || true
t=$(date +%s.%N)
(cd tests/fixtures/src/wasm && env -u GOFLAGS GOTOOLCHAIN=local GOFLAGS=-mod=mod GOWORK=off GOCACHE=$WORK/cold-native \
    "$GO" build -buildmode=plugin -o "$WORK/cpu.so" ./cpu)
native_cold_ms=$(ms "$t")
t=$(date +%s.%N)
(cd tests/fixtures/src/wasm && env GOTOOLCHAIN=local GOFLAGS=-mod=mod GOWORK=off GOCACHE=$WORK/cold-native \
    "$GO" build -buildmode=plugin -o "$WORK/cpu2.so" ./cpu)
native_warm_ms=$(ms "$t")
chmod -R u+w "$WORK" 2>/dev/null || true

# (b, c) warm runs.
for i in $(seq 1 "$RUNS"); do
    "$PLUGCTL" load --wasm --go 1.26.6 --format json "$PKG" >"$WORK/wasm-$i.json" 2>/dev/null || true
    "$PLUGCTL" load --format json "$WORK/cpu.so" >"$WORK/native-$i.json" 2>/dev/null || true
done

python3 - "$WORK" "$RUNS" "$native_cold_ms" "$native_warm_ms" <<'PY'
import json, statistics, sys
work, runs, native_cold, native_warm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def layer(doc, name):
    return next(l for l in doc["artifacts"][0]["layers"] if l["layer"] == name)
def phase(doc, name):
    return next(p for p in layer(doc, "lifecycle")["details"]["phases"] if p["phase"] == name)
cold = json.load(open(f"{work}/cold-wasm.json"))
w = [json.load(open(f"{work}/wasm-{i}.json")) for i in range(1, runs + 1)]
n = [json.load(open(f"{work}/native-{i}.json")) for i in range(1, runs + 1)]
med = lambda xs: statistics.median(xs)
wd = [layer(d, "wasm")["details"] for d in w]
wasm_run = med([phase(d, "run")["ms"] for d in w])
native_run = med([phase(d, "run")["ms"] for d in n])
fuels = sorted({(x["instantiate_fuel"], phase(d, "run")["fuel"]) for x, d in zip(wd, w)})
out = {
    "runs": runs,
    "build_cold_ms": {"wasm": layer(cold, "wasm")["details"]["build_ms"], "native_plugin": native_cold},
    "build_warm_ms": {"wasm": med([x["build_ms"] for x in wd]), "native_plugin": native_warm},
    "module_bytes": wd[0]["module_bytes"],
    "compile_ms": med([x["compile_ms"] for x in wd]),
    "instantiate_ms": med([x["instantiate_ms"] for x in wd]),
    "instantiate_fuel": wd[0]["instantiate_fuel"],
    "run_ms": {"wasm": wasm_run, "native": native_run},
    "run_fuel": phase(w[0], "run")["fuel"],
    "slowdown": round(wasm_run / native_run, 1) if native_run else None,
    "fuel_identical_across_runs": len(fuels) == 1,
    "same_output": len({layer(d, "lifecycle")["details"]["stdout"] for d in w}) == 1,
}
json.dump(out, open("bench/results-wasm.json", "w"), indent=2)
print("| measure | WASM (wasmi) | native plugin | factor |\n| --- | --- | --- | --- |")
print(f"| build, cold cache | {out['build_cold_ms']['wasm']:.0f} ms | {native_cold} ms | {out['build_cold_ms']['wasm']/native_cold:.1f}x |")
print(f"| build, warm cache | {out['build_warm_ms']['wasm']:.0f} ms | {native_warm} ms | |")
print(f"| module compile (wasmi) | {out['compile_ms']:.0f} ms | | |")
print(f"| instantiate (_initialize) | {out['instantiate_ms']:.0f} ms, {out['instantiate_fuel']} fuel | | |")
print(f"| Run (median of {runs}) | {wasm_run:.1f} ms, {out['run_fuel']} fuel | {native_run:.1f} ms | {out['slowdown']}x |")
print(f"\nfuel identical across runs: {out['fuel_identical_across_runs']}; same stdout: {out['same_output']}")
PY
