// Package cni gives a container task its own network namespace, wired
// with CNI plugins (bridge with host-local IPAM on the node's subnet,
// loopback, portmap for published ports) from Debian's
// containernetworking-plugins.
//
// It drives the plugins through libcni (github.com/containernetworking/
// cni/libcni) rather than containerd/go-cni: go-cni wants a network
// namespace path from a running task, or manages namespaces behind its
// own API, while Shoal creates the namespace itself before the container,
// as CRI does, so the task's IP is known when its environment is built
// (SHOAL_TASK_IP) and the container is created straight into it.
//
// Everything a teardown needs (the namespace's path and the exact conflist
// the ADD used) is written to a state file in the agent's data dir before
// the namespace exists, so a restarted agent, even after a kill -9, still
// removes what an earlier one set up.
package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/fsutil"
	"github.com/shoal-project/shoal/internal/textutil"
)

// DefaultNetnsDir is where task namespaces are pinned, beside the ones
// `ip netns add` makes.
const DefaultNetnsDir = "/run/netns"

// DefaultBinDir is where Debian's containernetworking-plugins puts the
// plugins.
const DefaultBinDir = "/usr/lib/cni"

// ifName is the task's interface in its namespace.
const ifName = "eth0"

// Config configures a Manager.
type Config struct {
	// NodeID names the node's bridge (BridgeName).
	NodeID string
	// Subnet returns the node's subnet from the cluster state ("" while
	// it has none: a cluster without a CIDR, or not registered yet).
	Subnet func() string
	// BinDir holds the plugins (Debian: /usr/lib/cni).
	BinDir string
	// DataDir holds host-local's leases (ipam/), libcni's cache (cache/)
	// and a state file per task (tasks/).
	DataDir string
	// NetnsDir is where namespaces are pinned (default DefaultNetnsDir).
	NetnsDir string
	// Nameserver returns the address of the node's DNS server that tasks
	// use ("" while it has none; nil: never).
	Nameserver func() string
	// MTU returns the MTU new tasks' interfaces get (0 or nil: the bridge
	// plugin's default); lower when the node has VXLAN peers.
	MTU func() int
}

// Manager sets up and tears down task network namespaces.
type Manager struct {
	cfg  Config
	cni  *libcni.CNIConfig
	lo   *libcni.NetworkConfigList
	mu   sync.Mutex
	lock map[string]*sync.Mutex
}

// taskState is a task's state file: what its teardown needs.
type taskState struct {
	Netns    string          `json:"netns"`
	Conflist json.RawMessage `json:"conflist"`
	IP       string          `json:"ip,omitempty"`
	// Ports are the published ports, for portmap's DEL.
	Ports []api.PortSpec `json:"ports,omitempty"`
}

