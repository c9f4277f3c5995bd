SHELL := /bin/bash
# Shoal — build, demo, tests and benchmarks.
GO      ?= go
BIN     := bin/shoal
export GOFLAGS := -buildvcs=false

.PHONY: image chaos chaos-netns deps bench-containers bench-scale all build demo demo-stop test unit integration vet fmt-check bench bench-failover bench-heal bench-scheduler bench-raft bench-young bench-restart bench-rollout bench-task-memory bench-net bench-mesh fuzz clean

all: build

build: image
	$(GO) build -o $(BIN) ./cmd/shoal

# The test and demo image: a static HTTP server (images/hello) built into
# an OCI tarball by cmd/mkimage (go-containerregistry).
image:
	CGO_ENABLED=0 $(GO) build -o bin/hello ./images/hello
	$(GO) run ./cmd/mkimage -binary bin/hello -path /hello -name shoal/hello:v1 -o bin/hello.tar

# A local 3-node cluster on loopback with a service running on it.
demo: build
	./scripts/demo.sh

demo-stop:
	./scripts/demo.sh stop

# The whole test suite: format and vet checks, unit tests under the race
# detector, then the integration tests against real agent processes. The
# containerd tests start their own private containerd and registry; deps
# installs the Debian packages they need when missing (root).
test: deps fmt-check vet unit integration

deps:
	./scripts/install-deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /integration) ./integration/harness/

integration:
	$(GO) test -count=1 -timeout 20m -v ./integration/ 2>&1 | tee /tmp/shoal-integration.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go'; test $${PIPESTATUS[0]} -eq 0
	$(GO) test -count=1 -timeout 20m -v ./integration/chaos/ 2>&1 | tee /tmp/shoal-chaos.log | grep -vE '^\[ *[0-9.]+s\]'; test $${PIPESTATUS[0]} -eq 0

# Leader failover: kill -9 the leader of a 3-voter loopback cluster N times.
bench-failover: build
	$(GO) test -count=1 -run XXX -bench BenchmarkFailover -benchtime 1x -timeout 20m ./integration/ -failover-kills=$${KILLS:-10}

# Healing: kill -9 a node (agent and tasks), then the leader, and time until
# their tasks run elsewhere; and 100 replicas from create to running.
bench-heal: build
	$(GO) test -count=1 -run XXX -bench 'BenchmarkHeal|BenchmarkCreate100' -benchtime 1x -timeout 20m ./integration/ -heal-kills=$${KILLS:-5}
	$(GO) test -count=3 -run XXX -bench BenchmarkTaskMemory -benchtime 1x -timeout 10m ./runtime/process/ -shoal-bin=$(abspath $(BIN)) -mem-tasks=50

# Containers: 20 replicas of an image only one of 3 nodes holds.
bench-containers: build
	$(GO) test -count=1 -run XXX -bench BenchmarkContainers20 -benchtime 1x -timeout 20m ./integration/
	$(GO) test -run XXX -bench 'BenchmarkBlobTransfer|BenchmarkLoopbackCopy' -count 5 ./p2p/blobs/
	$(GO) test -run XXX -bench BenchmarkCreateToRunning -count 5 ./runtime/containerd/

# Task networking in a lab of two namespaced nodes: throughput (MB of
# GET /bytes, RUNS transfers) and request latency (GETS small GETs) from a
# container on n1 to one on n2 over host-gw, against the nodes' own
# namespaces; assignment -> running with and without a namespace (STARTS
# each). Medians and ratios; VXLAN figures once the overlay lands.
bench-net: build
	$(GO) test -count=1 -run XXX -bench BenchmarkTaskNetwork -benchtime 1x -timeout 20m ./integration/ -net-mb=$${MB:-1000} -net-runs=$${RUNS:-5} -net-gets=$${GETS:-2000} -net-starts=$${STARTS:-5}

# A young cluster's first leader killed at a random (seeded) moment within
# 3s of the third join, KILLS rounds; and SIGTERM restarts in place.
# Service traffic: requests/s and p50/p99 latency (hey) through a task,
# its service's VIP and an ingress published port, on 3 loopback agents.
bench-mesh: build
	$(GO) test -count=1 -run XXX -bench BenchmarkServiceMesh -benchtime 1x -timeout 20m ./integration/ -mesh-duration=$${DURATION:-5s} -mesh-rounds=$${ROUNDS:-3} -mesh-conc=$${CONC:-16}

bench-young: build
	$(GO) test -count=1 -run XXX -bench BenchmarkYoungLeaderKill -benchtime 1x -timeout 30m ./integration/ -young-kills=$${KILLS:-20} -young-seed=$${SEED:-1}

# Rolling update of 100 container replicas, parallelism 10, start-first,
# under 100 new connections a second to n1's published port: time and failed requests.
bench-rollout: build
	$(GO) test -count=1 -run XXX -bench BenchmarkRollingUpdate -benchtime 1x -timeout 30m ./integration/ -rollout-replicas=$${REPLICAS:-100} -rollout-rounds=$${ROUNDS:-3}

bench-restart: build
	$(GO) test -count=1 -run XXX -bench BenchmarkRestartInPlace -benchtime 1x -timeout 20m ./integration/ -restart-rounds=$${ROUNDS:-5}

