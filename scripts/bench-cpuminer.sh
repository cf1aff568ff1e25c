#!/usr/bin/env bash
# cpuminer's own benchmark against bbchain's, interleaved in rounds on the same machine, with the
# per-round ratio (docs/BENCHMARKS.md, issue 13's anchor):
#
#   scripts/bench-cpuminer.sh [ROUNDS]     # default 3 rounds of: minerd -t 1, bbchain 1, minerd -t 2, bbchain 2
#
# MINERD: cpuminer's binary (default: where scripts/build-cpuminer.sh puts it);
# BBCHAIN: bbchain's (default: target/release/bbchain of this repository);
# SECONDS_PER_RUN: how long minerd runs (default 16; its first two reports per thread are dropped).
set -euo pipefail

rounds="${1:-3}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
minerd="${MINERD:-${XDG_CACHE_HOME:-$HOME/.cache}/bbchain/cpuminer/minerd}"
bbchain="${BBCHAIN:-$repo/target/release/bbchain}"
seconds="${SECONDS_PER_RUN:-16}"
for binary in "$minerd" "$bbchain"; do
    [[ -x "$binary" ]] || { echo "bench-cpuminer: no executable $binary (scripts/build-cpuminer.sh, cargo build --release -p bbchain)" >&2; exit 2; }
done

# minerd's hashrate in H/s: the per-thread reports after each thread's first two, averaged per
# thread and summed over threads (its "Total" line sums the latest report of each thread).
minerd_rate() {
    local threads="$1"
    { timeout -s INT "$seconds" "$minerd" --benchmark -a sha256d -t "$threads" 2>&1 || true; } |
        awk '/thread [0-9]+: [0-9]+ hashes, [0-9.]+ khash\/s/ {
                 t = $4; sub(":", "", t); seen[t]++
                 if (seen[t] > 2) { sum[t] += $7; n[t]++ }
             }
             END { total = 0; for (t in sum) total += sum[t] / n[t] * 1000; printf "%.0f\n", total }'
}

# bbchain's hashrate in H/s (its last line: `hashrate: <n> H/s`); its other lines (the path it
# chose) go to $log.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
bbchain_rate() {
    "$bbchain" --benchmark --threads "$1" >"$log"
    awk '/^hashrate:/ { print $2 }' "$log" | tail -n 1
}

echo "cpu: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }'), $(nproc) cores"
echo "minerd: $("$minerd" --version 2>&1 | head -n 1) ($("$minerd" --version 2>&1 | grep -i features | sed 's/^ *//'))"
printf '| round | threads | load (1 min) | minerd --benchmark | bbchain --benchmark | bbchain / minerd |\n|---|---|---|---|---|---|\n'
for round in $(seq 1 "$rounds"); do
    for threads in 1 2; do
        load="$(cut -d' ' -f1 /proc/loadavg)"
        m="$(minerd_rate "$threads")"
        b="$(bbchain_rate "$threads")"
        [[ "$round$threads" == 11 ]] && sed 's/^/bbchain: /' "$log" | grep -v hashrate: >&2
        awk -v r="$round" -v t="$threads" -v l="$load" -v m="$m" -v b="$b" 'BEGIN {
            printf "| %d | %d | %s | %.2f MH/s | %.2f MH/s | %.2f |\n", r, t, l, m / 1e6, b / 1e6, (m > 0 ? b / m : 0) }'
    done
done
