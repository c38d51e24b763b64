#!/bin/sh
# ferrovs against Open vSwitch 3.1 and the Linux bridge on this machine:
# builds the release binaries and runs `ferrovs bench` (as root: it makes
# network namespaces and veth pairs, all removed at the end or on Ctrl-C).
# Arguments go to `ferrovs bench` (--contenders, --duration, --out, or
# --datapath for the in-memory datapath figures). Results: bench-results/.
set -eu
cd "$(dirname "$0")/../.."
cargo build --release -p ferrovs -p ferrovs-vswitchd -p ferrovs-ovsdb
exec target/release/ferrovs bench "$@"
