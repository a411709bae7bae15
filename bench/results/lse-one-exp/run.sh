#!/usr/bin/env bash
# bench/results/lse-one-exp/results.jsonl: the log-sum-exp family's warm runs before (the parent of
# the commit that made the generic update one-exp) and after, in alternating fresh processes,
# three rounds per backend. The "before" checkout is a temporary git worktree.
set -e
cd "$(dirname "$0")/../../.."
out=bench/results/lse-one-exp/results.jsonl
before=$(git rev-parse --short "${BEFORE:-452d8f4^}")
wt=$(mktemp -d)
git worktree add -q --detach "$wt" "$before"
ln -s "$PWD/node_modules" "$wt/node_modules"
trap 'git worktree remove --force "$wt"' EXIT
echo "# $(date -u +%FT%TZ) after $(git rev-parse --short HEAD), before $before; load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"
for backend in js wasm native; do
  for round in 1 2 3; do
    node --import tsx bench/results/lse-one-exp/warm.mts "$wt" "$backend" | tee -a "$out"
    node --import tsx bench/results/lse-one-exp/warm.mts "$PWD" "$backend" | tee -a "$out"
  done
done
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"
