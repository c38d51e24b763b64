#!/usr/bin/env bash
# Side-by-side OVSDB server benchmark: ferrovs-ovsdb-server vs Debian's
# ovsdb-server (OVS 3.1), same machine, same run, same client load
# (target/release/ovsdb_load, a raw JSON-RPC client independent of ferrovs).
#
# Metrics (each repeated RUNS times, medians reported):
#   txn/s for small inserts (one QoS row) and small updates (one QoS row's
#   external_ids), 1 and 8 clients, with and without "durable": true, and
#   the server's CPU time (user + system) per transaction in each of them;
#   echo round trips/s (a request that touches no database: the floor that
#   framing, parsing and wake-ups set on this machine);
#   monitor fan-out latency (commit -> update2 received) to 8 monitor_cond
#   clients, median and p99; resident memory (VmRSS) with 10,000 Port and
#   10,000 Interface rows on a fresh server.
# Databases live under $WORK (default /var/tmp, a real disk: fsync costs).
#
# Usage: bash benches/scripts/ovsdb-compare.sh   (RUNS=5 SECS=1.5 PORTS=10000)
# The table gives per metric the median of each server, the ratio of the
# medians and the median of the per-run ratios (each run measures both
# servers back to back).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"

RUNS=${RUNS:-5}
SECS=${SECS:-1.5}
SAMPLES=${SAMPLES:-200}
PORTS=${PORTS:-10000}
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
OVS_BIN=${OVS_BIN:-/usr/sbin/ovsdb-server}

echo "== building release binaries (ferrovs-ovsdb-server, ovsdb_load)" >&2
cargo build --release -q -p ferrovs-ovsdb -p ferrovs-benches \
  --bin ferrovs-ovsdb-server --bin ovsdb_load
FERROVS_BIN=${FERROVS_BIN:-$PWD/target/release/ferrovs-ovsdb-server}
LOAD=$PWD/target/release/ovsdb_load
for b in "$OVS_BIN" "$FERROVS_BIN" "$LOAD" "$(command -v ovsdb-tool)"; do
  [ -x "$b" ] || { echo "missing $b" >&2; exit 1; }
done

WORK=$(mktemp -d "${WORK:-/var/tmp}/ovsdb-compare.XXXXXX")
RESULTS=$WORK/results.txt
: > "$RESULTS"
declare -A PID=()
cleanup() {
  for name in "${!PID[@]}"; do
    kill "${PID[$name]}" 2>/dev/null || true; wait "${PID[$name]}" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server NAME: fresh database from the schema, server on $WORK/NAME/sock.
start_server() {
  local name=$1 dir=$WORK/$1 bin
  case $name in ovs) bin=$OVS_BIN ;; ferrovs) bin=$FERROVS_BIN ;; esac
  rm -rf "$dir"; mkdir -p "$dir"
  ovsdb-tool create "$dir/conf.db" "$SCHEMA"
  "$bin" "$dir/conf.db" --remote="punix:$dir/sock" --unixctl="$dir/ctl" \
    >"$dir/server.log" 2>&1 &
  PID[$name]=$!
  for _ in $(seq 200); do
    if [ -S "$dir/sock" ] && ovsdb-client --timeout=1 list-dbs "unix:$dir/sock" >/dev/null 2>&1; then
      "$LOAD" init --sock "$dir/sock"
      return 0
    fi
    sleep 0.05
  done
  echo "$name server did not start; log:" >&2; cat "$dir/server.log" >&2; exit 1
}

stop_server() {
  kill "${PID[$1]}"; wait "${PID[$1]}" 2>/dev/null || true; unset "PID[$1]"
}

# cpu_ticks PID: the process's user + system CPU time so far, in clock ticks.
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# record RUN NAME METRIC VALUE
record() { echo "$1 $2 $3 $4" >> "$RESULTS"; }

# value KEY < output-of-ovsdb_load
value() { awk -v k="$1" '$1 == k { print $2 }'; }

