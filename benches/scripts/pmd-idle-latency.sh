#!/usr/bin/env bash
# Idle CPU and ping latency of ferrovs-vswitchd with real ports: two host
# namespaces on veth pairs whose outer ends are ports of a standalone
# bridge (NORMAL), of type system (AF_PACKET) and then afxdp.
#
# Per port type:
#   idle_cpu_pct   the switch process's CPU (utime+stime from /proc/PID/stat)
#                  over IDLE seconds with no traffic, in % of one core;
#   ping_med_us, ping_p99_us
#                  round-trip times of COUNT pings h1 -> h2 at INTERVAL s
#                  (the PMD goes idle, so sleeps, between most of them:
#                  this includes the wakeup);
#   ping_wakeups   wakeups of the PMD thread (its voluntary context
#                  switches: each sleep ends in one) per ping;
#   ping_cpu_pct   the switch's CPU during the pings, in % of one core;
#   tcp_gbps       iperf3 TCP h1 -> h2 for TCP_SECS seconds (default
#                  offloads), received rate;
#   tcp_cpu_s_gb   the switch's CPU seconds per GB received during it
#                  (steadier than the rate on a loaded machine).
# BIN picks the binaries (e.g. another checkout's target/release, for a
# side-by-side run); NICE (e.g. -10) runs the measured tools at that
# priority, to keep other load on a busy machine from swamping them.
# The Linux bridge on the same topology is measured as the baseline.
#
# Usage: bash benches/scripts/pmd-idle-latency.sh
#   (IDLE=10 COUNT=300 INTERVAL=0.01 TCP_SECS=3 TYPES="system afxdp" BIN=target/release
#    MAXSLEEP=: other_config:pmd-maxsleep, e.g. 0 for busy-polling PMDs)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"

IDLE=${IDLE:-10}
COUNT=${COUNT:-300}
INTERVAL=${INTERVAL:-0.01}
TCP_SECS=${TCP_SECS:-3}
MAXSLEEP=${MAXSLEEP:-}
NICE=${NICE:-0}
TYPES=${TYPES:-system afxdp}
BIN=${BIN:-}
if [ -z "$BIN" ]; then
  echo "== building release binaries (ferrovs-ovsdb-server, ferrovs-vswitchd)" >&2
  cargo build --release -q -p ferrovs-ovsdb -p ferrovs-vswitchd \
    --bin ferrovs-ovsdb-server --bin ferrovs-vswitchd
  BIN=$PWD/target/release
fi
FVS_DB=$BIN/ferrovs-ovsdb-server
FVS_SW=$BIN/ferrovs-vswitchd

WORK=$(mktemp -d /var/tmp/pmd-idle.XXXXXX)
P="fvpi$$"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in $(ip netns list | awk -v p="$P" 'index($1, p) == 1 {print $1}'); do
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "${P}a1" 2>/dev/null || true
  ip link del "${P}a2" 2>/dev/null || true
  ip link del "${P}br" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# hosts: h1 198.18.0.1, h2 198.18.0.2 on veths ${P}a1/${P}a2 (outer ends).
hosts() {
  for i in 1 2; do
    ip netns add "${P}h$i"
    ip link add "${P}a$i" type veth peer name "${P}b$i"
    ip link set "${P}b$i" netns "${P}h$i"
    ip -n "${P}h$i" addr add "198.18.0.$i/24" dev "${P}b$i"
    ip -n "${P}h$i" link set "${P}b$i" up
    ip -n "${P}h$i" link set lo up
  done
}

# rtt_stats FILE: median and p99 in microseconds of ping's time= values.
rtt_stats() {
  grep -o 'time=[0-9.]*' "$1" | cut -d= -f2 | sort -g | awk '
    { v[NR] = $1 * 1000 }
    END {
      if (NR == 0) { print "nan nan"; exit }
      m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.99 + 0.999)]
      printf "%.0f %.0f\n", m, p
    }'
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

idle_cpu_pct() { # PID
  local t0 t1 hz
  hz=$(getconf CLK_TCK)
  t0=$(cpu_ticks "$1"); sleep "$IDLE"; t1=$(cpu_ticks "$1")
  awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$IDLE" \
    'BEGIN {printf "%.2f\n", 100 * (b - a) / hz / s}'
}

