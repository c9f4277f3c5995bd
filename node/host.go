package node

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p"
)

// hostResources is this host's capacity: detected, unless the config says.
func hostResources(cfg Config) api.Resources {
	r := api.Resources{NanoCPUs: int64(runtime.NumCPU()) * 1e9, MemoryBytes: memTotal()}
	if cfg.CPUs > 0 {
		r.NanoCPUs = int64(cfg.CPUs * 1e9)
	}
	if cfg.Memory != "" {
		if b, err := api.ParseBytes(cfg.Memory); err == nil {
			r.MemoryBytes = b
		}
	}
	return r
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// remoteIP is the IP a peer is connected from, for rate limiting.
func remoteIP(h *p2p.Host, id peer.ID) string {
	for _, c := range h.LibP2P().Network().ConnsToPeer(id) {
		if a, err := manet.ToNetAddr(c.RemoteMultiaddr()); err == nil {
			if host, _, ok := strings.Cut(a.String(), ":"); ok {
				return host
			}
		}
	}
	return "unknown"
}
