#!/usr/bin/env python3
"""os-ken's OpenFlow switch test tool (os_ken.tests.switch.tester, with its
JSON cases) against ferrovs and against Debian's OVS in the same run.

For each switch: a database server and the switch run in a network
namespace of their own; two bridges, br-target (dpid 1) and br-tester
(dpid 2), are joined port to port by patch ports 1-1, 2-2, 3-3 (the
tool's default wiring); both bridges have the controller
tcp:127.0.0.1:PORT inside that namespace, where the tester app listens.
Nothing leaves the namespaces.

Each suite (a directory of JSON cases, e.g. of13/match) runs once; the
files with a failing case run a second time, and both passes are
reported separately. The tool is timing-sensitive, so its wait timer
(3 s in the tool) is raised (--wait).

Run as root with the python of the test venv (ovs, os-ken):
  $FERROVS_PYTHON benches/scripts/osken-switch-test.py \
      [--bin target/debug] [--suites of13/match,of13/action,...] \
      [--wait 10] [--suite-timeout 1800] [--only ferrovs|ovs]
      [--files REGEX] [--sequential]
(the tool's own log of each switch goes to $FERROVS_SWTEST_LOGS,
default /tmp/fvs-swtest-logs; FERROVS_SWTEST_DEBUG=1 logs os-ken's events too)

Status: the tool runs on os-ken's eventlet hub (see run_tester_inside;
on the default native hub it stalled after its first barrier reply).
A partial run (2026-12-07, debug build, 2 busy cores, both at once):
  --suites of13/match,of13/action --files '^(0[0-7]|1[1-2]|2[12])_' --wait 5
  suite        switch       first pass    after rerun   (passed/failed/errors)
  of13/match   ferrovs    155 / 28 / 0   155 / 28 / 0
  of13/match   ovs       141 / 21 / 21  141 / 21 / 21
  of13/action  ferrovs     23 / 15 / 0    23 / 15 / 0
  of13/action  ovs         23 / 4 / 11    23 / 4 / 11
  no case that OVS passes fails on ferrovs. ferrovs's failures: a field
  matched after pop_mpls / pop_pbb + goto_table (no recirculation to
  parse the inner headers), copy_ttl_in/out, set_field eth_type; the
  full suites (of10, of14, of13 group/meter, all of match/action) not run
  yet; the group and meter cases measure throughput and take ~1 min each.
  --suites of13/meter --files '^01_DROP_00_KBPS_00_1M': both 0 / 3 / 0;
  OVS reports the meter back changed (burst_size 0 for 1000), ferrovs lets ~1.9 of 2 Mbps
  through its 1 Mbps drop meter (the tool's packets are packet-outs).

Prints per suite passed / failed for both switches (first pass, after
rerun) and the cases where ferrovs fails and OVS passes.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import os_ken

SWITCH_TESTS = os.path.join(os.path.dirname(os_ken.__file__), "tests", "switch")
PORT = 6653
LOGDIR = os.environ.get("FERROVS_SWTEST_LOGS", "/tmp/fvs-swtest-logs")
VERSION = {"of10": "openflow10", "of13": "openflow13", "of14": "openflow14"}
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


def sh(*argv, env=None, check=True):
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r.stdout


def wait_for(path, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{path} did not appear within {secs} s")


# Everything a stopped run must remove (the signal handler closes them).
LIVE_SWITCHES, LIVE_TOOLS = [], []


def stop_everything(*_):
    for p in list(LIVE_TOOLS):
        p.kill()
    for sw in list(LIVE_SWITCHES):
        sw.close()
    os._exit(1)


class Switch:
    """A database server and a switch (ferrovs or OVS) in a namespace."""

    def __init__(self, kind, bindir):
        LIVE_SWITCHES.append(self)
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"fvs-swtest-{kind}-")
        self.ns = f"fvs-swt-{kind[:3]}-{os.getpid() & 0xffff:x}"
        self.procs = []
        self.env = dict(os.environ, OVS_RUNDIR=self.dir, OVS_DBDIR=self.dir,
                        OVS_LOGDIR=self.dir, OVS_SYSCONFDIR=self.dir,
                        FERROVS_RUNDIR=self.dir)
        d = self.dir
        sh("ovsdb-tool", "create", f"{d}/conf.db", SCHEMA)
        server = (os.path.join(bindir, "ferrovs-ovsdb-server")
                  if kind == "ferrovs" else "ovsdb-server")
        self.spawn([server, f"{d}/conf.db", f"--remote=punix:{d}/db.sock",
                    f"--unixctl={d}/ovsdb.ctl"] +
                   ([f"--log-file={d}/ovsdb.log", "-vconsole:off"]
                    if kind == "ovs" else []), "ovsdb")
        wait_for(f"{d}/db.sock")
        self.vsctl("--no-wait", "init")
        sh("ip", "netns", "add", self.ns)
        sh("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up")
        if kind == "ferrovs":
            sw = [os.path.join(bindir, "ferrovs-vswitchd"), f"unix:{d}/db.sock",
                  f"--unixctl={d}/switch.ctl", f"--log-file={d}/switch.log",
                  f"--pidfile={d}/switch.pid"]
        else:
            sw = ["ovs-vswitchd", f"unix:{d}/db.sock", f"--unixctl={d}/switch.ctl",
                  f"--log-file={d}/switch.log", f"--pidfile={d}/switch.pid",
                  "-vconsole:off"]
        self.spawn(["ip", "netns", "exec", self.ns] + sw, "switch")
        wait_for(f"{d}/switch.ctl")
        protocols = "protocols=OpenFlow10,OpenFlow13,OpenFlow14"
        args = []
        for br, dpid in (("br-target", 1), ("br-tester", 2)):
            args += ["--", "add-br", br, "--", "set", "bridge", br,
                     "datapath_type=netdev", "fail_mode=secure", protocols,
                     f"other_config:datapath-id={dpid:016x}"]
        for n in (1, 2, 3):
            for br, me, peer in (("br-target", f"t{n}", f"s{n}"),
                                 ("br-tester", f"s{n}", f"t{n}")):
                args += ["--", "add-port", br, me, "--", "set", "interface", me,
                         "type=patch", f"options:peer={peer}", f"ofport_request={n}"]
        self.vsctl(*args)
        ctl = f"tcp:127.0.0.1:{PORT}"
        self.vsctl("--", "set-controller", "br-target", ctl,
                   "--", "set-controller", "br-tester", ctl,
                   "--", "set", "controller", "br-target", "max_backoff=1000",
                   "--", "set", "controller", "br-tester", "max_backoff=1000")

    def spawn(self, argv, name):
        out = open(os.path.join(self.dir, f"{name}.out"), "w")
        self.procs.append(subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=subprocess.STDOUT))

    def vsctl(self, *args):
        return sh("ovs-vsctl", f"--db=unix:{self.dir}/db.sock", "--timeout=30",
                  *args, env=self.env)

    def close(self):
        if self in LIVE_SWITCHES:
            LIVE_SWITCHES.remove(self)
        for p in reversed(self.procs):
            p.kill()
            p.wait()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def file_descriptions(suite_dir):
    """JSON file path -> its description (the file's first element)."""
    out = {}
    for root, _, files in os.walk(suite_dir):
        for f in sorted(files):
            if f.endswith(".json"):
                p = os.path.join(root, f)
                with open(p) as fh:
                    out[p] = json.load(fh)[0]
    return out


CASE = re.compile(r"^    (.*\S)\s+(OK|ERROR)\s*$")
DETAIL = re.compile(r"^        (\S.*)$")


def outcome(detail):
    """A failing case's class from the tool's reason: 'error' when the
    switch never answered or answered with an OFPT_ERROR (the tool's
    TestTimeout / TestReceiveError), 'failed' when it answered wrongly."""
    if ("OFPErrorMsg" in detail or "Disconnected" in detail or
            (detail.endswith("timeout.") and "Receiving timeout" not in detail)):
        return "error"
    return "failed"


def run_tester(sw, suite_dir, version, wait, timeout):
    """Runs the tool on `suite_dir` against `sw`; returns
    {(file description, case description): (outcome, reason)}, outcome
    'ok', 'failed' or 'error' (see outcome())."""
    files = file_descriptions(suite_dir)
    descs = set(files.values())
    cmd = ["ip", "netns", "exec", sw.ns, sys.executable, "-u", "-W", "ignore",
           os.path.abspath(__file__), "--run-tester", suite_dir, version, str(wait)]
    # The tool needs os-ken's eventlet hub (see run_tester_inside).
    env = dict(os.environ, OSKEN_HUB_TYPE="eventlet")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env)
    LIVE_TOOLS.append(p)
    results, current, last = {}, None, None
    # A tool that stalls without printing is stopped all the same.
    watchdog = threading.Timer(timeout, p.kill)
    watchdog.start()
    log = open(os.path.join(LOGDIR, f"{sw.kind}-tester.log"), "a", buffering=1)
    try:
        for line in p.stdout:
            log.write(line)
            line = line.rstrip("\n")
            if line in descs:
                current = line
            m = CASE.match(line)
            if m and current is not None:
                last = (current, m.group(1))
                results[last] = ("ok" if m.group(2) == "OK" else "error", "")
                continue
            d = DETAIL.match(line)
            if d and last is not None and results[last][0] != "ok":
                results[last] = (outcome(d.group(1)), d.group(1))
            last = None
            if "Test end" in line:
                break
    finally:
        watchdog.cancel()
        p.send_signal(signal.SIGINT)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        LIVE_TOOLS.remove(p)
    return results, files


