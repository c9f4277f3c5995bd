package harness

import (
	"errors"
	"fmt"
	"math/rand"
	"net"
	"sync"
	"testing"
	"time"
)

var (
	portMu     sync.Mutex
	portRand   = rand.New(rand.NewSource(time.Now().UnixNano()))
	portsTaken = map[int]bool{}
)

// PickPort returns a port free on 127.0.0.1 for TCP and UDP. It is below
// the kernel's ephemeral range (32768+), so that an agent's outbound
// connections cannot take it before the agent that owns it binds it, and
// it is never returned twice in one process.
func PickPort() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < 200; i++ {
		port := 20000 + portRand.Intn(12000)
		if portsTaken[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			portsTaken[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no free port")
}

// FreePort is PickPort that fails the test.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
