package node

import (
	"context"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/node/endpoints"
	"github.com/shoal-project/shoal/node/ingress"
	"github.com/shoal-project/shoal/node/vip"
)

// Service traffic pacing: the datapaths are rebuilt at most every
// trafficMinInterval after a change (a burst of task reports costs one
// rebuild, a change shows well within a second), retried every
// trafficRetry after a failure, and rebuilt every trafficResync anyway
// (repairs a table someone flushed by hand).
const (
	trafficMinInterval = 200 * time.Millisecond
	trafficRetry       = time.Second
	trafficResync      = 30 * time.Second
)

// trafficLoop runs this node's service datapaths, following the local
// replica (node/endpoints computes each service's live backends): the
// table in the kernel (node/vip: VIPs, and TCP ingress ports on the
// node's bind address) and the userspace ingress proxy (node/ingress:
// PROXY protocol and UDP ingress ports). When the agent stops, both go: the table
// is deleted and the ports closed; a restarted agent rebuilds them from
// its replica.
func (a *Agent) trafficLoop(ctx context.Context) {
	bind, _ := netip.ParseAddr(a.cfg.Bind) // validated
	table := vip.TableName(a.ID())
	proxy := ingress.New(ingress.Config{
		Addr:     bind.Unmap(),
		Logger:   a.log.With("logger", "ingress"),
		Accepted: func(svc, proto string) { a.metrics.ingressConns.WithLabelValues(svc, proto).Inc() },
	})
	if a.containerd != nil {
		// Tasks on one bridge answer each other over it: only with bridged
		// traffic passing netfilter does conntrack undo a VIP's DNAT on
		// the way back.
		if err := vip.EnableBridgeNetfilter(); err != nil {
			a.log.Warn("service traffic: VIPs between tasks on this node's bridge will not answer", "err", err)
		}
	}
	t := &traffic{
		log: a.log,
		load: func() ([]endpoints.Service, <-chan struct{}) {
			changed := a.store().Watch() // before the view: it holds all it signals
			v := a.store().View()
			// Only services with ports have backends: the tasks of the
			// others (at scale, most of them) are not read at all.
			services := v.Services()
			var tasks []*api.Task
			for _, s := range services {
				if len(s.Endpoint.Ports) > 0 {
					tasks = append(tasks, v.TasksByService(s.ID)...)
				}
			}
			return endpoints.Compute(services, tasks, v.Nodes()), changed
		},
		vip:      func(s []endpoints.Service) error { return vip.Sync(table, vip.Node{ID: a.ID(), Bind: bind.Unmap()}, s) },
		ingress:  func(s []endpoints.Service) error { return proxy.Update(userspaceIngress(s, bind.Unmap())) },
		backends: func(c map[string]int) { setGauge(a.metrics.serviceBackends, c) },
		// A table an earlier run of this agent left (killed) is emptied
		// by the first pass even when no service has an endpoint now.
		tableMade: vip.Exists(table),
	}
	t.run(ctx)
	proxy.Close()
	if t.tableMade {
		if err := vip.Remove(table); err != nil {
			a.log.Warn("service traffic: removing the VIP table", "table", table, "err", err)
		}
	}
}

// userspaceIngress is svcs without the ports whose ingress the kernel
// serves on a node bound to bind (endpoints.Port.KernelIngressAt): what
// the userspace proxy serves (PROXY protocol and UDP ports, all ports of
// an IPv6-bound node, and container backends behind a loopback bind).
func userspaceIngress(svcs []endpoints.Service, bind netip.Addr) []endpoints.Service {
	out := make([]endpoints.Service, 0, len(svcs))
	for _, s := range svcs {
		s.Ports = slices.DeleteFunc(slices.Clone(s.Ports), func(p endpoints.Port) bool { return p.KernelIngressAt(bind) })
		out = append(out, s)
	}
	return out
}

// traffic is trafficLoop's state, with what it drives passed in (tests
// give fakes).
type traffic struct {
	log      *slog.Logger
	load     func() ([]endpoints.Service, <-chan struct{})
	vip      func([]endpoints.Service) error
	ingress  func([]endpoints.Service) error
	backends func(map[string]int) // the per-service gauge

	applied   []endpoints.Service // what both datapaths hold; nil: nothing yet
	live      map[string][]string // each service's live task IDs, as last logged
	tableMade bool                // the VIP table may exist
	lastErr   string              // the failure last logged, so a retry loop logs it once
}

// run applies the endpoints until ctx ends.
func (t *traffic) run(ctx context.Context) {
	for {
		last := time.Now()
		svcs, changed := t.load()
		failed := t.apply(svcs)
		var retry <-chan time.Time
		if failed {
			retry = time.After(trafficRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
		case <-time.After(trafficResync):
			t.applied = nil
		}
		if wait := trafficMinInterval - time.Since(last); wait > 0 {
			if ctxutil.Sleep(ctx, wait) != nil {
				return
			}
		}
	}
}

// apply brings both datapaths to svcs when they changed, logs every
// service whose set of live tasks changed, and reports whether anything
// failed (to be tried again).
func (t *traffic) apply(svcs []endpoints.Service) (failed bool) {
	if t.applied != nil && (len(svcs) == 0 && len(t.applied) == 0 || reflect.DeepEqual(svcs, t.applied)) {
		return false
	}
	counts := endpoints.Counts(svcs)
	live := make(map[string][]string, len(svcs))
	for _, s := range svcs {
		live[s.Name] = s.Live
		if old, ok := t.live[s.Name]; !ok || !slices.Equal(old, s.Live) {
			t.log.Info("service traffic: backends changed", "service", s.Name, "backends", len(s.Live))
		}
	}
	for name := range t.live {
		if _, ok := live[name]; !ok {
			t.log.Info("service traffic: service gone", "service", name)
		}
	}
	t.live = live
	t.backends(counts)
	// A node that has never had a service with an endpoint makes no table
	// (agents without nftables, or rights, stay quiet).
	var errs []string
	if len(svcs) > 0 || t.tableMade {
		t.tableMade = true
		if err := t.vip(svcs); err != nil {
			errs = append(errs, "VIP table: "+err.Error())
		}
	}
	if err := t.ingress(svcs); err != nil {
		errs = append(errs, err.Error())
	}
	failed = len(errs) > 0
	if msg := strings.Join(errs, "; "); msg != t.lastErr {
		if failed {
			t.log.Warn("service traffic: datapath not updated; retrying every second", "err", msg)
		} else {
			t.log.Info("service traffic: datapath updated again")
		}
		t.lastErr = msg
	}
	if failed {
		t.applied = nil
	} else {
		t.applied = svcs
		if t.applied == nil {
			t.applied = []endpoints.Service{}
		}
	}
	return failed
}
