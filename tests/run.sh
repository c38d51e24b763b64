#!/usr/bin/env bash
# The whole ferrovs test suite. Installs what the tests need when missing
# (Debian's OVS tools and network tools, a python venv with ovs and os-ken),
# then runs every test of the workspace. Run as root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: binary -> package.
declare -A need=(
  [ovs-vsctl]=openvswitch-common [ovs-ofctl]=openvswitch-common
  [ovsdb-tool]=openvswitch-common [ovsdb-client]=openvswitch-common
  [ovsdb-server]=openvswitch-switch [ovs-vswitchd]=openvswitch-switch
  [ip]=iproute2 [iperf3]=iperf3 [tcpdump]=tcpdump [tshark]=tshark
  [ethtool]=ethtool [ping]=iputils-ping
  [dnsmasq]=dnsmasq-base [busybox]=busybox [iptables]=iptables
)
missing=()
for bin in "${!need[@]}"; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$bin" >/dev/null 2>&1 || missing+=("${need[$bin]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "== installing Debian packages: $pkgs"
  apt-get update -qq
  # The OVS packages try to start their own daemons; tests start what they need.
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
export PATH="$PATH:/usr/sbin:/sbin"

# Python venv with the OVS IDL, os-ken (Neutron's OpenFlow library) and
# ovsdbapp (Neutron's OVSDB library).
venv="${FERROVS_VENV:-$HOME/.cache/ferrovs-venv}"
if ! "$venv/bin/python3" -c 'import ovs, os_ken, ovsdbapp' >/dev/null 2>&1; then
  echo "== creating python venv $venv (ovs, os-ken, ovsdbapp)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check ovs os-ken ovsdbapp
fi
export FERROVS_PYTHON="$venv/bin/python3"

# The router lab's FTP server and client run under the lab's python3.
if ! python3 -c 'import pyftpdlib' >/dev/null 2>&1; then
  echo "== installing pyftpdlib for python3 (FTP through ct alg=ftp in the router lab)"
  python3 -m pip install -q --disable-pip-version-check pyftpdlib \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages pyftpdlib
fi

echo "== cargo build --workspace --bins (the daemons the integration tests start)"
cargo build --workspace --bins
echo "== cargo test --workspace --all-targets --no-fail-fast"
cargo test --workspace --all-targets --no-fail-fast
