// Package containerd is the "containerd" runtime: it runs a service's image
// as a container through a containerd daemon (1.6 or later; the client
// uses no API newer than 1.6) with runc.
//
// Containers live in their own containerd namespace (default "shoal"),
// carry shoal.* labels and an explicit cgroup path /<namespace>/<taskID>.
// Their output goes straight from the shim to <Root>/tasks/<taskID>/output.log,
// so logs keep flowing, and containerd keeps the exit status, while no
// agent is attached; a new Runtime on the same daemon re-attaches (List,
// Wait) to the tasks an earlier one started.
//
// The Runtime also exposes the image and content store primitives the
// cluster's registry-free image sharing builds on (ImportImage, ReadBlob,
// WriteBlob, CreateImage, ...).
package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// Name is the runtime's name, as used in api.ServiceSpec.Runtime.
const Name = "containerd"

// Defaults for Config fields left zero.
const (
	DefaultNamespace = "shoal"
	// DefaultRuncRoot is where containerd's runc shim keeps runc's state
	// (<root>/<namespace>/<id>).
	DefaultRuncRoot = "/run/containerd/runc"
	// DefaultStopGrace is used by Stop when neither the caller nor the
	// spec gives a grace period.
	DefaultStopGrace = 10 * time.Second

	snapshotter = "overlayfs"
	runcRuntime = "io.containerd.runc.v2"
)

// RegistryConfig is how to reach one registry host.
type RegistryConfig struct {
	// Username and Password are sent when the registry asks for them.
	Username, Password string
	// Insecure allows plain HTTP to this registry; without it only HTTPS
	// is used.
	Insecure bool
}

// Config configures a Runtime.
type Config struct {
	// Address is the containerd socket.
	Address string
	// Namespace is the containerd namespace the runtime works in
	// (default "shoal").
	Namespace string
	// Root holds logs, secrets tmpfs mounts and named volumes, e.g.
	// <data-dir>/runtime/containerd.
	Root string
	// Registries holds settings by registry host ("127.0.0.1:5000",
	// "docker.io"); hosts not listed are reached anonymously over HTTPS.
	Registries map[string]RegistryConfig
	// AllowBindPrefixes lists the host directories under which bind
	// mounts are allowed; with none, bind mounts are refused.
	AllowBindPrefixes []string
	// NodeName is used for SHOAL_NODE and the shoal.node label when a
	// TaskSpec has no NodeName.
	NodeName string
	// RuncRoot is the runc state root the daemon's shim uses
	// (default DefaultRuncRoot); Remove deletes leftovers under it.
	RuncRoot string
	// Network gives containers their own network namespaces (runtime/cni
	// implements it); nil, or a Network that is not Available, puts every
	// container on the host network.
	Network Network
}

// Network sets up and tears down a task's network namespace.
type Network interface {
	// Available reports whether tasks can have namespaces now (the node
	// has a subnet).
	Available() bool
	// Setup creates the task's namespace, publishing ports, and returns
	// its path and the task's IP; on error nothing is left.
	Setup(ctx context.Context, taskID string, ports []api.PortSpec) (netns, ip string, err error)
	// Teardown removes whatever Setup left for the task, even if an
	// earlier process set it up; a task without one is not an error.
	Teardown(ctx context.Context, taskID string) error
	// Nameserver is the IP of the node's DNS server for tasks in their
	// own namespace ("" while there is none: they keep the host's
	// resolv.conf).
	Nameserver() string
}

// Runtime runs tasks as containerd containers. It implements
// runtime.Runtime. Close it when done.
type Runtime struct {
	cfg    Config
	client *client.Client
	root   string
	ns     string

	locks sync.Map // task ID -> *sync.Mutex
}

var _ rtapi.Runtime = (*Runtime)(nil)

// Available reports whether a containerd daemon answers on address.
func Available(address string) bool {
	if _, err := os.Stat(address); err != nil {
		return false
	}
	c, err := client.New(address, client.WithTimeout(2*time.Second))
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = c.Version(ctx)
	return err == nil
}

// New connects to containerd at cfg.Address and checks that it answers.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Address == "" {
		return nil, errors.New("containerd runtime: Address is empty")
	}
	if cfg.Root == "" {
		return nil, errors.New("containerd runtime: Root is empty")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("containerd runtime: root %q: %w", cfg.Root, err)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if err := identifiers.Validate(cfg.Namespace); err != nil {
		return nil, fmt.Errorf("containerd runtime: namespace %q: %w", cfg.Namespace, err)
	}
	if cfg.RuncRoot == "" {
		cfg.RuncRoot = DefaultRuncRoot
	}
	for _, p := range cfg.AllowBindPrefixes {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("containerd runtime: bind prefix %q is not an absolute path", p)
		}
	}
	if _, err := os.Stat(cfg.Address); err != nil {
		return nil, fmt.Errorf("containerd runtime: socket %s: %w", cfg.Address, err)
	}
	c, err := client.New(cfg.Address,
		client.WithDefaultNamespace(cfg.Namespace),
		client.WithDefaultRuntime(runcRuntime),
		client.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd runtime: connect %s: %w", cfg.Address, err)
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Version(vctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("containerd runtime: daemon at %s does not answer: %s", cfg.Address, textutil.OneLine(err.Error()))
	}
	for _, d := range []string{"tasks", "volumes"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			c.Close()
			return nil, fmt.Errorf("containerd runtime: %w", err)
		}
	}
	return &Runtime{cfg: cfg, client: c, root: root, ns: cfg.Namespace}, nil
}

// Close closes the connection to containerd. Tasks keep running.
func (r *Runtime) Close() error { return r.client.Close() }

// Name returns "containerd".
func (r *Runtime) Name() string { return Name }

// Root returns the absolute directory that holds logs and volumes.
func (r *Runtime) Root() string { return r.root }

// Namespace returns the containerd namespace the runtime works in.
func (r *Runtime) Namespace() string { return r.ns }

// withNS puts the runtime's namespace into ctx.
func (r *Runtime) withNS(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.ns)
}

// lock serializes operations on one task; call the returned func to unlock.
func (r *Runtime) lock(taskID string) func() {
	m, _ := r.locks.LoadOrStore(taskID, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}
