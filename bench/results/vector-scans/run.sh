#!/usr/bin/env bash
# bench/results/vector-scans/results.jsonl: every reduction at D = 1000 with loops on and off (the
# unrolled kernels are declined there: over the native instruction limit), then at the largest D
# the unrolled kernel fits (900; ArgKMin with K = 3: 170) with loops on and off. One process each.
cd "$(dirname "$0")/../../.."
out=bench/results/vector-scans/results.jsonl
: > "$out"
one() {
  /usr/bin/time -f '{"cpu_user_s":%U,"cpu_sys_s":%S,"wall_s":%e}' -o /tmp/vscans-time.json \
    timeout 900 node --import tsx bench/results/vector-scans/first-call.mts "$@" > /tmp/vscans-line.json
  echo "$(cat /tmp/vscans-line.json) $(cat /tmp/vscans-time.json)" | tee -a "$out"
}
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"
for red in Min ArgMin MinArgMin ArgKMin LogSumExp; do one "$red" on 1000; one "$red" off 1000; done
for red in Min ArgMin MinArgMin ArgKMin LogSumExp; do
  D=900; [ "$red" = ArgKMin ] && D=170
  one "$red" on $D; one "$red" off $D
done
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"
