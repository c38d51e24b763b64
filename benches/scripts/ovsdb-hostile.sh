#!/usr/bin/env bash
# Slow and hostile OVSDB clients (issue 20) against ferrovs-ovsdb-server and
# Debian's ovsdb-server (OVS 3.1), same machine, same run. Each scenario of
# target/release/ovsdb_hostile (ferrovs-tests, a raw client independent of
# the server crate) runs on a fresh server of each kind, one after the
# other, while a second, well-behaved client sends an echo every 10 ms.
#
# Printed per scenario and server: the server's VmRSS at the start, its
# peak and its growth (MiB), the second client's worst and median echo
# round trip (ms), and what the scenario saw (how the server answered the
# hostile client, commit rates...). Scenarios (full scale, see
# tests/src/ovsdb_hostile.rs): slow_monitors (50 monitors that never read,
# 3,000 commits of 10 KB), waits (100 never-true waits over 1,000 rows,
# 200 commits), big_echo (20 MiB integer array), big_array (the same under
# an unknown method), pipeline (8 sessions x 2,000 get_schema, never read),
# endless_input (6 sessions x 63 MiB of a message that never ends),
# deep_json (depth 999, then a million), locks (300,000 locks in one
# session, then 1,000 sessions opened and closed).
#
# Usage: nice bash benches/scripts/ovsdb-hostile.sh [SCENARIO...]
#        (SCALE=--small for the test sizes)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"

SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
OVS_BIN=${OVS_BIN:-/usr/sbin/ovsdb-server}
SCALE=${SCALE:-}
SCENARIOS=${*:-slow_monitors waits big_echo big_array pipeline endless_input deep_json locks}

echo "== building release binaries (ferrovs-ovsdb-server, ovsdb_hostile)" >&2
cargo build --release -q -p ferrovs-ovsdb -p ferrovs-tests \
  --bin ferrovs-ovsdb-server --bin ovsdb_hostile
FERROVS_BIN=${FERROVS_BIN:-$PWD/target/release/ferrovs-ovsdb-server}
HOSTILE=$PWD/target/release/ovsdb_hostile

WORK=$(mktemp -d "${WORK:-/var/tmp}/ovsdb-hostile.XXXXXX")
PID=
cleanup() {
  [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT

start_server() {
  local name=$1 dir=$WORK/$1 bin
  case $name in ovs) bin=$OVS_BIN ;; ferrovs) bin=$FERROVS_BIN ;; esac
  rm -rf "$dir"; mkdir -p "$dir"
  ovsdb-tool create "$dir/conf.db" "$SCHEMA"
  "$bin" "$dir/conf.db" --remote="punix:$dir/sock" --unixctl="$dir/ctl" \
    >"$dir/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 200); do
    if [ -S "$dir/sock" ] && ovsdb-client --timeout=1 list-dbs "unix:$dir/sock" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  echo "$name server did not start; log:" >&2; cat "$dir/server.log" >&2; exit 1
}

stop_server() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; }

RESULTS=$WORK/results.txt
: > "$RESULTS"
start=$(date +%s)
for sc in $SCENARIOS; do
  for name in ovs ferrovs; do
    echo "== $sc on $name" >&2
    start_server "$name"
    if out=$("$HOSTILE" "$sc" --sock "$WORK/$name/sock" --pid "$PID" $SCALE 2>&1); then
      echo "$out" | awk -v s="$sc" -v n="$name" '{ print s, n, $1, $2 }' >> "$RESULTS"
    else
      echo "$sc $name failed $(echo "$out" | tail -1 | tr ' ' '_')" >> "$RESULTS"
    fi
    stop_server
  done
done

echo
echo "hostile OVSDB clients: $(nproc) CPUs, $(uname -r), $(( $(date +%s) - start )) s; OVS: $("$OVS_BIN" --version | head -1)"
awk '
  { k = $1 SUBSEP $3; v[$1, $2, $3] = $4
    if (!(k in seen)) { seen[k] = 1; order[n++] = $1 " " $3 } }
  END {
    printf "%-14s %-26s %14s %14s\n", "scenario", "metric", "ovs", "ferrovs"
    for (i = 0; i < n; i++) {
      split(order[i], a, " ")
      if (a[2] == "rss_start_mib" || a[2] == "rss_end_mib" || a[2] == "echoes") continue
      printf "%-14s %-26s %14s %14s\n", a[1], a[2], v[a[1], "ovs", a[2]], v[a[1], "ferrovs", a[2]]
    }
  }' "$RESULTS"
