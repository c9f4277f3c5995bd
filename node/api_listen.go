package node

import (
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// socketGroup is the group given access to the API socket when it exists
// (Docker's model: members of the group are the node's admins).
const socketGroup = "shoal"

// maxSocketPath is the longest unix socket path Linux accepts.
const maxSocketPath = 107

// validSocketPath checks an --api-socket value ("" disables the socket).
func validSocketPath(p string) error {
	switch {
	case p == "":
		return nil
	case !filepath.IsAbs(p):
		return fmt.Errorf("api socket: %q is not an absolute path", p)
	case len(p) > maxSocketPath:
		return fmt.Errorf("api socket: %q is %d bytes long; a unix socket path holds at most %d", p, len(p), maxSocketPath)
	}
	return nil
}

// listenSocket opens the local API socket: its directory is created if
// missing, a stale socket file left by a crashed agent is replaced (a live
// one is an error), and the socket gets mode 0660, group "shoal" when that
// group exists. Whoever can open it is an admin of this node.
func listenSocket(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("api socket: %v", unwrapOpErr(err))
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("api socket: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("api socket: another agent is serving %s", path)
		}
		os.Remove(path)
	}
	// Connecting needs write permission on the socket, which the usual
	// umask (022) withholds from group and others until the chmod below.
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("api socket: %v", unwrapOpErr(err))
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if g, err := user.LookupGroup(socketGroup); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil {
			if err := os.Chown(path, -1, gid); err != nil && !errors.Is(err, os.ErrPermission) {
				ln.Close()
				return nil, fmt.Errorf("api socket: %v", unwrapOpErr(err))
			}
		}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("api socket: %v", unwrapOpErr(err))
	}
	return ln, nil
}

// listenAPI opens the API's endpoints: the local socket and, with
// --api-addr, the TCP listener.
func (a *Agent) listenAPI() (*apiServer, error) {
	var sock, tcp net.Listener
	var err error
	if a.cfg.APISocket != "" {
		if sock, err = listenSocket(a.cfg.APISocket); err != nil {
			return nil, err
		}
	}
	certs := newAPICertSource(a.clusterCAInputs, a.apiCertNames, nil)
	if a.cfg.APIAddr != "" {
		if tcp, err = net.Listen("tcp", a.cfg.APIAddr); err != nil {
			if sock != nil {
				sock.Close()
			}
			return nil, fmt.Errorf("api addr %s: %v", a.cfg.APIAddr, unwrapOpErr(err))
		}
		tcp = tls.NewListener(tcp, apiTLSConfig(certs))
	}
	return newAPIServer(apiServerConfig{Backend: a, Log: a.log, Metrics: a.metrics, Done: a.ctx, Self: a.cfg.Name,
		Socket: sock, TCP: tcp, Certs: certs}), nil
}

// clusterCAInputs is what the cluster CA is derived from.
func (a *Agent) clusterCAInputs() (ed25519.PrivateKey, string, time.Time, bool) {
	c, ok := a.store().Cluster()
	if !ok || len(c.SigningKey) != ed25519.PrivateKeySize {
		return nil, "", time.Time{}, false
	}
	return ed25519.PrivateKey(c.SigningKey), c.ID, c.CreatedAt, true
}

// apiCertNames are the names the API's server certificate is for: the
// node's name and host name, localhost, the --api-addr host, the
// advertised address and loopback.
func (a *Agent) apiCertNames() ([]string, []net.IP) {
	names := []string{"localhost", a.cfg.Name}
	if h, err := os.Hostname(); err == nil && h != a.cfg.Name {
		names = append(names, h)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	add := func(s string) {
		if ip := net.ParseIP(s); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
			ips = append(ips, ip)
		}
	}
	if host, _, err := net.SplitHostPort(a.cfg.APIAddr); err == nil {
		if net.ParseIP(host) == nil && host != "" {
			names = append(names, host)
		}
		add(host)
	}
	add(a.advertiseIP)
	return names, ips
}

// apiDNSNames are the DNS names of the HTTPS certificate.
func (a *Agent) apiDNSNames() []string {
	names, _ := a.apiCertNames()
	return names
}
