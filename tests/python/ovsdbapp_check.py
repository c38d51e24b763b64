"""The calls Neutron's OVS agent makes through ovsdbapp (its OVSDB library,
on the python `ovs` IDL), against a running database server and switch.

Usage: ovsdbapp_check.py REMOTE

Each observation is one line, in script order, so that the Rust test
compares what ferrovs and OVS give. Before the last step it prints WAITING
and waits (15 s) for a change made by someone else (the test runs
ovs-vsctl), which must arrive as a monitor event.
"""
import sys

from ovsdbapp.backend.ovs_idl import connection, event, idlutils
from ovsdbapp.schema.open_vswitch import impl_idl


def say(*words):
    print(*words, flush=True)


class EventIdl(connection.OvsdbIdl):
    """An IDL that hands row changes to ovsdbapp's event handler, as
    Neutron's agent and OVN driver do."""

    def __init__(self, remote, helper):
        super().__init__(remote, helper)
        self.notify_handler = event.RowEventHandler()

    def notify(self, ev, row, updates=None):
        self.notify_handler.notify(ev, row, updates)


class Seen(event.WaitEvent):
    def __init__(self, events, table, conditions, what, test=None):
        super().__init__(events, table, conditions, timeout=15)
        self.what = what
        self.event_name = what
        self.test = test

    def match_fn(self, ev, row, old):
        return self.test is None or self.test(row)


def wait(ev):
    say(f"EVENT {ev.what} {'arrived' if ev.wait() else 'missing'}")


def attempt(label, cmd_or_txn):
    try:
        cmd_or_txn()
        say(f"{label} ok")
    except Exception as e:  # noqa: BLE001 (the class is the observation)
        kind = " constraint-violation" if "constraint violation" in str(e) else ""
        say(f"{label} {type(e).__name__}{kind}")


def main(remote):
    helper = idlutils.get_schema_helper(remote, "Open_vSwitch")
    helper.register_all()
    idl = EventIdl(remote, helper)
    conn = connection.Connection(idl=idl, timeout=20)
    api = impl_idl.OvsdbIdl(conn)
    watch = idl.notify_handler.watch_event

    br_created = Seen((event.RowEvent.ROW_CREATE,), "Bridge",
                      (("name", "=", "br-int"),), "bridge-created")
    watch(br_created)
    api.add_br("br-int", datapath_type="netdev").execute(check_error=True)
    wait(br_created)
    say("BR_EXISTS", api.br_exists("br-int").execute(check_error=True))
    say("LIST_BR", api.list_br().execute(check_error=True))

    ofport = Seen((event.RowEvent.ROW_UPDATE,), "Interface",
                  (("name", "=", "tap1"),), "tap1-ofport",
                  lambda row: row.ofport and row.ofport[0] > 0)
    watch(ofport)
    with api.transaction(check_error=True) as txn:
        txn.add(api.add_port("br-int", "tap1", type="dummy"))
        txn.add(api.db_set(
            "Interface", "tap1",
            ("external_ids", {"iface-id": "vm1-port",
                              "attached-mac": "fa:16:3e:00:00:01",
                              "iface-status": "active"})))
        txn.add(api.db_set("Port", "tap1", ("tag", 5),
                           ("other_config", {"net_uuid": "net-1"})))
    wait(ofport)
    say("LIST_PORTS", api.list_ports("br-int").execute(check_error=True))
    say("PORT_TO_BR", api.port_to_br("tap1").execute(check_error=True))
    say("IFACE_TO_BR", api.iface_to_br("tap1").execute(check_error=True))
    port = api.db_get("Interface", "tap1", "ofport").execute(check_error=True)
    say("OFPORT_POSITIVE", port > 0)
    say("TYPE", api.db_get("Interface", "tap1", "type").execute(check_error=True))
    say("TAG", api.db_get("Port", "tap1", "tag").execute(check_error=True))
    ext = api.db_get("Interface", "tap1", "external_ids").execute(check_error=True)
    say("EXTERNAL_IDS", sorted(ext.items()))
    found = api.db_find("Port", ("tag", "=", 5),
                        columns=["name", "tag", "other_config"]).execute(
                            check_error=True)
    say("FIND_TAG", sorted((r["name"], r["tag"], sorted(r["other_config"].items()))
                           for r in found))
    found = api.db_find("Interface", ("external_ids", "=",
                                      {"iface-id": "vm1-port"}),
                        columns=["name"]).execute(check_error=True)
    say("FIND_IFACE_ID", sorted(r["name"] for r in found))
    found = api.db_find("Interface", ("type", "=", "internal"),
                        columns=["name", "ofport"]).execute(check_error=True)
    say("FIND_INTERNAL", sorted((r["name"], r["ofport"]) for r in found))

    # Retag, as the agent does when a port moves to another network.
    api.db_set("Port", "tap1", ("tag", 7)).execute(check_error=True)
    say("RETAG", api.db_get("Port", "tap1", "tag").execute(check_error=True))
    api.db_clear("Port", "tap1", "tag").execute(check_error=True)
    say("CLEARED", api.db_get("Port", "tap1", "tag").execute(check_error=True))

    # check_error turns failures into exceptions, and a failing transaction
    # commits nothing.
    attempt("ADD_BR_TWICE",
            lambda: api.add_br("br-int", may_exist=False).execute(
                check_error=True))
    attempt("SET_MISSING_ROW",
            lambda: api.db_set("Port", "nosuch", ("tag", 1), if_exists=False)
            .execute(check_error=True))

    def half_failing():
        with api.transaction(check_error=True) as txn:
            txn.add(api.add_br("br-half", datapath_type="netdev"))
            txn.add(api.db_set("Port", "nosuch", ("tag", 1), if_exists=False))
    attempt("HALF_FAILING_TXN", half_failing)
    say("BR_HALF_EXISTS", api.br_exists("br-half").execute(check_error=True))

    # A change made by someone else arrives as a monitor event.
    external = Seen((event.RowEvent.ROW_UPDATE,), "Port",
                    (("name", "=", "tap1"), ("external_ids", "=",
                                             {"by": "vsctl"})),
                    "external-change")
    watch(external)
    say("WAITING")
    wait(external)

    deleted = Seen((event.RowEvent.ROW_DELETE,), "Interface",
                   (("name", "=", "tap1"),), "tap1-deleted")
    watch(deleted)
    api.del_port("tap1").execute(check_error=True)
    wait(deleted)
    api.del_br("br-int").execute(check_error=True)
    say("LIST_BR", api.list_br().execute(check_error=True))
    say("DONE")
    conn.stop()


if __name__ == "__main__":
    main(sys.argv[1])
