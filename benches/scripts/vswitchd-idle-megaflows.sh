#!/usr/bin/env bash
# Idle CPU of a switch holding megaflows: one standalone bridge (NORMAL)
# with PORTS dummy ports, FLOWS megaflows installed by frames to FLOWS
# distinct destination MACs received on p1 (netdev-dummy/receive), max-idle
# set high so that they stay, then the switch process's CPU
# (utime+stime from /proc/PID/stat) over IDLE seconds with no traffic, in
# % of one core. What it shows is the revalidator's cost on an idle switch
# (OVS's revalidators translate nothing when nothing changed).
#
# Usage: bash benches/scripts/vswitchd-idle-megaflows.sh [VSWITCHD...]
#   each VSWITCHD a ferrovs-vswitchd binary (default target/debug's), or
#   the word "ovs" for Debian's ovs-vswitchd --enable-dummy;
#   IDLE=30 FLOWS=1000 PORTS=4 RUNS=1; DB=ferrovs-ovsdb-server binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"

IDLE=${IDLE:-30}
FLOWS=${FLOWS:-1000}
PORTS=${PORTS:-4}
RUNS=${RUNS:-1}
DB=${DB:-$PWD/target/debug/ferrovs-ovsdb-server}
SWITCHES=("$@")
[ ${#SWITCHES[@]} -gt 0 ] || SWITCHES=("$PWD/target/debug/ferrovs-vswitchd")

WORK=$(mktemp -d /var/tmp/vsw-idle.XXXXXX)
NS="fvim$$"
PIDS=()
stop() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  ip netns del "$NS" 2>/dev/null || true
}
cleanup() { stop; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# FLOWS frames (hex), 50 to a line: 02:00:00:00:hi:lo <- 00:00:00:00:00:01, IPv4/UDP.
frames() {
  python3 - "$FLOWS" <<'EOF'
import sys
n = int(sys.argv[1])
out = []
for i in range(n):
    dst = bytes([2, 0, 0, 0, i >> 8 & 0xff, i & 0xff])
    src = bytes([0, 0, 0, 0, 0, 1])
    ip = bytes([0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 1, 1])
    udp = bytes([0x03, 0xe8, 0x00, 0x09, 0, 8, 0, 0])
    out.append((dst + src + b"\x08\x00" + ip + udp).hex())
for k in range(0, n, 50):
    print(" ".join(out[k:k + 50]))
EOF
}

printf '%-40s %6s %12s\n' switch flows idle_cpu_pct
for sw in "${SWITCHES[@]}"; do
  for run in $(seq "$RUNS"); do
    dir=$WORK/$run; rm -rf "$dir"; mkdir -p "$dir"
    ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    "$DB" "$dir/conf.db" --remote="punix:$dir/db.sock" --unixctl="$dir/db.ctl" \
      >"$dir/db.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -S "$dir/db.sock" ] && break; sleep 0.05; done
    VS="ovs-vsctl --db=unix:$dir/db.sock --timeout=30"
    $VS --no-wait init
    $VS --no-wait set Open_vSwitch . other_config:max-idle=3600000
    ip netns add "$NS"
    if [ "$sw" = ovs ]; then
      ip netns exec "$NS" ovs-vswitchd --enable-dummy "unix:$dir/db.sock" \
        --unixctl="$dir/sw.ctl" --log-file="$dir/sw.log" \
        --pidfile="$dir/sw.pid" >/dev/null 2>&1 &
    else
      FERROVS_RUNDIR=$dir ip netns exec "$NS" "$sw" "unix:$dir/db.sock" \
        --unixctl="$dir/sw.ctl" --log-file="$dir/sw.log" >/dev/null 2>&1 &
    fi
    PIDS+=($!)
    for _ in $(seq 200); do [ -S "$dir/sw.ctl" ] && break; sleep 0.05; done
    args=(add-br br0 -- set bridge br0 datapath_type=netdev fail_mode=standalone)
    for p in $(seq "$PORTS"); do
      args+=(-- add-port br0 "p$p" -- set interface "p$p" type=dummy)
    done
    $VS "${args[@]}"
    sleep 1
    frames | while read -r line; do
      # shellcheck disable=SC2086
      ovs-appctl -t "$dir/sw.ctl" netdev-dummy/receive p1 $line >/dev/null
    done
    sleep 2
    n=$(ovs-appctl -t "$dir/sw.ctl" dpctl/dump-flows | grep -c . || true)
    # The switch's own process (ip netns exec execs it: same pid).
    pid=${PIDS[-1]}
    [ "$sw" = ovs ] && pid=$(cat "$dir/sw.pid")
    hz=$(getconf CLK_TCK)
    t0=$(cpu_ticks "$pid"); sleep "$IDLE"; t1=$(cpu_ticks "$pid")
    cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$IDLE" \
      'BEGIN {printf "%.2f", 100 * (b - a) / hz / s}')
    label="$(basename "$(dirname "$sw")")/$(basename "$sw")"
    [ "$sw" = ovs ] && label="ovs-vswitchd (Debian, --enable-dummy)"
    printf '%-40s %6s %12s\n' "$label" "$n" "$cpu"
    stop
  done
done
