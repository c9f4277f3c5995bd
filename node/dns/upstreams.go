package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// resolvConfRecheck is how often the resolv.conf file is looked at again
// (a stat; it is read again only when it changed).
const resolvConfRecheck = 5 * time.Second

// upstreams is the list of resolvers names outside .shoal go to: a fixed
// list, or the nameservers of a resolv.conf file, which it follows as the
// host rewrites it (DHCP, VPNs). It never lists the server's own address,
// which would loop a query back to the server until it timed out.
type upstreams struct {
	fixed []string // when set, the file is not read
	path  string
	own   func(netip.AddrPort) bool

	mu      sync.Mutex
	checked time.Time // when the file was last looked at
	loaded  bool      // list and err are the file's at modTime and size
	modTime time.Time
	size    int64
	list    []string
	err     error
}

// get returns the resolvers' addresses (IP:port), in the order to try.
func (u *upstreams) get(now time.Time) ([]string, error) {
	if u.fixed != nil {
		return u.fixed, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.checked.IsZero() && now.Sub(u.checked) < resolvConfRecheck {
		return u.list, u.err
	}
	u.checked = now
	fi, err := os.Stat(u.path)
	if err != nil {
		u.list, u.err, u.loaded = nil, err, false
		return nil, err
	}
	if u.loaded && fi.ModTime().Equal(u.modTime) && fi.Size() == u.size {
		return u.list, u.err
	}
	u.modTime, u.size, u.loaded = fi.ModTime(), fi.Size(), true
	u.list, u.err = readResolvConf(u.path, u.own)
	return u.list, u.err
}

// readResolvConf returns the nameservers of a resolv.conf file as IP:port,
// without those own reports as the server's own addresses. Loopback
// nameservers are kept: the server runs in the host's network namespace,
// where a local stub such as systemd-resolved's 127.0.0.53 is reachable.
func readResolvConf(path string, own func(netip.AddrPort) bool) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	port := uint16(53)
	if p, err := netip.ParseAddrPort("0.0.0.0:" + cfg.Port); err == nil {
		port = p.Port()
	}
	var out []string
	for _, s := range cfg.Servers {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		ap := netip.AddrPortFrom(ip.Unmap(), port)
		if own != nil && own(ap) {
			continue
		}
		out = append(out, ap.String())
	}
	if len(out) == 0 {
		return nil, errors.New(path + " lists no nameserver other than this server")
	}
	return out, nil
}

// ownAddr returns the check that an upstream is the server itself,
// listening on listen: the same port, and the same IP, or when listening
// on every address any local one.
func ownAddr(listen netip.AddrPort) func(netip.AddrPort) bool {
	return func(ap netip.AddrPort) bool {
		if ap.Port() != listen.Port() {
			return false
		}
		if !listen.Addr().IsUnspecified() {
			return ap.Addr().WithZone("") == listen.Addr().Unmap().WithZone("")
		}
		if ap.Addr().IsLoopback() {
			return true
		}
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return false
		}
		for _, a := range addrs {
			if p, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(p.IP); ok && ip.Unmap() == ap.Addr().WithZone("") {
					return true
				}
			}
		}
		return false
	}
}
