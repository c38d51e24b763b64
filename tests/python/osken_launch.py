"""Runs the os-ken applications of one test script as a controller that
listens for the switch on 127.0.0.1:PORT (inside the switch's network
namespace, so nothing leaves it).

os-ken 4.x ships no manager command; this is the part of Neutron's agent
start-up that matters here: set the listen address, load the app modules,
run them until the process is killed.
"""
import sys


def run(modules, port):
    from os_ken import cfg
    from os_ken.base import app_manager
    import os_ken.controller.controller  # noqa: F401  (registers ofp-* options)

    import logging
    import os
    level = logging.DEBUG if os.environ.get("FERROVS_OSKEN_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cfg.CONF(args=[], project="os_ken")
    cfg.CONF.set_override("ofp_listen_host", "127.0.0.1")
    cfg.CONF.set_override("ofp_tcp_listen_port", port)
    app_manager.AppManager.run_apps(modules)


def say(*words):
    """One line to the Rust test that drives the script."""
    print(*words, flush=True)
    sys.stdout.flush()
