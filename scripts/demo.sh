#!/usr/bin/env bash
# Starts a local 3-node Shoal cluster on loopback, runs a service on it and
# prints the cluster's status. `./scripts/demo.sh stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin/shoal
DIR=${SHOAL_DEMO_DIR:-/tmp/shoal-demo}

stop() {
  # Remove the demo's service first, so that the agents tear its task
  # networks down (namespaces, veths, leases, NAT rules), and note the
  # nodes' bridges (shoal + 10 hex digits of the node ID's SHA-256).
  local ids=""
  if SHOAL_ADDR=unix://$DIR/n1/shoal.sock "$BIN" cluster status >/dev/null 2>&1; then
    ids=$(SHOAL_ADDR=unix://$DIR/n1/shoal.sock "$BIN" node ls -o json | grep -o '"id": "[^"]*"' | cut -d'"' -f4)
    SHOAL_ADDR=unix://$DIR/n1/shoal.sock "$BIN" service rm hello >/dev/null 2>&1 || true
    for _ in $(seq 100); do
      ls "$DIR"/*/network/tasks/* >/dev/null 2>&1 || break
      sleep 0.2
    done
  fi
  for pidf in "$DIR"/*/agent.pid; do
    [ -f "$pidf" ] || continue
    kill "$(cat "$pidf")" 2>/dev/null || true
  done
  for pidf in "$DIR"/*/agent.pid; do
    [ -f "$pidf" ] || continue
    for _ in $(seq 100); do kill -0 "$(cat "$pidf")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidf"
  done
  # Workloads outlive agents by design; the demo cleans them up.
  pkill -f "$DIR/.*/runtime/process" 2>/dev/null || true
  [ -S "$DIR/ctr/containerd.sock" ] && ./scripts/containerd-env.sh stop "$DIR/ctr" >/dev/null 2>&1 || true
  # A stopped agent keeps its bridge, NAT table and service table for
  # the tasks that outlive it; the demo removes them with its tasks.
  for id in $ids; do
    h=$(printf %s "$id" | sha256sum | cut -c1-10)
    ip link del "shoal$h" 2>/dev/null || true
    ip link del "shoalvx${h:0:8}" 2>/dev/null || true
    nft delete table ip "shoal-$h" 2>/dev/null || true
    nft delete table ip "shoalsvc-$h" 2>/dev/null || true
  done
  echo "demo stopped (data in $DIR; rm -rf $DIR to forget it)"
}

if [ "${1:-}" = stop ]; then stop; exit 0; fi
[ -x "$BIN" ] || make build
stop >/dev/null 2>&1 || true
rm -rf "$DIR"; mkdir -p "$DIR"

# Containers when this host can run them (root, containerd and runc
# installed: scripts/install-deps.sh); host processes otherwise, or with
# SHOAL_DEMO_RUNTIME=process.
RUNTIME=(--runtime process)
if [ "${SHOAL_DEMO_RUNTIME:-}" != process ] && [ "$(id -u)" = 0 ] && command -v containerd >/dev/null && command -v runc >/dev/null && [ -f bin/hello.tar ]; then
  if SHOAL_REGISTRY_ADDR=127.0.0.1:15000 ./scripts/containerd-env.sh start "$DIR/ctr" >"$DIR/containerd-env.log" 2>&1; then
    RUNTIME=(--runtime containerd --runtime process --containerd-socket "$DIR/ctr/containerd.sock")
  else
    echo "(could not start containerd, see $DIR/containerd-env.log; the demo runs host processes)"
  fi
fi

start() { # name address gossip p2p extra...; the API is the socket $DIR/name/shoal.sock
  local name=$1 addr=$2 g=$3 p=$4; shift 4
  mkdir -p "$DIR/$name"
  # Each agent has a loopback address of its own (127.0.0.1-3), where it
  # also accepts the service's published port, as separate hosts would.
  "$BIN" agent --name "$name" --data-dir "$DIR/$name" --bind "$addr" \
    --gossip-port "$g" --p2p-port "$p" --api-socket "$DIR/$name/shoal.sock" "${RUNTIME[@]}" --containerd-namespace "demo-$name" "$@" \
    >"$DIR/$name/agent.log" 2>&1 &
  echo $! >"$DIR/$name/agent.pid"
}

wait_api() { # name
  for _ in $(seq 200); do
    SHOAL_ADDR=unix://$DIR/$1/shoal.sock "$BIN" cluster status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "agent $1 did not come up; see $DIR/$1/agent.log" >&2; exit 1
}

start n1 127.0.0.1 17946 17947 --bootstrap --label zone=a
wait_api n1
export SHOAL_ADDR=unix://$DIR/n1/shoal.sock
TOKEN=$("$BIN" token show -q)
# The join token goes in the environment, not the command line that
# every local user can read.
SHOAL_JOIN_TOKEN=$TOKEN start n2 127.0.0.2 27946 27947 --join 127.0.0.1:17947 --label zone=b
SHOAL_JOIN_TOKEN=$TOKEN start n3 127.0.0.3 37946 37947 --join 127.0.0.1:17947 --label zone=c
wait_api n2; wait_api n3
for _ in $(seq 200); do
  [ "$("$BIN" node ls -o json | grep -c '"status": "ready"')" = 3 ] && break; sleep 0.1
done

if [ "${RUNTIME[1]}" = containerd ]; then
  # The image goes to n1 only; n2 and n3 fetch it from n1 over libp2p.
  "$BIN" image load bin/hello.tar
  # Published on port 8080 of every node (ingress), balanced over the
  # three containers, each listening on :80 in its own network namespace.
  "$BIN" service create hello --replicas 3 --image shoal/hello:v1 --publish 8080:80
  "$BIN" image ls
else
  # Host processes listen on their node's own address ($SHOAL_TASK_IP),
  # on the target port 9000 ($PORT); every node publishes 8080.
  "$BIN" service create hello --replicas 3 --max-per-node 1 --runtime process --publish 8080:9000 \
    -- sh -c "HOST=\$SHOAL_TASK_IP exec $PWD/bin/hello"
fi
"$BIN" service ls
"$BIN" service ps hello
if command -v curl >/dev/null; then
  echo
  for addr in 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.1 127.0.0.2 127.0.0.3; do
    printf '$ curl http://%s:8080/   ' "$addr"
    curl -s --max-time 5 --retry 5 --retry-all-errors --retry-delay 1 "http://$addr:8080/" || echo "(no answer)"
  done
fi
echo
"$BIN" cluster status
echo
"$BIN" node ls
cat <<MSG

The cluster runs in the background (data and logs in $DIR).
Try:   export SHOAL_ADDR=unix://$DIR/n1/shoal.sock
       bin/shoal service ls; bin/shoal service logs hello --tail 5
       curl http://127.0.0.2:8080/             # any node's published port
       kill -9 \$(cat $DIR/n1/agent.pid)   # kill the leader and watch it heal
Stop:  make demo-stop
MSG
