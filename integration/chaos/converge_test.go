package chaos

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/shoal-project/shoal/api"
)

// converged reports whether the cluster is healthy and every service runs
// its desired count, both as the leader sees it and as processes on this
// machine (a deleted service runs nothing).
func (c *cluster) converged() (bool, string) {
	if ok, detail := c.healthy(); !ok {
		return false, detail
	}
	l := c.selfLeader()
	if l == nil {
		return false, "no single leader"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var svcs []api.ServiceInfo
	if err := l.get(ctx, "/v1/services?consistent=true", &svcs); err != nil {
		return false, err.Error()
	}
	desired := map[string]int{}
	for _, s := range svcs {
		desired[s.Spec.Name] = int(s.Desired)
		if s.Running != s.Desired {
			return false, fmt.Sprintf("%s: leader says %d of %d running %v", s.Spec.Name, s.Running, s.Desired, s.Pending)
		}
	}
	procs := workloadCounts(c.dataDirs()...)
	var off []string
	for name, n := range procs {
		if n != desired[name] {
			off = append(off, fmt.Sprintf("%s: %d processes, %d desired", name, n, desired[name]))
		}
	}
	for name, n := range desired {
		if _, ok := procs[name]; !ok && n > 0 {
			off = append(off, fmt.Sprintf("%s: 0 processes, %d desired", name, n))
		}
	}
	if len(off) > 0 {
		sort.Strings(off)
		return false, fmt.Sprint(off)
	}
	return true, ""
}

// serviceVersions is every service's name → version, as the leader reads
// it consistently.
func (c *cluster) serviceVersions() (map[string]uint64, error) {
	l := c.waitLeader(10 * time.Second)
	if l == nil {
		return nil, fmt.Errorf("no leader")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var svcs []api.ServiceInfo
	if err := l.get(ctx, "/v1/services?consistent=true", &svcs); err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, s := range svcs {
		out[s.Spec.Name] = s.Version
	}
	return out, nil
}
