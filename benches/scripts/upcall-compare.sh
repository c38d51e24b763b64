#!/usr/bin/env bash
# Upcall rates side by side: new megaflows per second that ferrovs-vswitchd
# and Debian's ovs-vswitchd (--enable-dummy, netdev datapath) install for
# the same packet stream through the same tables.
#
# The bridge holds the pipeline of `cargo bench --bench ofproto_upcall`:
# tables 0..8 each 16 `ip,nw_dst=198.18.T.x/28` rules that load a register
# and goto the next table, plus a priority-0 goto; table 9 NORMAL; five
# dummy access ports in VLAN 10. FLOWS frames, each to a new destination
# MAC (so each is a new megaflow: NORMAL floods and matches the MAC), are
# fed into p1 with netdev-dummy/receive, BATCH frames per request, by a
# client that speaks unixctl's JSON-RPC on the socket itself (no process
# spawn per request), in a closed loop: after each request it polls
# dpctl/show until the batch's megaflows are installed, then sends the
# next (OVS's dummy receive queue drops past 100 packets, and its main
# loop takes several requests before it drains the queue, so an open-loop
# feed loses most frames there). Measured per switch: the megaflows
# installed, the wall time from the first request to the last megaflow,
# megaflows/s over it, and the switch process's CPU time (utime+stime)
# over the same span, as megaflows per CPU-second. Both include the
# switch's handling of the requests and polls (parsing hex frames,
# printing dpctl/show), the same load on both; for a switch whose upcalls
# take a few microseconds, the wall rate is the feed's round trips, and
# megaflows per CPU-second is the figure that tells the switches apart.
#
# Usage: bash benches/scripts/upcall-compare.sh [VSWITCHD...]
#   each VSWITCHD a ferrovs-vswitchd binary (default target/release's,
#   else target/debug's; measure release builds), or the word "ovs";
#   default: the ferrovs binary, then "ovs".
#   FLOWS=8000 (under OVS's initial dynamic flow limit of 10,000)
#   BATCH=32 RUNS=3
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"

