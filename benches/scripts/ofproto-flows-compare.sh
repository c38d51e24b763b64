#!/usr/bin/env bash
# Side-by-side flow-table benchmark: ferrovs-vswitchd vs Debian's
# ovs-vswitchd (OVS 3.1, netdev datapath, --enable-dummy), same machine,
# same run, the same `ovs-ofctl` as the client of both.
#
# Per run and per switch (each on its own database server, each switch in a
# network namespace of its own so that bridge tap devices never collide):
#   add10     `ovs-ofctl -O OpenFlow10 add-flows br0 FILE`  (FLOWS flow-mods, one by one)
#   dump      `ovs-ofctl dump-flows br0` of those flows
#   del       `ovs-ofctl del-flows br0`
#   add14b    `ovs-ofctl -O OpenFlow14 --bundle add-flows br0 FILE` (one bundle)
#   del_empty `ovs-ofctl del-flows br0` again, on the empty table: the fixed
#             cost of one ovs-ofctl command (start, connect, negotiate)
#   rt10      `of_roundtrip` (benches/src/bin/of_roundtrip.rs): RT_N x (OF1.0
#             flow-mod + barrier, wait for the reply) with pre-encoded
#             messages, so per round trip (µs) the switch's latency without
#             ovs-ofctl's text parsing; `rt10_cli_us` is that client's CPU
#   rss_mib   the switch's VmRSS with the flows installed, and
#   bytes_per_rule  (that RSS - the RSS before adding) / FLOWS.
# And per run, the same add10, add14b and del_empty commands against
# `of_null_switch` (benches/src/bin/of_null_switch.rs), a switch that keeps
# nothing and answers every request at once from a spinning thread: the
# client floor, the time each command takes with a switch that costs
# nothing. OVS's time over that floor is the most any switch could gain on
# OVS with ovs-ofctl as the client; the last table prints it, and how far
# ferrovs is above the floor. (The floor of `dump` is ovs-ofctl's own CPU
# time to parse and print the flows, since a null switch has none to send;
# that of `del` is del_empty against the null switch. The null switch
# answers with ferrovs's own table features and port descriptions (which
# ovs-ofctl prints exactly as OVS's): the client parses the same reply as
# with a real switch.)
# Seconds are wall time of the ovs-ofctl command. Beside each, `*_cli_s` is
# the CPU time (user + system) of that ovs-ofctl process itself: the part of
# the wall time no switch can remove (the client parses, encodes, prints),
# which bounds how much faster than OVS any switch can look here; and
# `*_sw_s` is the CPU time (user + system, all threads) the switch itself
# spent during the command: on a loaded machine wall time is mostly waiting
# for a core, and this is the part a switch controls. The table
# gives per metric the median of each switch over RUNS runs and the ratio
# OVS/ferrovs (for times: how many times faster ferrovs is). A second table,
# the client floor, divides OVS's wall time by ovs-ofctl's own CPU time
# against ferrovs (median): no switch can make a command finish faster than
# its client's own CPU time, so that quotient bounds the ratio any switch
# could reach against OVS with this client.
#
# Usage: bash benches/scripts/ofproto-flows-compare.sh   (RUNS=3 FLOWS=100000)
# FVS_SW=/path/to/ferrovs-vswitchd (and FVS_DB) run given binaries instead
# of building this checkout (to compare two builds); FVS_RT=/path/to/of_roundtrip
# likewise (RT_N=0 skips the round-trip client).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"

RUNS=${RUNS:-3}
FLOWS=${FLOWS:-100000}
RT_N=${RT_N:-20000}
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema

if [ -z "${FVS_SW:-}" ]; then
  echo "== building release binaries (ferrovs-ovsdb-server, ferrovs-vswitchd)" >&2
  cargo build --release -q -p ferrovs-ovsdb -p ferrovs-vswitchd \
    --bin ferrovs-ovsdb-server --bin ferrovs-vswitchd
fi
if [ -z "${FVS_RT:-}" ] && [ "$RT_N" != 0 ]; then
  echo "== building the round-trip client (of_roundtrip)" >&2
  cargo build --release -q -p ferrovs-benches --bin of_roundtrip