# Both servers run side by side; every measurement is taken on one and
# then right away on the other (order alternating between runs), so that
# load from elsewhere on the machine hits both alike.
bench_run() {
  local run=$1 order=$2 name out t0 t1 key
  for name in $order; do start_server "$name"; done
  for op in echo insert update; do
    for durable in "" "--durable"; do
      [ "$op" = echo ] && [ -n "$durable" ] && continue
      for clients in 1 8; do
        for name in $order; do
          t0=$(cpu_ticks "${PID[$name]}")
          out=$("$LOAD" txn --sock "$WORK/$name/sock" --op $op --clients $clients --secs "$SECS" $durable)
          t1=$(cpu_ticks "${PID[$name]}")
          key="${op}_c${clients}${durable:+_durable}"
          record "$run" "$name" "${key}_txn/s" "$(value txn_per_s <<<"$out")"
          record "$run" "$name" "${key}_server_cpu_us" \
            "$(awk -v d=$((t1 - t0)) -v n="$(value txn_count <<<"$out")" -v hz="$HZ" \
               'BEGIN { printf "%.1f", (n > 0 ? d * 1e6 / hz / n : 0) }')"
        done
      done
    done
  done
  for name in $order; do
    out=$("$LOAD" monitor --sock "$WORK/$name/sock" --monitors 8 --samples "$SAMPLES")
    record "$run" "$name" "fanout8_median_us" "$(value fanout_median_us <<<"$out")"
    record "$run" "$name" "fanout8_p99_us" "$(value fanout_p99_us <<<"$out")"
  done
  for name in $order; do stop_server "$name"; done

  # Memory on fresh servers holding only the ports.
  for name in $order; do
    start_server "$name"
    out=$("$LOAD" fill --sock "$WORK/$name/sock" --ports "$PORTS")
    record "$run" "$name" "fill_${PORTS}_ports_s" "$(value fill_secs <<<"$out")"
  done
  sleep 0.5
  for name in $order; do
    record "$run" "$name" "rss_${PORTS}_ports_MiB" \
      "$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/${PID[$name]}/status")"
    stop_server "$name"
  done
}

start=$(date +%s)
for run in $(seq "$RUNS"); do
  if [ $((run % 2)) -eq 1 ]; then order="ovs ferrovs"; else order="ferrovs ovs"; fi
  echo "== run $run/$RUNS ($order)" >&2
  bench_run "$run" "$order"
done

echo
echo "ovsdb-server comparison: $RUNS runs, medians; $(nproc) CPUs, $(uname -r), $((  $(date +%s) - start )) s"
echo "OVS: $("$OVS_BIN" --version | head -1)"
awk '
  function median(s,   a, k, i, j, t) {
    k = split(s, a, " ")
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  { x[$1, $3, $2] = $4; v[$3, $2] = v[$3, $2] " " $4; runs[$1] = 1
    if (!($3 in seen)) { seen[$3] = 1; order[n++] = $3 } }
  END {
    printf "%-30s %11s %11s %12s %12s  %s\n", "metric (median)", "ovs", "ferrovs", "ferrovs/ovs", "paired-ratio", "better"
    for (i = 0; i < n; i++) {
      m = order[i]; o = median(v[m, "ovs"]); f = median(v[m, "ferrovs"]); pr = ""
      for (r in runs) if (x[r, m, "ovs"] > 0) pr = pr " " x[r, m, "ferrovs"] / x[r, m, "ovs"]
      better = (m ~ /txn\/s$/) ? "higher" : "lower"
      printf "%-30s %11.1f %11.1f %12.2f %12.2f  %s\n", m, o, f, (o > 0 ? f / o : 0), median(pr), better
    }
  }' "$RESULTS"
echo
echo "raw values (server metric value per run):"
sort -k3,3 -k2,2 -k1,1n "$RESULTS" | awk '{ k = $3 " " $2; if (!(k in r)) o[n++] = k; r[k] = r[k] " " $4 } END { for (i = 0; i < n; i++) print o[i] ":" r[o[i]] }'
