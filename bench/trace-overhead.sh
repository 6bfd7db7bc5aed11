#!/usr/bin/env bash
# Overhead of `plugctl load --trace` vs `plugctl load` on the same plugin, in one
# hyperfine run (as root). Usage: bench/trace-overhead.sh PLUGIN.so [PLUGCTL]
# A pause between runs lets the previous run's tracepoint detachment (an RCU grace
# period per tracepoint, done by a helper after plugctl exits) finish first.
# -i: a plugin whose lifecycle fails (exit 1) is still a load to time.
set -euo pipefail
plugin="${1:?usage: bench/trace-overhead.sh PLUGIN.so [PLUGCTL]}"
plugctl="${2:-target/release/plugctl}"
hyperfine -N -i --warmup 2 --runs "${RUNS:-15}" --prepare 'sleep 0.5' \
  --export-json "${OUT:-/tmp/trace-overhead.json}" \
  "$plugctl load --format json $plugin" \
  "$plugctl load --trace --format json $plugin"
python3 - "${OUT:-/tmp/trace-overhead.json}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base, traced = r[0]["mean"], r[1]["mean"]
print(f"load {base*1000:.1f} ms, load --trace {traced*1000:.1f} ms: +{(traced/base-1)*100:.1f} %")
PY