FLOWS=${FLOWS:-8000}
BATCH=${BATCH:-32}
RUNS=${RUNS:-3}
SWITCHES=("$@")
if [ ${#SWITCHES[@]} -eq 0 ]; then
  bin=$PWD/target/release/ferrovs-vswitchd
  [ -x "$bin" ] || bin=$PWD/target/debug/ferrovs-vswitchd
  SWITCHES=("$bin" ovs)
fi

WORK=$(mktemp -d /var/tmp/upcall-cmp.XXXXXX)
NS="fvuc$$"
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

# The pipeline (OpenFlow 1.3 for goto_table).
flows_file() {
  for t in $(seq 0 8); do
    for i in $(seq 0 15); do
      echo "table=$t,priority=10,ip,nw_dst=198.18.$t.$((i * 16))/28 actions=load:$i->NXM_NX_REG$t[],goto_table:$((t + 1))"
    done
    echo "table=$t,priority=0 actions=goto_table:$((t + 1))"
  done
  echo "table=9,priority=0 actions=NORMAL"
}

# Feeds FLOWS frames into p1 over unixctl socket $1, then waits for the
# megaflows; prints "megaflows wall_s cpu_s". $2: the switch's pid.
feed() {
  python3 - "$1" "$2" "$FLOWS" "$BATCH" <<'EOF'
import json, os, re, socket, sys, time

path, pid, n, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
hz = os.sysconf("SC_CLK_TCK")

def cpu():
    with open(f"/proc/{pid}/stat") as f:
        s = f.read().rsplit(")", 1)[1].split()
    return (int(s[11]) + int(s[12])) / hz

def frame(i):
    dst = bytes([2, 0, 0, i >> 16 & 0xff, i >> 8 & 0xff, i & 0xff])
    src = bytes([0, 0, 0, 0, 0, 1])
    nw_dst = bytes([198, 18, i >> 8 & 7, i & 0xff])
    ip = bytes([0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1]) + nw_dst
    udp = bytes([0x03, 0xe8, 0x00, 0x09, 0, 8, 0, 0])
    return (dst + src + b"\x08\x00" + ip + udp).hex()

sock = socket.socket(socket.AF_UNIX)
sock.connect(path)
dec = json.JSONDecoder()
buf = ""
rid = 0

def call(method, params):
    global buf, rid
    rid += 1
    sock.sendall(json.dumps({"method": method, "params": params, "id": rid}).encode())
    while True:
        try:
            msg, end = dec.raw_decode(buf.lstrip())
            buf = buf.lstrip()[end:]
            if msg.get("id") == rid:
                if msg.get("error"):
                    raise SystemExit(f"{method}: {msg['error']}")
                return msg.get("result") or ""
            continue
        except ValueError:
            pass
        data = sock.recv(1 << 16)
        if not data:
            raise SystemExit("switch closed the socket")
        buf += data.decode()

def megaflows():
    m = re.search(r"flows: *(\d+)", call("dpctl/show", []))
    return int(m.group(1)) if m else 0

frames = [frame(i) for i in range(n)]
base = megaflows()
c0, t0 = cpu(), time.monotonic()
lost = 0
for k in range(0, n, batch):
    call("netdev-dummy/receive", ["p1"] + frames[k:k + batch])
    # Closed loop: the batch's megaflows are in before the next batch
    # (a dummy receive queue never overflows); 2 s without them and the
    # rest of the batch counts as lost.
    want = base + min(k + batch, n) - lost
    t_wait = time.monotonic()
    while (m := megaflows()) < want:
        if time.monotonic() - t_wait > 2.0:
            lost += want - m
            break
t_last, c_last = time.monotonic(), cpu()
last = megaflows()
if os.environ.get("DEBUG"):
    print(call("dpctl/show", ["-s"]), call("coverage/show", []), file=sys.stderr)
if lost:
    print(f"{lost} frames made no megaflow", file=sys.stderr)
print(last - base, f"{t_last - t0:.3f}", f"{c_last - c0:.3f}")
EOF
}

printf '%-44s %4s %9s %7s %11s %7s %14s\n' switch run megaflows wall_s megaflows/s cpu_s megaflows/cpu_s
declare -A RATES CPURATES
for sw in "${SWITCHES[@]}"; do
  label="$(basename "$(dirname "$sw")")/$(basename "$sw")"
  [ "$sw" = ovs ] && label="ovs-vswitchd (Debian, --enable-dummy)"
  for run in $(seq "$RUNS"); do
    dir=$WORK/$run; rm -rf "$dir"; mkdir -p "$dir"
    ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" \
      --unixctl="$dir/db.ctl" --log-file="$dir/db.log" >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -S "$dir/db.sock" ] && break; sleep 0.05; done
    VS="ovs-vsctl --db=unix:$dir/db.sock --timeout=30"
    $VS --no-wait init
    # Megaflows stay for the count (no expiry during the run).
    $VS --no-wait set Open_vSwitch . other_config:max-idle=3600000
    ip netns add "$NS"
    if [ "$sw" = ovs ]; then
      OVS_RUNDIR=$dir ip netns exec "$NS" ovs-vswitchd --enable-dummy "unix:$dir/db.sock" \
        --unixctl="$dir/sw.ctl" --log-file="$dir/sw.log" \
        --pidfile="$dir/sw.pid" >/dev/null 2>&1 &
    else
      FERROVS_RUNDIR=$dir ip netns exec "$NS" "$sw" "unix:$dir/db.sock" \
        --unixctl="$dir/sw.ctl" --log-file="$dir/sw.log" >/dev/null 2>&1 &
    fi
    PIDS+=($!)
    for _ in $(seq 200); do [ -S "$dir/sw.ctl" ] && break; sleep 0.05; done
    args=(add-br br0 -- set bridge br0 datapath_type=netdev fail_mode=secure
      protocols=OpenFlow10,OpenFlow13)
    for p in 1 2 3 4 5; do
      args+=(-- add-port br0 "p$p" tag=10 -- set interface "p$p" type=dummy "ofport_request=$p")
    done
    $VS "${args[@]}"
    flows_file >"$dir/flows.txt"
    for _ in $(seq 200); do [ -S "$dir/br0.mgmt" ] && break; sleep 0.05; done
    ovs-ofctl -O OpenFlow13 add-flows "unix:$dir/br0.mgmt" "$dir/flows.txt"
    sleep 1
    pid=${PIDS[-1]}
    [ "$sw" = ovs ] && pid=$(cat "$dir/sw.pid")
    read -r n wall cpu < <(feed "$dir/sw.ctl" "$pid")
    rate=$(awk -v n="$n" -v t="$wall" 'BEGIN {printf "%.0f", (t > 0 ? n / t : 0)}')
    crate=$(awk -v n="$n" -v t="$cpu" 'BEGIN {printf "%.0f", (t > 0 ? n / t : 0)}')
    printf '%-44s %4s %9s %7s %11s %7s %14s\n' "$label" "$run" "$n" "$wall" "$rate" "$cpu" "$crate"
    RATES[$label]+="$rate "
    CPURATES[$label]+="$crate "
    stop
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo
printf '%-44s %16s %20s\n' "median of $RUNS" megaflows/s megaflows/cpu_s
for sw in "${SWITCHES[@]}"; do
  label="$(basename "$(dirname "$sw")")/$(basename "$sw")"
  [ "$sw" = ovs ] && label="ovs-vswitchd (Debian, --enable-dummy)"
  printf '%-44s %16s %20s\n' "$label" "$(echo "${RATES[$label]}" | median)" \
    "$(echo "${CPURATES[$label]}" | median)"
done
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg))"
