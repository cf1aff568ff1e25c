#!/usr/bin/env bash
# cpuminer against bbchain, interleaved in rounds on the same machine, with per-round ratios
# (docs/BENCHMARKS.md; issue 13's anchor and issue 14's "a real miner over Stratum"):
#
#   scripts/bench-cpuminer.sh [ROUNDS]     # default 3
#
# Each round, for 1 and then 2 threads:
#   1. `minerd --benchmark -a sha256d -t N` (its own hashing, no network);
#   2. `bbchain --benchmark --threads N`;
#   3. `minerd -o stratum+tcp://…` mining a fresh main-chain master (`--stratum-port`), compared
#      with 1. minerd drops its mining threads to nice 19 and SCHED_IDLE when it mines over the
#      network, which starves them on a busy machine; as root the script puts them back in the
#      normal class a second after the start (the first reports are dropped anyway), so 1 and 3
#      compete for the CPU alike.
# minerd's figure: its per-thread "thread T: … khash/s" reports after each thread's first two,
# averaged per thread and summed (issue 13: the first reports are warm-up).
#
# MINERD: cpuminer's binary (default: where scripts/build-cpuminer.sh puts it);
# BBCHAIN: bbchain's (default: target/release/bbchain of this repository);
# SECONDS_PER_RUN: how long each minerd run lasts (default 25: it reports every 5 s).
set -euo pipefail

rounds="${1:-3}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
minerd="${MINERD:-${XDG_CACHE_HOME:-$HOME/.cache}/bbchain/cpuminer/minerd}"
bbchain="${BBCHAIN:-$repo/target/release/bbchain}"
seconds="${SECONDS_PER_RUN:-25}"
for binary in "$minerd" "$bbchain"; do
    [[ -x "$binary" ]] || {
        echo "bench-cpuminer: no executable $binary (scripts/build-cpuminer.sh; cargo build --release -p bbchain)" >&2
        exit 2
    }
done

work="$(mktemp -d)"
master_pid=""
cleanup() {
    [[ -n "$master_pid" ]] && kill "$master_pid" 2>/dev/null && wait "$master_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# A main-chain master with a Stratum port, on free ports, with a throw-away data dir.
"$bbchain" --start-master --chain main --port 0 --stratum-port 0 --data-dir "$work/data" \
    >"$work/master.log" 2>&1 &
master_pid=$!
for _ in $(seq 1 100); do
    grep -q "master on http://" "$work/master.log" && break
    sleep 0.1
done
stratum="$(grep -o 'stratum+tcp://[0-9.]*:[0-9]*' "$work/master.log" | head -n 1)"
[[ -n "$stratum" ]] || { echo "bench-cpuminer: the master did not start:" >&2; cat "$work/master.log" >&2; exit 1; }
# Any main-network address (docs/protocol.md's example); the blocks are thrown away.
address="bb1evlnuq7athpl2sx27vnt7al5r2psaj99lnw7vyxpxugjcx4kf68qv5zj3h"

# Averages minerd's per-thread reports (after each thread's first two), summed, in H/s.
minerd_rate() {
    awk '/thread [0-9]+: [0-9]+ hashes, [0-9.]+ khash\/s/ {
             t = $4; sub(":", "", t); seen[t]++
             if (seen[t] > 2) { sum[t] += $7; n[t]++ }
         }
         END { total = 0; for (t in sum) total += sum[t] / n[t] * 1000; printf "%.0f\n", total }'
}

minerd_benchmark() {
    { timeout -s INT "$seconds" "$minerd" --benchmark -a sha256d -t "$1" 2>&1 || true; } | minerd_rate
}

minerd_stratum() {
    timeout -s INT "$seconds" "$minerd" -a sha256d -t "$1" -o "$stratum" -u "$address.bench" -p x \
        >"$work/run.log" 2>&1 &
    local pid=$!
    if [[ "$(id -u)" == 0 ]]; then
        sleep 1
        local miner
        miner="$(pgrep -P "$pid" -x minerd || echo "$pid")"
        for task in /proc/"$miner"/task/*; do
            chrt -o -p 0 "${task##*/}" >/dev/null 2>&1 || true
            renice -n 0 -p "${task##*/}" >/dev/null 2>&1 || true
        done
    fi
    wait "$pid" || true
    cat "$work/run.log" >>"$work/stratum.log"
    minerd_rate <"$work/run.log"
}

# bbchain's hashrate in H/s (its last line: `hashrate: <n> H/s`); its other lines say its path.
bbchain_rate() {
    "$bbchain" --benchmark --threads "$1" >"$work/bbchain.log"
    awk '/^hashrate:/ { print $2 }' "$work/bbchain.log" | tail -n 1
}

echo "cpu: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }'), $(nproc) cores"
echo "minerd: $("$minerd" --version 2>&1 | head -n 1), $("$minerd" --version 2>&1 | grep -i features | sed 's/^ *//')"
echo "master: $stratum (main chain), ${seconds} s per minerd run"
printf '| round | threads | load | minerd --benchmark | bbchain --benchmark | bbchain / minerd | minerd over Stratum | Stratum / benchmark |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for round in $(seq 1 "$rounds"); do
    for threads in 1 2; do
        load="$(cut -d' ' -f1 /proc/loadavg)"
        m="$(minerd_benchmark "$threads")"
        b="$(bbchain_rate "$threads")"
        if [[ "$round$threads" == 11 ]]; then grep -v hashrate: "$work/bbchain.log" | sed 's/^/bbchain: /' >&2 || true; fi
        s="$(minerd_stratum "$threads")"
        awk -v r="$round" -v t="$threads" -v l="$load" -v m="$m" -v b="$b" -v s="$s" 'BEGIN {
            printf "| %d | %d | %s | %.2f MH/s | %.2f MH/s | %.2f | %.2f MH/s | %.2f |\n",
                r, t, l, m / 1e6, b / 1e6, (m > 0 ? b / m : 0), s / 1e6, (m > 0 ? s / m : 0) }'
    done
done
accepted="$(grep -c 'yay' "$work/stratum.log" || true)"
rejected="$(grep -c 'booooo' "$work/stratum.log" || true)"
echo "minerd over Stratum: $accepted shares accepted, $rejected rejected; master height $(grep -c 'bbchain::node::writer: block' "$work/master.log" || true) blocks"
