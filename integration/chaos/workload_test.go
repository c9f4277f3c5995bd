package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/shoal-project/shoal/api"
)

// The workload: a few clients, each one operation at a time against a
// random usable node through api.Client (request IDs, idempotent retries).
const (
	numClients = 3
	opTimeout  = 5 * time.Second
	opEvery    = 100 * time.Millisecond // per client
	markerEach = 5                      // every 5th operation creates a marker service
)

// kvKeys are the services whose specs the linearizability check follows.
var kvKeys = []string{"kv-a", "kv-b", "kv-c", "kv-d"}

// kvSpec is a workload service: a small process with the key's value.
func kvSpec(name string, replicas uint64, env string) api.ServiceSpec {
	return api.ServiceSpec{Name: name, Runtime: "process", Mode: api.ModeReplicated, Replicas: replicas,
		Command: []string{"sh", "-c", "sleep 1000"}, Env: []string{"V=" + env},
		Restart: api.RestartPolicy{Condition: api.RestartAny, Delay: api.Duration(200 * time.Millisecond)}}
}

// marker is an append-only write: a service with no replicas that is never
// deleted, so an acknowledged one must exist after the run.
type marker struct {
	name  string
	acked bool // ok or already exists
}

// workload drives the clients and records what they saw.
type workload struct {
	c    *cluster
	h    *history
	seed int64

	mu       sync.Mutex
	markers  []marker
	counts   map[string]map[string]int // op kind → result → count
	oddities []string                  // unexpected errors, first few
}

func newWorkload(c *cluster, h *history, seed int64) *workload {
	return &workload{c: c, h: h, seed: seed, counts: map[string]map[string]int{}}
}

func (w *workload) count(kind, result string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.counts[kind] == nil {
		w.counts[kind] = map[string]int{}
	}
	w.counts[kind][result]++
}

func (w *workload) odd(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.oddities) < 20 {
		w.oddities = append(w.oddities, fmt.Sprintf(format, args...))
	}
}

// setup creates every key (client 0, recorded in the history).
func (w *workload) setup() error {
	for _, k := range kvKeys {
		in := kvInput{Key: k, Kind: opCreate, Replicas: 1, Env: "init"}
		out := w.apply(0, w.c.agents[0], in)
		if out.Unknown || out.Result != resOK {
			return fmt.Errorf("creating %s: %+v", k, out)
		}
	}
	return nil
}

// run runs the clients until stop is closed and returns once all are done.
func (w *workload) run(stop <-chan struct{}) {
	var wg sync.WaitGroup
	for i := 1; i <= numClients; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			w.client(id, stop)
		}(i)
	}
	wg.Wait()
}

func (w *workload) client(id int, stop <-chan struct{}) {
	rng := rand.New(rand.NewSource(w.seed*100 + int64(id)))
	lim := rate.NewLimiter(rate.Every(opEvery), 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-stop; cancel() }()
	for seq := 1; ; seq++ {
		if lim.Wait(ctx) != nil {
			return
		}
		a := w.pickAgent(rng)
		if a == nil {
			continue
		}
		if seq%markerEach == 0 {
			w.createMarker(id, a, fmt.Sprintf("m-c%d-%d", id, seq))
			continue
		}
		in := kvInput{Key: kvKeys[rng.Intn(len(kvKeys))]}
		env := fmt.Sprintf("c%d-%d", id, seq)
		switch n := rng.Intn(100); {
		case n < 40:
			in.Kind = opRead
		case n < 60:
			in.Kind, in.Replicas, in.Env = opUpdate, uint64(rng.Intn(4)), env
		case n < 80:
			in.Kind, in.Replicas = opScale, uint64(rng.Intn(4))
		case n < 90:
			in.Kind, in.Replicas, in.Env = opCreate, uint64(rng.Intn(4)), env
		default:
			in.Kind = opDelete
		}
		w.apply(id, a, in)
	}
}

// pickAgent returns a random usable agent, or nil after a short wait.
func (w *workload) pickAgent(rng *rand.Rand) *agent {
	var usable []*agent
	for _, a := range w.c.agents {
		if a.usable() {
			usable = append(usable, a)
		}
	}
	if len(usable) == 0 {
		return nil
	}
	return usable[rng.Intn(len(usable))]
}

