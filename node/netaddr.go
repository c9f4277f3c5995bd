package node

import (
	"errors"
	"fmt"
	"net"
	"os"
)

func advertiseIP(cfg Config) (string, error) {
	if cfg.Advertise != "" {
		return cfg.Advertise, nil
	}
	ip := net.ParseIP(cfg.Bind)
	if !ip.IsUnspecified() {
		return cfg.Bind, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP.String(), nil
			}
		}
	}
	return "127.0.0.1", nil
}

func portOf(hostport string) string {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "0"
	}
	return p
}

func mustAtoi(s string) int {
	var n int
	fmt.Sscanf(s, "%d", &n)
	return n
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

func unwrapOpErr(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return se.Err
		}
		return oe.Err
	}
	return err
}

// freePort finds a port free for both TCP and UDP on ip.
func freePort(ip string) (int, error) {
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port for gossip")
}
