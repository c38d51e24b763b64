#!/usr/bin/env python3
"""Drive an OVSDB server with the python `ovs` IDL (the library of
ovsdbapp / Neutron): read the replica, insert, update, and watch changes
made by someone else.

Usage: ovsdb_idl_check.py unix:SOCK [--reconnect]

Protocol with the calling test (one line each, on stdout):
  INITIAL <sorted bridge names>      replica after the first sync
  INSERTED <uuid of br-py>           our insert committed
  UPDATED                            our update committed
  READY                              now make external changes
  EVENT <create|update|delete> Bridge <name> [<changed columns>]
  DONE                               after the delete of br-ext was seen
With --reconnect, then:
  RESTART                            now restart the server, add br-after
  RESYNCED <sorted bridge names>     replica after the IDL reconnected and
                                     saw br-after created
Any failure prints `FAIL <reason>` and exits 1.
"""

import sys
import time

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream

TIMEOUT = 10.0


def say(*words):
    print(*words, flush=True)


def fail(reason):
    say("FAIL", reason)
    sys.exit(1)


def fetch_schema(remote):
    err, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(remote))
    if err:
        fail("cannot connect to %s: %s" % (remote, err))
    rpc = ovs.jsonrpc.Connection(stream)
    err, reply = rpc.transact_block(
        ovs.jsonrpc.Message.create_request("get_schema", ["Open_vSwitch"]))
    if err or reply.error:
        fail("get_schema: %s %s" % (err, reply and reply.error))
    rpc.close()
    return reply.result


class WatchingIdl(ovs.db.idl.Idl):
    """An IDL that records row events once `watching` is set."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.watching = False
        self.events = []

    def notify(self, event, row, updates=None):
        if not self.watching or row._table.name != "Bridge":
            return
        name = getattr(row, "name", None)
        if name is None and updates is not None:
            name = getattr(updates, "name", "?")
        cols = ""
        if event == ovs.db.idl.ROW_UPDATE and updates is not None:
            cols = ",".join(sorted(updates._data.keys()))
        self.events.append((event, name, cols))


def run_until(idl, pred, what):
    deadline = time.time() + TIMEOUT
    while True:
        idl.run()
        if pred():
            return
        if time.time() > deadline:
            fail("timed out waiting for " + what)
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()


def commit(idl, txn, what):
    deadline = time.time() + TIMEOUT
    while True:
        status = txn.commit()
        if status not in (ovs.db.idl.Transaction.INCOMPLETE,
                          ovs.db.idl.Transaction.UNCOMMITTED):
            break
        if time.time() > deadline:
            fail("timed out committing " + what)
        idl.run()
        poller = ovs.poller.Poller()
        idl.wait(poller)
        txn.wait(poller)
        poller.timer_wait(100)
        poller.block()
    if status not in (ovs.db.idl.Transaction.SUCCESS,
                      ovs.db.idl.Transaction.UNCHANGED):
        fail("%s: %s (%s)" % (what, status, txn.get_error()))


def bridge(idl, name):
    for row in idl.tables["Bridge"].rows.values():
        if row.name == name:
            return row
    return None


def main():
    remote = sys.argv[1]
    helper = ovs.db.idl.SchemaHelper(schema_json=fetch_schema(remote))
    helper.register_table("Open_vSwitch")
    helper.register_table("Bridge")
    helper.register_table("Port")
    helper.register_table("Interface")
    idl = WatchingIdl(remote, helper)
    run_until(idl, lambda: idl.has_ever_connected()
              and len(idl.tables["Open_vSwitch"].rows) == 1, "initial sync")
    names = sorted(r.name for r in idl.tables["Bridge"].rows.values())
    say("INITIAL", " ".join(names))

    # Insert a bridge with one internal port, the way ovs-vsctl does.
    txn = ovs.db.idl.Transaction(idl)
    txn.add_comment("python ovs IDL insert")
    iface = txn.insert(idl.tables["Interface"])
    iface.name = "br-py"
    iface.type = "internal"
    port = txn.insert(idl.tables["Port"])
    port.name = "br-py"
    port.interfaces = [iface]
    br = txn.insert(idl.tables["Bridge"])
    br.name = "br-py"
    br.ports = [port]
    root = next(iter(idl.tables["Open_vSwitch"].rows.values()))
    root.verify("bridges")
    root.bridges = list(root.bridges) + [br]
    commit(idl, txn, "insert")
    uuid = txn.get_insert_uuid(br.uuid)
    if uuid is None:
        fail("no uuid for the inserted bridge")
    run_until(idl, lambda: bridge(idl, "br-py") is not None, "br-py in replica")
    if bridge(idl, "br-py").uuid != uuid:
        fail("replica uuid %s != insert uuid %s" % (bridge(idl, "br-py").uuid, uuid))
    say("INSERTED", uuid)

    # Update it.
    txn = ovs.db.idl.Transaction(idl)
    row = bridge(idl, "br-py")
    row.external_ids = {"py": "yes"}
    row.fail_mode = ["secure"]
    commit(idl, txn, "update")
    run_until(idl, lambda: bridge(idl, "br-py").external_ids.get("py") == "yes",
              "update in replica")
    say("UPDATED")

    # Watch changes made by someone else.
    idl.watching = True
    say("READY")
    seen = 0
    deadline = time.time() + 3 * TIMEOUT
    while True:
        idl.run()
        while seen < len(idl.events):
            event, name, cols = idl.events[seen]
            seen += 1
            say("EVENT", event, "Bridge", name, cols)
            if event == ovs.db.idl.ROW_DELETE and name == "br-ext":
                say("DONE")
                if "--reconnect" in sys.argv:
                    resync(idl)
                return
        if time.time() > deadline:
            fail("timed out watching changes")
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()


def resync(idl):
    """The server restarts under us; the IDL reconnects by itself."""
    idl.events = []
    say("RESTART")
    deadline = time.time() + 3 * TIMEOUT
    while True:
        idl.run()
        if any(e[0] == ovs.db.idl.ROW_CREATE and e[1] == "br-after"
               for e in idl.events):
            names = sorted(r.name for r in idl.tables["Bridge"].rows.values())
            say("RESYNCED", " ".join(names))
            return
        if time.time() > deadline:
            fail("timed out waiting for br-after after the restart")
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()


if __name__ == "__main__":
    main()