// apply performs one operation and records it in the history.
func (w *workload) apply(id int, a *agent, in kvInput) kvOutput {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	cl := a.client(fmt.Sprintf("c%d", id))
	call := w.h.now()
	var err error
	var out kvOutput
	switch in.Kind {
	case opRead:
		var v kvState
		v, err = readKey(ctx, a, in.Key)
		out = kvOutput{Result: resOK, Value: v}
		if err != nil {
			w.count("read", "failed")
			return kvOutput{Unknown: true} // a failed read changes nothing: not recorded
		}
		w.count("read", "ok")
		w.h.add(id, a.Name, in, out, call, false)
		return out
	case opCreate:
		_, err = cl.CreateService(ctx, kvSpec(in.Key, in.Replicas, in.Env))
	case opUpdate:
		spec := kvSpec(in.Key, in.Replicas, in.Env)
		_, err = cl.UpdateService(ctx, in.Key, api.ServiceUpdateRequest{Spec: &spec})
	case opScale:
		_, err = cl.ScaleService(ctx, in.Key, in.Replicas)
	case opDelete:
		err = cl.RemoveService(ctx, in.Key)
	}
	out = w.classify(in, a, err)
	w.h.add(id, a.Name, in, out, call, false)
	return out
}

// classify maps a write's error to its result; anything but a definite
// answer is an unknown outcome.
func (w *workload) classify(in kvInput, a *agent, err error) kvOutput {
	kind := in.Kind.String()
	code := api.CodeOf(err)
	switch {
	case err == nil:
		w.count(kind, resOK)
		return kvOutput{Result: resOK}
	case code == api.CodeNotFound && in.Kind != opCreate:
		w.count(kind, resNotFound)
		return kvOutput{Result: resNotFound}
	case code == api.CodeConflict && in.Kind == opCreate:
		w.count(kind, resExists)
		return kvOutput{Result: resExists}
	case code == api.CodeUnavailable || code == api.CodeNoLeader || code == api.CodeRateLimited:
		w.count(kind, "unknown")
		return kvOutput{Unknown: true}
	}
	w.count(kind, "unknown")
	w.odd("%s %s on %s: %s: %v", kind, in.Key, a.Name, code, err)
	return kvOutput{Unknown: true}
}

func (w *workload) createMarker(id int, a *agent, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_, err := a.client(fmt.Sprintf("c%d", id)).CreateService(ctx, kvSpec(name, 0, "marker"))
	acked := err == nil || api.CodeOf(err) == api.CodeConflict
	res := "unknown"
	if acked {
		res = resOK
	}
	w.count("marker", res)
	w.mu.Lock()
	w.markers = append(w.markers, marker{name: name, acked: acked})
	w.mu.Unlock()
}

// valueOf extracts a key's value from a service.
func valueOf(info api.ServiceInfo) kvState {
	v := kvState{Exists: true, Replicas: info.Spec.Replicas}
	for _, e := range info.Spec.Env {
		if k, val, ok := strings.Cut(e, "="); ok && k == "V" {
			v.Env = val
		}
	}
	return v
}

// readKey reads a key with a consistent read; a missing service is the
// absent value.
func readKey(ctx context.Context, a *agent, key string) (kvState, error) {
	var info api.ServiceInfo
	err := a.get(ctx, "/v1/services/"+url.PathEscape(key)+"?consistent=true", &info)
	if err == nil {
		return valueOf(info), nil
	}
	if api.CodeOf(err) == api.CodeNotFound && strings.Contains(err.Error(), "no such service") {
		return kvState{}, nil
	}
	return kvState{}, err
}

// lostMarkers lists the acknowledged markers missing from the cluster.
func (w *workload) lostMarkers(c *cluster) (lost []string, acked int) {
	have, err := c.serviceVersions()
	if err != nil {
		return []string{"cannot list services: " + err.Error()}, 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.markers {
		if !m.acked {
			continue
		}
		acked++
		if _, ok := have[m.name]; !ok {
			lost = append(lost, m.name)
		}
	}
	return lost, acked
}