fi
if [ -z "${FVS_NULL:-}" ]; then
  echo "== building the null switch (of_null_switch)" >&2
  cargo build --release -q -p ferrovs-benches --bin of_null_switch
fi
FVS_RT=${FVS_RT:-$PWD/target/release/of_roundtrip}
FVS_NULL=${FVS_NULL:-$PWD/target/release/of_null_switch}
FVS_DB=${FVS_DB:-$PWD/target/release/ferrovs-ovsdb-server}
FVS_SW=${FVS_SW:-$PWD/target/release/ferrovs-vswitchd}
for b in "$FVS_DB" "$FVS_SW" "$(command -v ovsdb-server)" "$(command -v ovs-vswitchd)" \
  "$(command -v ovs-ofctl)" "$(command -v ovsdb-tool)"; do
  [ -x "$b" ] || { echo "missing $b (run tests/run.sh once to install OVS)" >&2; exit 1; }
done

WORK=$(mktemp -d /var/tmp/ofproto-flows.XXXXXX)
NS_PREFIX="fvsfl$$"
PIDS=()
NULL_PID=
cleanup() {
  for p in "${PIDS[@]}" $NULL_PID; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in $(ip netns list | awk -v p="$NS_PREFIX" 'index($1, p) == 1 {print $1}'); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The flows: distinct IPv4 destinations in 198.18.0.0/15 over 16 priorities.
FLOWFILE=$WORK/flows.txt
awk -v n="$FLOWS" 'BEGIN {
  for (i = 0; i < n; i++)
    printf "priority=%d,ip,nw_dst=198.%d.%d.%d,actions=output:1\n",
      100 + i % 16, 18 + int(i / 65536) % 2, int(i / 256) % 256, i % 256
}' > "$FLOWFILE"

# start NAME: database server + switch + bridge br0 with one dummy port.
# Sets SW_PID and OFCTL_TARGET.
start() {
  local name=$1 dir=$WORK/$1 ns="$NS_PREFIX$1"
  rm -rf "$dir"; mkdir -p "$dir"
  ovsdb-tool create "$dir/conf.db" "$SCHEMA"
  local dbbin=ovsdb-server
  [ "$name" = ferrovs ] && dbbin=$FVS_DB
  "$dbbin" "$dir/conf.db" --remote="punix:$dir/db.sock" --unixctl="$dir/db.ctl" \
    >"$dir/db.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -S "$dir/db.sock" ] && break; sleep 0.05; done
  ovs-vsctl --db="unix:$dir/db.sock" --no-wait init
  ip netns add "$ns"
  if [ "$name" = ferrovs ]; then
    FERROVS_RUNDIR=$dir ip netns exec "$ns" "$FVS_SW" "unix:$dir/db.sock" \
      --unixctl="$dir/sw.ctl" --log-file="$dir/sw.log" >/dev/null 2>&1 &
  else
    OVS_RUNDIR=$dir ip netns exec "$ns" ovs-vswitchd "unix:$dir/db.sock" \
      --enable-dummy --disable-system --unixctl="$dir/sw.ctl" \
      --log-file="$dir/sw.log" >/dev/null 2>&1 &
  fi
  SW_PID=$!
  PIDS+=("$SW_PID")
  for _ in $(seq 200); do [ -S "$dir/sw.ctl" ] && break; sleep 0.05; done
  ovs-vsctl --db="unix:$dir/db.sock" --timeout=30 add-br br0 \
    -- set bridge br0 datapath_type=netdev fail_mode=secure \
    -- add-port br0 p1 -- set interface p1 type=dummy ofport_request=1
  OFCTL_TARGET="unix:$dir/br0.mgmt"
  for _ in $(seq 200); do [ -S "$dir/br0.mgmt" ] && break; sleep 0.05; done
}

