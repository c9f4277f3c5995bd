#!/usr/bin/env bash
# Starts or stops a private containerd and a loopback docker-registry for
# Shoal's containerd runtime tests (and for trying the runtime by hand).
#
#   scripts/containerd-env.sh start [DIR]   # idempotent
#   scripts/containerd-env.sh stop  [DIR]   # idempotent; removes DIR
#
# DIR (default $SHOAL_CTR_DIR or /run/shoal-test) holds everything:
#   containerd.sock          the containerd socket
#   containerd.toml / .log / .pid, root/, state/
#   registry.yml / .log / .pid, registry/   (the registry's storage)
# The registry listens on $SHOAL_REGISTRY_ADDR (default 127.0.0.1:5000),
# plain HTTP, no auth. Needs root, containerd, runc and docker-registry
# (scripts/install-deps.sh installs them).
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

CMD=${1:-}
DIR=${2:-${SHOAL_CTR_DIR:-/run/shoal-test}}
REG=${SHOAL_REGISTRY_ADDR:-127.0.0.1:5000}
SOCK=$DIR/containerd.sock

die() { echo "containerd-env: $*" >&2; exit 1; }

alive() { # pidfile
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

ctr_ok() { ctr --address "$SOCK" version >/dev/null 2>&1; }
reg_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/" 2>/dev/null)" = 200 ]; }

wait_for() { # what check pidfile log
  for _ in $(seq 200); do
    if $2; then return 0; fi
    alive "$3" || die "$1 exited during start; last log lines:
$(tail -n 20 "$4" 2>/dev/null)"
    sleep 0.05
  done
  die "$1 did not answer within 10s; see $4"
}

start_containerd() {
  if alive "$DIR/containerd.pid" && ctr_ok; then return 0; fi
  for b in containerd runc containerd-shim-runc-v2 ctr; do
    command -v "$b" >/dev/null || die "$b not found; run scripts/install-deps.sh"
  done
  mkdir -p "$DIR/root" "$DIR/state" "$DIR/opt"
  cat >"$DIR/containerd.toml" <<EOF
version = 2
root = "$DIR/root"
state = "$DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/opt"
EOF
  rm -f "$SOCK" "$SOCK.ttrpc"
  setsid containerd --config "$DIR/containerd.toml" >"$DIR/containerd.log" 2>&1 </dev/null &
  echo $! >"$DIR/containerd.pid"
  wait_for containerd ctr_ok "$DIR/containerd.pid" "$DIR/containerd.log"
}

start_registry() {
  if alive "$DIR/registry.pid" && reg_ok; then return 0; fi
  command -v docker-registry >/dev/null || die "docker-registry not found; run scripts/install-deps.sh"
  if reg_ok; then die "something else already serves a registry on $REG"; fi
  mkdir -p "$DIR/registry"
  cat >"$DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/registry
  delete:
    enabled: true
http:
  addr: $REG
EOF
  setsid docker-registry serve "$DIR/registry.yml" >"$DIR/registry.log" 2>&1 </dev/null &
  echo $! >"$DIR/registry.pid"
  wait_for docker-registry reg_ok "$DIR/registry.pid" "$DIR/registry.log"
}

stop_pid() { # pidfile
  alive "$1" || { rm -f "$1"; return 0; }
  local pid
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

# kill_tasks ends every task of the private containerd so that their shims
# exit, and deletes the containers (their snapshots go with the root dir).
kill_tasks() {
  ctr_ok || return 0
  local ns id
  for ns in $(ctr --address "$SOCK" namespaces ls -q 2>/dev/null); do
    for id in $(ctr --address "$SOCK" -n "$ns" tasks ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n "$ns" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr --address "$SOCK" -n "$ns" tasks ls -q 2>/dev/null); do
      for _ in $(seq 50); do
        ctr --address "$SOCK" -n "$ns" tasks delete "$id" >/dev/null 2>&1 && break
        sleep 0.1
      done
    done
    for id in $(ctr --address "$SOCK" -n "$ns" containers ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n "$ns" containers delete "$id" >/dev/null 2>&1 || true
      rm -rf "/run/containerd/runc/$ns/$id"
      for c in /sys/fs/cgroup/*/"$ns"/"$id"; do [ -d "$c" ] && rmdir "$c" 2>/dev/null || true; done
    done
    for c in /sys/fs/cgroup/*/"$ns" "/run/containerd/runc/$ns"; do [ -d "$c" ] && rmdir "$c" 2>/dev/null || true; done
  done
}

stop_all() {
  [ -d "$DIR" ] || return 0
  kill_tasks
  stop_pid "$DIR/containerd.pid"
  stop_pid "$DIR/registry.pid"
  # Unmount whatever is still mounted under DIR (deepest first).
  local m
  for m in $(findmnt -rn -o TARGET | { grep -F "$DIR/" || true; } | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$DIR"
}

case "$CMD" in
start)
  [ "$(id -u)" = 0 ] || die "must run as root"
  mkdir -p "$DIR"
  start_containerd
  start_registry
  echo "containerd: $SOCK"
  echo "registry:   $REG"
  ;;
stop)
  stop_all
  ;;
*)
  die "usage: $0 start|stop [DIR]"
  ;;
esac
