#!/usr/bin/env bash
# Side-by-side OVSDB server benchmark: ferrovs-ovsdb-server vs Debian's
# ovsdb-server (OVS 3.1), same machine, same run, same client load
# (target/release/ovsdb_load, a raw JSON-RPC client independent of ferrovs).
#
# Metrics (each repeated RUNS times, medians reported):
#   txn/s for small inserts (one QoS row) and small updates (one QoS row's
#   external_ids), 1 and 8 clients, with and without "durable": true;
#   monitor fan-out latency (commit -> update2 received) to 8 monitor_cond
#   clients, median and p99; resident memory (VmRSS) with 10,000 Port and
#   10,000 Interface rows on a fresh server.
# Databases live under $WORK (default /var/tmp, a real disk: fsync costs).
#
# Usage: bash benches/scripts/ovsdb-compare.sh   (RUNS=5 SECS=1.5 PORTS=10000)
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
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server NAME DIR: fresh database from the schema, server on DIR/sock.
start_server() {
  local name=$1 dir=$2 bin
  case $name in ovs) bin=$OVS_BIN ;; ferrovs) bin=$FERROVS_BIN ;; esac
  rm -rf "$dir"; mkdir -p "$dir"
  ovsdb-tool create "$dir/conf.db" "$SCHEMA"
  "$bin" "$dir/conf.db" --remote="punix:$dir/sock" --unixctl="$dir/ctl" \
    >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
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
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

# record NAME METRIC VALUE
record() { echo "$1 $2 $3" >> "$RESULTS"; }

# value KEY < output-of-ovsdb_load
value() { awk -v k="$1" '$1 == k { print $2 }'; }

bench_server() {
  local name=$1 dir=$WORK/$1 out
  start_server "$name" "$dir"
  for op in insert update; do
    for durable in "" "--durable"; do
      for clients in 1 8; do
        out=$("$LOAD" txn --sock "$dir/sock" --op $op --clients $clients --secs "$SECS" $durable)
        record "$name" "${op}_c${clients}${durable:+_durable}_txn/s" "$(value txn_per_s <<<"$out")"
      done
    done
  done
  out=$("$LOAD" monitor --sock "$dir/sock" --monitors 8 --samples "$SAMPLES")
  record "$name" "fanout8_median_us" "$(value fanout_median_us <<<"$out")"
  record "$name" "fanout8_p99_us" "$(value fanout_p99_us <<<"$out")"
  stop_server

  # Memory on a fresh server holding only the 10,000 ports.
  start_server "$name" "$dir"
  out=$("$LOAD" fill --sock "$dir/sock" --ports "$PORTS")
  record "$name" "fill_${PORTS}_ports_s" "$(value fill_secs <<<"$out")"
  sleep 0.5
  record "$name" "rss_${PORTS}_ports_MiB" \
    "$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status")"
  stop_server
}

start=$(date +%s)
for run in $(seq "$RUNS"); do
  # Alternate the order so that drift on the machine hits both alike.
  if [ $((run % 2)) -eq 1 ]; then order="ovs ferrovs"; else order="ferrovs ovs"; fi
  for name in $order; do
    echo "== run $run/$RUNS: $name" >&2
    bench_server "$name"
  done
done

echo
echo "ovsdb-server comparison: $RUNS runs, medians; $(nproc) CPUs, $(uname -r), $((  $(date +%s) - start )) s"
echo "OVS: $("$OVS_BIN" --version | head -1)"
awk '
  { v[$2, $1] = v[$2, $1] " " $3; if (!($2 in seen)) { seen[$2] = 1; order[n++] = $2 } }
  function median(s,   a, k, i, j, t) {
    k = split(s, a, " ")
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  END {
    printf "%-30s %12s %12s %10s  %s\n", "metric", "ovs", "ferrovs", "ferrovs/ovs", "better"
    for (i = 0; i < n; i++) {
      m = order[i]; o = median(v[m, "ovs"]); f = median(v[m, "ferrovs"])
      better = (m ~ /txn\/s$/) ? "higher" : "lower"
      printf "%-30s %12.1f %12.1f %10.2f  %s\n", m, o, f, (o > 0 ? f / o : 0), better
    }
  }' "$RESULTS"
echo
echo "raw values (server metric value per run):"
sort -k2,2 -k1,1 "$RESULTS" | awk '{ k = $1 " " $2; r[k] = r[k] " " $3 } END { for (k in r) print k ":" r[k] }' | sort -k2