def subset(suite_dir, pattern):
    """A directory with the suite's JSON files whose name matches `pattern`."""
    d = tempfile.mkdtemp(prefix="fvs-swtest-subset-")
    for path in file_descriptions(suite_dir):
        if re.search(pattern, os.path.basename(path)):
            shutil.copy(path, d)
    return d


def suite(sw, name, wait, timeout, files_re=None):
    """First pass and rerun of the failing files: (first, after_rerun)."""
    suite_dir = os.path.join(SWITCH_TESTS, name)
    version = VERSION[name.split("/")[0]]
    if files_re:
        suite_dir = subset(suite_dir, files_re)
    try:
        return rerun(sw, suite_dir, version, wait, timeout)
    finally:
        if files_re:
            shutil.rmtree(suite_dir, ignore_errors=True)


def rerun(sw, suite_dir, version, wait, timeout):
    first, files = run_tester(sw, suite_dir, version, wait, timeout)
    failed_files = {f for (f, _), r in first.items() if r[0] != "ok"}
    after = dict(first)
    if failed_files:
        redo = tempfile.mkdtemp(prefix="fvs-swtest-rerun-")
        try:
            for path, desc in files.items():
                if desc in failed_files:
                    shutil.copy(path, redo)
            again, _ = run_tester(sw, redo, version, wait, timeout)
            for k, r in again.items():
                if first.get(k, ("",))[0] != "ok":
                    after[k] = r
        finally:
            shutil.rmtree(redo, ignore_errors=True)
    return first, after