stop() {
  kill "$SW_PID" 2>/dev/null || true
  wait "$SW_PID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  ip netns del "$NS_PREFIX$1" 2>/dev/null || true
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# CPU seconds (user + system, every thread) the process has used so far.
cpu_s() {
  awk -v t="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print ($12 + $13) / t}' "/proc/$1/stat"
}

# timed_sw CMD...: as `timed`, plus the switch's CPU seconds meanwhile.
timed_sw() {
  local c0 c1 r
  c0=$(cpu_s "$SW_PID")
  r=$(timed "$@")
  c1=$(cpu_s "$SW_PID")
  echo "$r $(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.4f", b - a}')"
}

timed() { # prints seconds of wall time of the command, then its CPU time
  # The clock is read by the shell itself right around the command (no
  # `date` processes inside the interval: they added about 5 ms to every
  # figure, which pulls short commands' ratios towards 1).
  local t0 t1 cpu
  t0=$EPOCHREALTIME
  /usr/bin/time -o "$WORK/time.out" -f '%U %S' "$@" >/dev/null
  t1=$EPOCHREALTIME
  cpu=$(tail -1 "$WORK/time.out")
  awk -v a="$t0" -v b="$t1" -v c="$cpu" 'BEGIN {split(c, x, " "); printf "%.4f %.4f\n", b - a, x[1] + x[2]}'
}