# The PMD thread's voluntary context switches (SW is the switch's pid).
pmd_switches() {
  local t
  for t in /proc/"$SW"/task/*; do
    if grep -q '^pmd' "$t/comm" 2>/dev/null; then
      awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status"; return
    fi
  done
  echo 0
}

ping_rtt() {
  ip netns exec "${P}h1" ping -c 3 -W 1 198.18.0.2 >/dev/null
  if [ -z "${SW:-}" ]; then
    ip netns exec "${P}h1" nice -n "$NICE" ping -c "$COUNT" -i "$INTERVAL" 198.18.0.2 >"$WORK/ping.txt"
    echo "$(rtt_stats "$WORK/ping.txt") - -"
    return
  fi
  local w0 w1 c0 c1 t0 t1 hz
  hz=$(getconf CLK_TCK)
  w0=$(pmd_switches); c0=$(cpu_ticks "$SW"); t0=$(date +%s.%N)
  ip netns exec "${P}h1" nice -n "$NICE" ping -c "$COUNT" -i "$INTERVAL" 198.18.0.2 >"$WORK/ping.txt"
  w1=$(pmd_switches); c1=$(cpu_ticks "$SW"); t1=$(date +%s.%N)
  echo "$(rtt_stats "$WORK/ping.txt") $(awk -v a="$w0" -v b="$w1" -v n="$COUNT" 'BEGIN {printf "%.2f", (b - a) / n}') $(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v x="$t0" -v y="$t1" 'BEGIN {printf "%.1f", 100 * (b - a) / hz / (y - x)}')"
}

tcp_gbps() {
  ip netns exec "${P}h2" iperf3 -s -1 -p 5399 >/dev/null 2>&1 &
  local srv=$!
  sleep 0.3
  local c0 c1 hz
  hz=$(getconf CLK_TCK)
  c0=$(cpu_ticks "${SW:-self}")
  ip netns exec "${P}h1" nice -n "$NICE" iperf3 -c 198.18.0.2 -p 5399 -t "$TCP_SECS" -J >"$WORK/iperf.json" || true
  c1=$(cpu_ticks "${SW:-self}")
  wait "$srv" 2>/dev/null || true
  python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); r=d["end"]["sum_received"]
cpu=(int(sys.argv[3])-int(sys.argv[2]))/int(sys.argv[4])
print("%.2f %s" % (r["bits_per_second"]/1e9, "-" if sys.argv[5]=="-" else "%.3f" % (cpu/(r["bytes"]/1e9))))' \
    "$WORK/iperf.json" "$c0" "$c1" "$hz" "${SW:--}" 2>/dev/null || echo "nan nan"
}

printf '%-16s %12s %12s %12s %12s %12s %9s %12s\n' switch idle_cpu_pct ping_med_us ping_p99_us ping_wakeups ping_cpu_pct tcp_gbps tcp_cpu_s_gb

for ty in $TYPES; do
  dir=$WORK/$ty; mkdir -p "$dir"
  hosts
  ip netns add "${P}sw"
  ip link set "${P}a1" netns "${P}sw"; ip link set "${P}a2" netns "${P}sw"
  ip -n "${P}sw" link set "${P}a1" up; ip -n "${P}sw" link set "${P}a2" up
  "$FVS_DB" "$dir/conf.db" --remote="punix:$dir/db.sock" --unixctl="$dir/db.ctl" \
    >"$dir/db.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -S "$dir/db.sock" ] && break; sleep 0.05; done
  ovs-vsctl --db="unix:$dir/db.sock" --no-wait init
  if [ -n "$MAXSLEEP" ]; then
    ovs-vsctl --db="unix:$dir/db.sock" --no-wait \
      set Open_vSwitch . other_config:pmd-maxsleep="$MAXSLEEP"
  fi
  FERROVS_RUNDIR=$dir ip netns exec "${P}sw" nice -n "$NICE" "$FVS_SW" "unix:$dir/db.sock" \
    --unixctl="$dir/sw.ctl" --log-file="$dir/sw.log" >/dev/null 2>&1 &
  SW=$!
  PIDS+=("$SW")
  for _ in $(seq 200); do [ -S "$dir/sw.ctl" ] && break; sleep 0.05; done
  ovs-vsctl --db="unix:$dir/db.sock" --timeout=30 add-br br0 \
    -- set bridge br0 datapath_type=netdev \
    -- add-port br0 "${P}a1" -- set interface "${P}a1" type="$ty" \
    -- add-port br0 "${P}a2" -- set interface "${P}a2" type="$ty"
  sleep 1
  rtt=$(ping_rtt)
  tcp=$(tcp_gbps)
  sleep 1
  cpu=$(idle_cpu_pct "$SW")
  printf '%-16s %12s %12s %12s %12s %12s %9s %12s\n' "ferrovs-$ty${MAXSLEEP:+-ms$MAXSLEEP}" "$cpu" $rtt $tcp
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  for ns in sw h1 h2; do ip netns del "${P}$ns"; done
done

# The Linux bridge, same hosts.
SW=
hosts
ip link add "${P}br" type bridge
ip link set "${P}a1" master "${P}br"; ip link set "${P}a2" master "${P}br"
for l in "${P}br" "${P}a1" "${P}a2"; do ip link set "$l" up; done
sleep 1
rtt=$(ping_rtt)
tcp=$(tcp_gbps)
printf '%-16s %12s %12s %12s %12s %12s %9s %12s\n' linux-bridge - $rtt $tcp
ip link del "${P}br"