def counts(res):
    """(passed, failed, errors)."""
    kinds = [r[0] for r in res.values()]
    return kinds.count("ok"), kinds.count("failed"), kinds.count("error")


def run_tester_inside(suite_dir, version, wait):
    """The tester app itself (runs inside a switch's namespace).

    It runs on os-ken's eventlet hub, as os-ken's own manager ran it:
    os-ken 4.x defaults to a 'native' hub of OS threads on which the tool
    cannot work. There hub.Timeout is never armed (the tool creates it
    without starting it), so a wait for a reply that never comes blocks
    for ever; and a reply handled on the connection's thread before the
    test thread has created its waiter is dropped. That was the stall
    after the first barrier reply."""
    assert os.environ.get("OSKEN_HUB_TYPE") == "eventlet"
    from os_ken.lib import hub
    hub.patch(thread=False)
    import logging
    from os_ken import cfg
    from os_ken.base import app_manager
    import os_ken.controller.controller  # noqa: F401
    import os_ken.flags  # noqa: F401
    import os_ken.log  # noqa: F401  (registers log-file, which the tool reads)
    from os_ken.tests.switch import tester

    tester.WAIT_TIMER = wait
    level = logging.DEBUG if os.environ.get("FERROVS_SWTEST_DEBUG") else logging.INFO
    logging.basicConfig(level=level, stream=sys.stdout, format="%(message)s")
    cfg.CONF(args=["--test-switch-dir", suite_dir,
                   "--test-switch-target", "0000000000000001",
                   "--test-switch-tester", "0000000000000002",
                   "--test-switch-target-version", version,
                   "--test-switch-tester-version", version],
             project="os_ken")
    cfg.CONF.set_override("ofp_listen_host", "127.0.0.1")
    cfg.CONF.set_override("ofp_tcp_listen_port", PORT)
    app_manager.AppManager.run_apps(["os_ken.tests.switch.tester"])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--run-tester":
        run_tester_inside(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        return
    # A stopped run still removes its daemons, namespaces and directories.
    signal.signal(signal.SIGTERM, stop_everything)
    signal.signal(signal.SIGINT, stop_everything)
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/debug")
    ap.add_argument("--suites", default="of13/match,of13/action,of13/group,"
                    "of13/meter,of10,of14")
    ap.add_argument("--wait", type=float, default=10.0)
    ap.add_argument("--suite-timeout", type=float, default=1800.0)
    ap.add_argument("--only", choices=["ferrovs", "ovs"])
    ap.add_argument("--files", help="only the JSON files whose name matches "
                    "this regex, in every suite (a quicker partial run)")
    ap.add_argument("--sequential", action="store_true",
                    help="one switch after the other (default: both at once)")
    a = ap.parse_args()
    kinds = [a.only] if a.only else ["ferrovs", "ovs"]
    shutil.rmtree(LOGDIR, ignore_errors=True)
    os.makedirs(LOGDIR)
    print(f"# tester logs in {LOGDIR}", flush=True)
    table = {}

    def run_switch(kind):
        sw = Switch(kind, os.path.abspath(a.bin))
        try:
            for name in a.suites.split(","):
                t0 = time.time()
                table[(kind, name)] = suite(sw, name, a.wait, a.suite_timeout,
                                          a.files)
                print(f"# {kind} {name}: first pass %d passed %d failed %d errors "
                      % counts(table[(kind, name)][0]) +
                      f"({time.time() - t0:.0f} s)", flush=True)
        finally:
            sw.close()

    # Each switch has its own namespace (and controller port in it), so
    # both can run at once; --sequential halves the load on a small machine.
    if a.sequential:
        for kind in kinds:
            run_switch(kind)
    else:
        threads = [threading.Thread(target=run_switch, args=(k,)) for k in kinds]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print()
    print("passed / failed / errors (error: no reply in time or an OFPT_ERROR)")
    print(f"{'suite':<12} {'switch':<8} {'first pass':>14} {'after rerun':>14}")
    for name in a.suites.split(","):
        for kind in kinds:
            if (kind, name) not in table:
                print(f"{name:<12} {kind:<8} {'not run':>14}")
                continue
            first, after = table[(kind, name)]
            print(f"{name:<12} {kind:<8} {'%d / %d / %d' % counts(first):>14} "
                  f"{'%d / %d / %d' % counts(after):>14}")
    if len(kinds) == 2:
        print("\ncases ferrovs fails and OVS passes (after rerun), with ferrovs's reason:")
        for name in a.suites.split(","):
            if ("ferrovs", name) not in table or ("ovs", name) not in table:
                continue
            fv, ovs = table[("ferrovs", name)][1], table[("ovs", name)][1]
            for k in sorted(ovs):
                if ovs[k][0] == "ok" and fv.get(k, ("",))[0] != "ok":
                    why = fv[k][1] if k in fv else "not run"
                    print(f"  {name}: {k[0]} / {k[1]}\n      {why}")


if __name__ == "__main__":
    main()
