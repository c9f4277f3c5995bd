#!/usr/bin/env bash
# Installs what the containerd runtime tests need (containerd, runc,
# docker-registry, the CNI plugins in /usr/lib/cni and iptables, which the
# bridge and portmap plugins drive), what the chaos test's real partitions need (nft) and
# what the metrics test needs (prometheus, promtool) and the API tests'
# clients (curl, setpriv) and the service mesh benchmark's load generator
# (hey) with apt-get, only when
# a binary is missing. The packaged prometheus service is not left running:
# the metrics test runs its own server on a free port.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

missing=()
command -v containerd >/dev/null || missing+=(containerd)
command -v runc >/dev/null || missing+=(runc)
command -v docker-registry >/dev/null || missing+=(docker-registry)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v iptables >/dev/null || missing+=(iptables)
command -v nft >/dev/null || missing+=(nftables)
command -v promtool >/dev/null || missing+=(prometheus)
command -v curl >/dev/null || missing+=(curl)
command -v setpriv >/dev/null || missing+=(util-linux)
command -v hey >/dev/null || missing+=(hey)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: containerd, runc, docker-registry, CNI plugins, iptables, nft, prometheus, curl, setpriv and hey are installed"
  exit 0
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The package may start its service; stop it so nothing listens on :9090.
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus prometheus-node-exporter 2>/dev/null || true
  else
    $SUDO service prometheus stop 2>/dev/null || true
    $SUDO service prometheus-node-exporter stop 2>/dev/null || true
  fi
fi
