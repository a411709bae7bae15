#!/usr/bin/env bash
# bench/results/vstate-jswasm/results.jsonl: js and wasm, loops on and off, one process each.
cd "$(dirname "$0")/../../.."
out=bench/results/vstate-jswasm/results.jsonl
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"
for b in js wasm; do for m in on off; do KEOPS_TS_THREADS=1 node --import tsx bench/results/vstate-jswasm/first-call.mts $b $m | tee -a "$out"; done; done
