package dns

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadResolvConfSkipsOwnAddress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	writeFile(t, path, "search example\nnameserver 10.42.1.1\nnameserver 127.0.0.53\nnameserver 192.0.2.1\noptions ndots:1\n")
	own := ownAddr(netip.MustParseAddrPort("10.42.1.1:53"))
	got, err := readResolvConf(path, own)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.53:53", "192.0.2.1:53"}; !slices.Equal(got, want) {
		t.Errorf("upstreams %v, want %v (own address skipped, loopback stub kept)", got, want)
	}
	writeFile(t, path, "nameserver 10.42.1.1\n")
	if _, err := readResolvConf(path, own); err == nil {
		t.Error("a file listing only the server itself: no error")
	}
}

func TestOwnAddr(t *testing.T) {
	for _, tc := range []struct {
		listen, ns string
		own        bool
	}{
		{"10.42.1.1:53", "10.42.1.1:53", true},
		{"10.42.1.1:53", "10.42.1.1:5353", false},
		{"10.42.1.1:53", "10.42.2.1:53", false},
		{"127.0.0.11:53", "127.0.0.53:53", false},
		{"0.0.0.0:53", "127.0.0.53:53", true},
		{"0.0.0.0:53", "192.0.2.1:53", false},
		{"[::]:53", "[::1]:53", true},
	} {
		if got := ownAddr(netip.MustParseAddrPort(tc.listen))(netip.MustParseAddrPort(tc.ns)); got != tc.own {
			t.Errorf("listening on %s, %s own: %v, want %v", tc.listen, tc.ns, got, tc.own)
		}
	}
}

// TestUpstreamsFollowFile: the file is read again once it changes, no
// more often than resolvConfRecheck.
func TestUpstreamsFollowFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	writeFile(t, path, "nameserver 192.0.2.1\n")
	u := &upstreams{path: path}
	now := time.Now()
	if got, err := u.get(now); err != nil || !slices.Equal(got, []string{"192.0.2.1:53"}) {
		t.Fatalf("get = %v, %v", got, err)
	}
	writeFile(t, path, "nameserver 192.0.2.2\nnameserver 192.0.2.3\n")
	if got, _ := u.get(now.Add(time.Second)); !slices.Equal(got, []string{"192.0.2.1:53"}) {
		t.Errorf("within the recheck interval: %v, want the cached list", got)
	}
	if got, _ := u.get(now.Add(resolvConfRecheck + time.Second)); !slices.Equal(got, []string{"192.0.2.2:53", "192.0.2.3:53"}) {
		t.Errorf("after the recheck interval: %v, want the new file's", got)
	}
	os.Remove(path)
	if _, err := u.get(now.Add(3 * resolvConfRecheck)); err == nil {
		t.Error("file gone: no error")
	}
}

// canBind53 skips the test where ip:53 cannot be bound: resolv.conf
// names no port, so a test of the file needs its resolvers on 53.
func canBind53(t *testing.T, ip string) {
	t.Helper()
	pc, ln, err := listen(ip + ":53")
	if err != nil {
		t.Skipf("cannot bind %s:53: %v", ip, err)
	}
	pc.Close()
	ln.Close()
}

// startServerAt runs a server on addr reading resolv.conf at path.
func startServerAt(t *testing.T, addr, path string) *Server {
	t.Helper()
	s, err := New(Config{Addr: addr, ResolvConf: path, Timeout: 500 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestServerForwardsToResolvConf: with no fixed upstreams the server asks
// the nameservers of its resolv.conf, skipping itself there; a file that
// lists only the server fails at once instead of looping.
func TestServerForwardsToResolvConf(t *testing.T) {
	canBind53(t, "127.0.0.77")
	canBind53(t, "127.0.0.78")
	startUpstreamAt(t, "127.0.0.77:53", answerA("192.0.2.11"))
	dir := t.TempDir()
	both := filepath.Join(dir, "both.conf")
	writeFile(t, both, "nameserver 127.0.0.78\nnameserver 127.0.0.77\n")
	s := startServerAt(t, "127.0.0.78:53", both)
	start := time.Now()
	if got := addrs(ask(t, s, "udp", "example.com.", dns.TypeA).Answer); !slices.Equal(got, []string{"192.0.2.11"}) {
		t.Errorf("answer %v, want the resolv.conf upstream's", got)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("answer took %v: the server asked itself first", d)
	}
	s.Close()

	self := filepath.Join(dir, "self.conf")
	writeFile(t, self, "nameserver 127.0.0.78\n")
	s = startServerAt(t, "127.0.0.78:53", self)
	start = time.Now()
	if r := ask(t, s, "udp", "example.com.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("only itself upstream: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("SERVFAIL took %v: the server asked itself", d)
	}
}