// New checks cfg and makes the data dirs.
func New(cfg Config) (*Manager, error) {
	if cfg.NodeID == "" || cfg.Subnet == nil || cfg.BinDir == "" || cfg.DataDir == "" {
		return nil, errors.New("cni: NodeID, Subnet, BinDir and DataDir must be set")
	}
	if cfg.NetnsDir == "" {
		cfg.NetnsDir = DefaultNetnsDir
	}
	for _, d := range []string{"ipam", "cache", "tasks"} {
		if err := os.MkdirAll(filepath.Join(cfg.DataDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("cni: %w", err)
		}
	}
	lo, err := libcni.ConfListFromBytes(loopbackConf())
	if err != nil {
		return nil, fmt.Errorf("cni: loopback config: %w", err)
	}
	return &Manager{
		cfg:  cfg,
		cni:  libcni.NewCNIConfigWithCacheDir([]string{cfg.BinDir}, filepath.Join(cfg.DataDir, "cache"), nil),
		lo:   lo,
		lock: map[string]*sync.Mutex{},
	}, nil
}

// Available reports whether the node has a subnet, so that its tasks can
// have namespaces; without one, containers use the host network.
func (m *Manager) Available() bool { return m.cfg.Subnet() != "" }

// Nameserver is the IP tasks' /etc/resolv.conf names: the node's DNS
// server on its bridge ("" while it does not serve).
func (m *Manager) Nameserver() string {
	if m.cfg.Nameserver == nil {
		return ""
	}
	return m.cfg.Nameserver()
}

// NetnsPath is where the task's namespace is pinned: <NetnsDir>/shoal-<id>.
func (m *Manager) NetnsPath(taskID string) string {
	return filepath.Join(m.cfg.NetnsDir, "shoal-"+taskID)
}

func (m *Manager) statePath(taskID string) string {
	return filepath.Join(m.cfg.DataDir, "tasks", taskID+".json")
}

// taskLock serializes Setup and Teardown of one task.
func (m *Manager) taskLock(taskID string) func() {
	m.mu.Lock()
	l, ok := m.lock[taskID]
	if !ok {
		l = &sync.Mutex{}
		m.lock[taskID] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Setup creates the task's namespace and runs the ADDs, publishing ports
// through portmap; it returns the namespace's path and the task's IP. On
// error nothing is left. A missing plugin is named, with the package that
// has it.
func (m *Manager) Setup(ctx context.Context, taskID string, ports []api.PortSpec) (netns, ip string, err error) {
	defer m.taskLock(taskID)()
	subnet, err := netip.ParsePrefix(m.cfg.Subnet())
	if err != nil {
		return "", "", fmt.Errorf("task network: node subnet %q: %v", m.cfg.Subnet(), err)
	}
	ports = hostPorts(ports)
	need := []string{"loopback", "bridge", "host-local"}
	if len(ports) > 0 {
		need = append(need, "portmap")
	}
	for _, p := range need {
		if _, err := invoke.FindInPath(p, []string{m.cfg.BinDir}); err != nil {
			return "", "", fmt.Errorf("task network: CNI plugin %q not found in %s: apt install containernetworking-plugins (or set cni_bin_dir)", p, m.cfg.BinDir)
		}
	}
	mtu := 0
	if m.cfg.MTU != nil {
		mtu = m.cfg.MTU()
	}
	raw, err := Conflist(ConflistParams{NodeID: m.cfg.NodeID, Subnet: subnet, IPAMDir: filepath.Join(m.cfg.DataDir, "ipam"), Ports: len(ports) > 0, MTU: mtu})
	if err != nil {
		return "", "", fmt.Errorf("task network: %w", err)
	}
	list, err := libcni.ConfListFromBytes(raw)
	if err != nil {
		return "", "", fmt.Errorf("task network: conflist: %w", err)
	}
	// What an earlier attempt left (an agent killed between this point
	// and the container's creation) goes first.
	if err := m.teardown(ctx, taskID); err != nil {
		return "", "", err
	}
	st := taskState{Netns: m.NetnsPath(taskID), Conflist: raw, Ports: ports}
	// The state file comes first: whatever happens next, a teardown (in
	// this process or a later one) knows what to undo.
	if err := m.save(taskID, st); err != nil {
		return "", "", err
	}
	fail := func(err error) (string, string, error) {
		if terr := m.teardown(context.WithoutCancel(ctx), taskID); terr != nil {
			err = fmt.Errorf("%w (and cleaning up failed: %v)", err, terr)
		}
		return "", "", err
	}
	if err := createNetns(st.Netns); err != nil {
		return fail(fmt.Errorf("task network: %w", err))
	}
	rt := m.runtimeConf(taskID, st.Netns, ports)
	if _, err := m.cni.AddNetworkList(ctx, m.lo, rt); err != nil {
		return fail(fmt.Errorf("task network: loopback: %s", textutil.OneLine(err.Error())))
	}
	res, err := m.cni.AddNetworkList(ctx, list, rt)
	if err != nil {
		return fail(fmt.Errorf("task network: %s", textutil.OneLine(err.Error())))
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil || len(r.IPs) == 0 {
		return fail(fmt.Errorf("task network: the bridge plugin returned no address (%v)", err))
	}
	st.IP = r.IPs[0].Address.IP.String()
	if err := m.save(taskID, st); err != nil {
		return fail(err)
	}
	return st.Netns, st.IP, nil
}

// hostPorts are the ports portmap maps: host-mode ones (and those of
// records from before publish modes). Ingress ports belong to the service
// datapath; named ports publish nothing.
func hostPorts(ports []api.PortSpec) []api.PortSpec {
	return slices.DeleteFunc(slices.Clone(ports), func(p api.PortSpec) bool { return !p.HostPublished() })
}

// runtimeConf is the task's CNI runtime configuration; the same one
// (container ID, namespace, interface, ports) serves ADD and DEL.
func (m *Manager) runtimeConf(taskID, netns string, ports []api.PortSpec) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: taskID, NetNS: netns, IfName: ifName}
	if len(ports) > 0 {
		var pm []map[string]any
		for _, p := range ports {
			if !p.HostPublished() {
				continue // named, not published, or ingress (the datapath's)
			}
			proto := strings.ToLower(p.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			pm = append(pm, map[string]any{"hostPort": int(p.Port), "containerPort": int(p.Target()), "protocol": proto})
		}
		if len(pm) > 0 {
			rt.CapabilityArgs = map[string]any{"portMappings": pm}
		}
	}
	return rt
}

// IP is the task's address, or "" for a task without a namespace.
func (m *Manager) IP(taskID string) string {
	st, err := m.load(taskID)
	if err != nil {
		return ""
	}
	return st.IP
}

// Teardown runs the DELs with the conflist the ADD used, removes the
// namespace and the state file. A task that has none is not an error;
// a failed DEL keeps the state file, so a later Teardown tries again.
func (m *Manager) Teardown(ctx context.Context, taskID string) error {
	defer m.taskLock(taskID)()
	return m.teardown(ctx, taskID)
}

func (m *Manager) teardown(ctx context.Context, taskID string) error {
	st, err := m.load(taskID)
	if errors.Is(err, os.ErrNotExist) {
		return removeNetns(m.NetnsPath(taskID))
	}
	if err != nil {
		return err
	}
	list, err := libcni.ConfListFromBytes(st.Conflist)
	if err != nil {
		return fmt.Errorf("task network %s: saved conflist: %w", taskID, err)
	}
	// The namespace may be gone (a reboot, or an unmount whose removal
	// did not follow): the DELs still release the address and the port
	// mappings; the plugins ignore what is missing. A path left as a
	// plain file (where /run outlives a reboot) is gone too: the bridge
	// plugin refuses a netns path that is no namespace.
	netns := st.Netns
	if !isNetns(netns) {
		netns = ""
	}
	rt := m.runtimeConf(taskID, netns, st.Ports)
	if err := m.cni.DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("task network %s: %s", taskID, textutil.OneLine(err.Error()))
	}
	if err := m.cni.DelNetworkList(ctx, m.lo, rt); err != nil {
		return fmt.Errorf("task network %s: loopback: %s", taskID, textutil.OneLine(err.Error()))
	}
	if err := removeNetns(st.Netns); err != nil {
		return err
	}
	if err := os.Remove(m.statePath(taskID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (m *Manager) save(taskID string, st taskState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(m.statePath(taskID), b, 0o600, true); err != nil {
		return fmt.Errorf("task network: state file: %w", err)
	}
	return nil
}

func (m *Manager) load(taskID string) (taskState, error) {
	var st taskState
	b, err := os.ReadFile(m.statePath(taskID))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("task network %s: state file: %w", taskID, err)
	}
	return st, nil
}