# Host memory each running process-runtime task costs beyond its workload
# (summed PSS and RSS of the shims/keeper supervising TASKS sleep tasks,
# with the real shoal binary), COUNT runs.
bench-task-memory:
	$(GO) build -o $(BIN) ./cmd/shoal
	$(GO) test -count=$${COUNT:-5} -run XXX -bench BenchmarkTaskMemory -benchtime 1x -timeout 10m ./runtime/process/ -shoal-bin=$(abspath $(BIN)) -mem-tasks=$${TASKS:-50}

# Scale: 3 real agents plus N simulated nodes (node/simnode) in one
# process; TASKS tasks to RUNNING, leader RSS/CPU, write p99 under load,
# 10% of the nodes killed at once. Table and leader CPU profiles go to
# /tmp/shoal-scale. RELAXED=1: Raft 1s/1s/500ms and gossip 1s/500ms timings.
bench-scale: build
	$(GO) test -count=1 -run XXX -bench BenchmarkScale -benchtime 1x -timeout 120m ./integration/scale/ -scale-nodes=$${NODES:-20,50,100} -scale-tasks=$${TASKS:-10000} -scale-timeout=$${PHASE_TIMEOUT:-5m} $${RELAXED:+-scale-relaxed} -scale-sim-nice=$${SIM_NICE:-0}

bench-scheduler:
	$(GO) test -run XXX -bench . -count 5 ./scheduler/

bench-raft:
	$(GO) test -run XXX -bench BenchmarkCommit -count 3 ./raft/

bench: bench-scheduler bench-raft bench-failover bench-heal bench-young bench-restart bench-containers bench-net

# Chaos: a 5-node cluster of real agents under a seeded random fault
# schedule; prints the schedule, faults, invariants and recovery times.
SEED     ?= 1
DURATION ?= 60s
chaos-netns: build
	$(GO) test -count=1 -timeout 30m -run 'TestChaosRealPartitions$$' -v ./integration/chaos/ -seed=$(SEED) -duration=$(DURATION)

chaos: build
	$(GO) test -count=1 -timeout 30m -run 'TestChaos$$' -v ./integration/chaos/ -seed=$(SEED) -duration=$(DURATION)

# Short fuzzing of every parser and decoder (FUZZTIME per target).
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run XXX -fuzz '^FuzzParseBytes$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParseCPU$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParseManifest$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzNormalizeImageRef$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParseDuration$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParseSignal$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParseConstraint$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParsePort$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParseClusterCIDR$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParseServiceCIDR$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzDecodeMeta$$' -fuzztime $(FUZZTIME) ./gossip/
	$(GO) test -run XXX -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) ./node/
	$(GO) test -run XXX -fuzz '^FuzzParseJoinToken$$' -fuzztime $(FUZZTIME) ./node/
	$(GO) test -run XXX -fuzz '^FuzzDecodeFeedFrame$$' -fuzztime $(FUZZTIME) ./node/
	$(GO) test -run XXX -fuzz '^FuzzLoadState$$' -fuzztime $(FUZZTIME) ./node/executor/
	$(GO) test -run XXX -fuzz '^FuzzRestart$$' -fuzztime $(FUZZTIME) ./node/orchestrator/
	$(GO) test -run XXX -fuzz '^FuzzReadFrame$$' -fuzztime $(FUZZTIME) ./p2p/
	$(GO) test -run XXX -fuzz '^FuzzParseDigest$$' -fuzztime $(FUZZTIME) ./p2p/blobs/
	$(GO) test -run XXX -fuzz '^FuzzParseManifest$$' -fuzztime $(FUZZTIME) ./p2p/blobs/
	$(GO) test -run XXX -fuzz '^FuzzApply$$' -fuzztime $(FUZZTIME) ./state/
	$(GO) test -run XXX -fuzz '^FuzzDecodeCommand$$' -fuzztime $(FUZZTIME) ./state/
	$(GO) test -run XXX -fuzz '^FuzzDecodeLog$$' -fuzztime $(FUZZTIME) ./raft/
	$(GO) test -run XXX -fuzz '^FuzzDecodeBackup$$' -fuzztime $(FUZZTIME) ./state/
	$(GO) test -run XXX -fuzz '^FuzzTailOffset$$' -fuzztime $(FUZZTIME) ./runtime/logfile/
	$(GO) test -run XXX -fuzz '^FuzzParseProcStat$$' -fuzztime $(FUZZTIME) ./runtime/process/
	$(GO) test -run XXX -fuzz '^FuzzResolveWorkDir$$' -fuzztime $(FUZZTIME) ./runtime/process/
	$(GO) test -run XXX -fuzz '^FuzzAuthenticate$$' -fuzztime $(FUZZTIME) ./node/
	$(GO) test -run XXX -fuzz '^FuzzParseName$$' -fuzztime $(FUZZTIME) ./node/dns/
	$(GO) test -run XXX -fuzz '^FuzzHostAllowed$$' -fuzztime $(FUZZTIME) ./node/
	$(GO) test -run XXX -fuzz '^FuzzParseCAFingerprint$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParsePort$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParseClusterCIDR$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParseAPIToken$$' -fuzztime $(FUZZTIME) ./api/
	$(GO) test -run XXX -fuzz '^FuzzParseUser$$' -fuzztime $(FUZZTIME) ./api/

clean:
	rm -rf bin
