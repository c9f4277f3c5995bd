package node

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/shoal-project/shoal/p2p/blobs"
	"github.com/shoal-project/shoal/runtime"
	"github.com/shoal-project/shoal/runtime/cni"
	"github.com/shoal-project/shoal/runtime/containerd"
	"github.com/shoal-project/shoal/runtime/process"
)

// enabledRuntimes decides which runtimes this node runs: those the config
// names, or — when it names none — containerd if its socket answers. The
// process runtime runs host commands as root, so it is never on by default.
func (a *Agent) enabledRuntimes() []string {
	if len(a.cfg.Runtimes) > 0 {
		return a.cfg.Runtimes
	}
	if containerd.Available(a.cfg.ContainerdSocket) {
		return []string{containerd.Name}
	}
	return nil
}

// openRuntimes starts every enabled runtime.
func (a *Agent) openRuntimes() (map[string]runtime.Runtime, error) {
	out := map[string]runtime.Runtime{}
	for _, name := range a.runtimeNames {
		switch name {
		case process.Name:
			self, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("process runtime: %v", err)
			}
			rt, err := process.New(process.Config{
				Root:        filepath.Join(a.cfg.DataDir, "runtime", "process"),
				ShimCommand: []string{self, "runtime-shim"},
				// A process task's address is its node's: it is reached (by
				// the VIP table and ingress too) at the node's
				// advertised IP, and may listen there alone when agents
				// share a host.
				ExtraEnv: func() []string {
					env := []string{"SHOAL_TASK_IP=" + a.advertiseIP}
					if ns := a.nameserver(); ns != "" {
						env = append(env, "SHOAL_DNS="+net.JoinHostPort(ns, "53"))
					}
					return env
				},
			})
			if err != nil {
				return nil, fmt.Errorf("process runtime: %v", err)
			}
			out[name] = rt
		case containerd.Name:
			regs := map[string]containerd.RegistryConfig{}
			for host, r := range a.cfg.Registries {
				regs[host] = containerd.RegistryConfig{Username: r.Username, Password: r.Password, Insecure: r.Insecure}
			}
			network, err := a.taskNetwork()
			if err != nil {
				return nil, err
			}
			ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
			rt, err := containerd.New(ctx, containerd.Config{
				Network:           network,
				Address:           a.cfg.ContainerdSocket,
				Namespace:         a.cfg.ContainerdNamespace,
				Root:              filepath.Join(a.cfg.DataDir, "runtime", "containerd"),
				Registries:        regs,
				AllowBindPrefixes: a.cfg.AllowBindMounts,
				NodeName:          a.cfg.Name,
			})
			cancel()
			if err != nil {
				return nil, fmt.Errorf("containerd runtime at %s: %v", a.cfg.ContainerdSocket, err)
			}
			if _, err := blobs.NewServer(a.host, rt); err != nil {
				return nil, fmt.Errorf("image sharing: %v", err)
			}
			a.containerd = &sharingRuntime{Runtime: rt, a: a, fetcher: blobs.NewFetcher(a.host, rt)}
			out[name] = a.containerd
		}
	}
	return out, nil
}

// taskNetwork is the node side of task networking: containers get their
// own network namespaces on the node's subnet, read from its node record
// in the local replica whenever a task is prepared (until the node has
// one, its containers use the host network).
func (a *Agent) taskNetwork() (*cni.Manager, error) {
	id := a.ID()
	m, err := cni.New(cni.Config{
		NodeID: id,
		Subnet: func() string {
			if n, ok := a.store().Node(id); ok {
				return n.Subnet
			}
			return ""
		},
		BinDir:     cmp.Or(a.cfg.CNIBinDir, cni.DefaultBinDir),
		DataDir:    filepath.Join(a.cfg.DataDir, "network"),
		Nameserver: a.nameserver,
		MTU:        func() int { return int(a.taskMTU.Load()) },
	})
	if err != nil {
		return nil, fmt.Errorf("task network: %v", err)
	}
	return m, nil
}