RESULTS=$WORK/results.txt
: > "$RESULTS"
for run in $(seq "$RUNS"); do
  for name in ovs ferrovs; do
    echo "== run $run: $name" >&2
    start "$name"
    if [ "$name" = ferrovs ]; then
      # The null switch records ferrovs's table features and port
      # descriptions now, to answer with the same bytes (their parsing is
      # most of a short command's fixed cost); it serves after the switches.
      "$FVS_NULL" --sock "$WORK/null.sock" --like "${OFCTL_TARGET#unix:}" 2>"$WORK/null.log" &
      NULL_PID=$!
      for _ in $(seq 100); do [ -S "$WORK/null.sock" ] && break; sleep 0.05; done
    fi
    before=$(rss_kib "$SW_PID")
    t_add10=$(timed_sw ovs-ofctl -O OpenFlow10 add-flows "$OFCTL_TARGET" "$FLOWFILE")
    n=$(ovs-ofctl -O OpenFlow13 dump-aggregate "$OFCTL_TARGET" | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p')
    [ "$n" = "$FLOWS" ] || { echo "$name: $n flows installed, expected $FLOWS" >&2; exit 1; }
    after=$(rss_kib "$SW_PID")
    t_dump=$(timed_sw ovs-ofctl -O OpenFlow13 dump-flows "$OFCTL_TARGET")
    t_del=$(timed_sw ovs-ofctl -O OpenFlow13 del-flows "$OFCTL_TARGET")
    t_del_empty=$(timed_sw ovs-ofctl -O OpenFlow13 del-flows "$OFCTL_TARGET")
    rt="0 0"
    if [ "$RT_N" != 0 ]; then
      rt=$("$FVS_RT" --sock "${OFCTL_TARGET#unix:}" --n "$RT_N" --version 10 | awk '{print $2}' | tr '\n' ' ')
    fi
    t_add14b=$(timed_sw ovs-ofctl -O OpenFlow14 --bundle add-flows "$OFCTL_TARGET" "$FLOWFILE")
    n=$(ovs-ofctl -O OpenFlow13 dump-aggregate "$OFCTL_TARGET" | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p')
    [ "$n" = "$FLOWS" ] || { echo "$name: $n flows after the bundle, expected $FLOWS" >&2; exit 1; }
    per_rule=$(awk -v a="$after" -v b="$before" -v n="$FLOWS" 'BEGIN {print (a - b) * 1024 / n}')
    {
      set -- $t_add10; echo "$name add10_s $1"; echo "$name add10_cli_s $2"; echo "$name add10_sw_s $3"
      set -- $t_dump; echo "$name dump_s $1"; echo "$name dump_cli_s $2"; echo "$name dump_sw_s $3"
      set -- $t_del; echo "$name del_s $1"; echo "$name del_cli_s $2"; echo "$name del_sw_s $3"
      set -- $t_del_empty; echo "$name del_empty_s $1"; echo "$name del_empty_cli_s $2"
      set -- $rt; echo "$name rt10_us $1"; echo "$name rt10_cli_us $2"
      set -- $t_add14b; echo "$name add14_bundle_s $1"; echo "$name add14_bundle_cli_s $2"
      echo "$name add14_bundle_sw_s $3"
      echo "$name rss_mib $(awk -v a="$after" 'BEGIN {print a / 1024}')"
      echo "$name bytes_per_rule $per_rule"
    } >> "$RESULTS"
    stop "$name"
  done
  echo "== run $run: null switch (the client floor)" >&2
  {
    set -- $(timed ovs-ofctl -O OpenFlow10 add-flows "unix:$WORK/null.sock" "$FLOWFILE")
    echo "null add10_s $1"
    set -- $(timed ovs-ofctl -O OpenFlow14 --bundle add-flows "unix:$WORK/null.sock" "$FLOWFILE")
    echo "null add14_bundle_s $1"
    set -- $(timed ovs-ofctl -O OpenFlow13 del-flows "unix:$WORK/null.sock")
    echo "null del_empty_s $1"
  } >> "$RESULTS"
  kill "$NULL_PID"; wait "$NULL_PID" 2>/dev/null || true
  NULL_PID=
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
printf "\n%-16s %12s %12s %10s\n" metric ovs ferrovs ovs/ferrovs
for m in add10_s add10_cli_s add10_sw_s add14_bundle_s add14_bundle_cli_s add14_bundle_sw_s \
  dump_s dump_cli_s dump_sw_s del_s del_cli_s del_sw_s del_empty_s del_empty_cli_s \
  rt10_us rt10_cli_us rss_mib bytes_per_rule; do
  o=$(awk -v m="$m" '$1=="ovs" && $2==m {print $3}' "$RESULTS" | median)
  f=$(awk -v m="$m" '$1=="ferrovs" && $2==m {print $3}' "$RESULTS" | median)
  printf "%-16s %12.3f %12.3f %10.2f\n" "$m" "$o" "$f" "$(awk -v o="$o" -v f="$f" 'BEGIN {print (f > 0) ? o / f : 0}')"
done
echo "($RUNS runs, $FLOWS flows; times in seconds, wall clock of ovs-ofctl; *_cli_s: CPU time of ovs-ofctl itself;"
echo " *_sw_s: CPU time of the switch during the command; rt10_*: µs per round trip, $RT_N round trips;"
echo " load average: $(cut -d' ' -f1-3 /proc/loadavg))"

# The client floor: each command against the null switch (dump: ovs-ofctl's
# own CPU time against ferrovs; del: del_empty against the null switch).
# max_ratio = OVS / floor, the most any switch could gain on OVS with this
# client; ferrovs_over_floor = ferrovs / floor (1.00: as fast as a switch
# that costs nothing).
printf "\n%-16s %10s %10s %10s %10s %18s\n" command ovs_s ferrovs_s floor_s max_ratio ferrovs_over_floor
for m in add10 add14_bundle dump del; do
  o=$(awk -v m="${m}_s" '$1=="ovs" && $2==m {print $3}' "$RESULTS" | median)
  f=$(awk -v m="${m}_s" '$1=="ferrovs" && $2==m {print $3}' "$RESULTS" | median)
  case $m in
    dump) c=$(awk '$1=="ferrovs" && $2=="dump_cli_s" {print $3}' "$RESULTS" | median) ;;
    del) c=$(awk '$1=="null" && $2=="del_empty_s" {print $3}' "$RESULTS" | median) ;;
    *) c=$(awk -v m="${m}_s" '$1=="null" && $2==m {print $3}' "$RESULTS" | median) ;;
  esac
  printf "%-16s %10.3f %10.3f %10.3f %10s %18s\n" "$m" "$o" "$f" "$c" \
    "$(awk -v o="$o" -v c="$c" 'BEGIN {if (c > 0) printf "%.2f", o / c; else print "-"}')" \
    "$(awk -v f="$f" -v c="$c" 'BEGIN {if (c > 0) printf "%.2f", f / c; else print "-"}')"
done
