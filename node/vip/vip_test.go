package vip

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/node/endpoints"
)

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (nftables)")
	}
}

// listen serves TCP on addr (port 0: any), answering each connection
// with name and the client's address, and returns the port.
func listen(t *testing.T, addr, name string) uint16 {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s %s", name, c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func get(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestSyncSpreadsRejectsAndRemoves: a host process reaches two loopback
// backends through the VIP (output chain DNAT), both answer, the backend
// sees the client's address unchanged; a port the service lacks, and one
// with no backends, are refused at once; Remove leaves no table.
func TestSyncSpreadsRejectsAndRemoves(t *testing.T) {
	needRoot(t)
	table := TableName(fmt.Sprintf("vip-test-%d", os.Getpid()))
	t.Cleanup(func() { Remove(table) })
	// Two backends on one port number, on two loopback addresses.
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(l1.Addr().(*net.TCPAddr).Port)
	l1.Close()
	listen(t, fmt.Sprintf("127.0.0.1:%d", port), "a")
	listen(t, fmt.Sprintf("127.0.0.2:%d", port), "b")
	vip := netip.MustParseAddr("10.43.250.7")
	svc := endpoints.Service{Name: "web", VIP: vip, Ports: []endpoints.Port{{Protocol: "tcp", Target: 80, Backends: []endpoints.Backend{
		{TaskID: "a", Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)},
		{TaskID: "b", Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port)},
	}}}}
	if err := Sync(table, Node{}, []endpoints.Service{svc}); err != nil {
		t.Fatal(err)
	}
	if err := Sync(table, Node{}, []endpoints.Service{svc}); err != nil { // again: replaces
		t.Fatal(err)
	}
	rules, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
	if err != nil || !strings.Contains(string(rules), "dnat ip to numgen random mod 2 map @backends1") || !strings.Contains(string(rules), "127.0.0.2 . ") {
		t.Fatalf("nft list table: %v\n%s", err, rules)
	}
	t.Logf("%s", rules)
	seen := map[string]int{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		out, err := get("10.43.250.7:80")
		if err != nil {
			t.Fatalf("through the VIP: %v", err)
		}
		name, client, _ := strings.Cut(out, " ")
		seen[name]++
		t.Logf("%s answered %s", name, client)
		if !strings.HasPrefix(client, "127.") && !strings.HasPrefix(client, "192.") && !strings.HasPrefix(client, "10.") {
			t.Errorf("client address %q", client)
		}
	}
	if len(seen) != 2 {
		t.Errorf("answers %v, want both backends", seen)
	}

	start := time.Now()
	_, err = get("10.43.250.7:81")
	if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(start) > time.Second {
		t.Errorf("a port the service does not have: %v after %s, want connection refused at once", err, time.Since(start))
	}

	svc.Ports[0].Backends = nil
	if err := Sync(table, Node{}, []endpoints.Service{svc}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err = get("10.43.250.7:80")
	if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(start) > time.Second {
		t.Errorf("no backends: %v after %s, want connection refused at once", err, time.Since(start))
	}

	if !Exists(table) {
		t.Error("Exists: false for the table")
	}
	if err := Remove(table); err != nil {
		t.Fatal(err)
	}
	if Exists(table) {
		t.Error("Exists: true after Remove")
	}
	out, _ := exec.Command("nft", "list", "tables").CombinedOutput()
	if strings.Contains(string(out), table) {
		t.Errorf("table %s left after Remove:\n%s", table, out)
	}
	if err := Remove(table); err != nil {
		t.Errorf("removing a missing table: %v", err)
	}
}
