package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// serveSocket serves h on a fresh unix socket, as an agent's local API,
// and returns the server and its address as --addr takes it.
func serveSocket(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "shoal-cli-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { srv.Close(); os.RemoveAll(dir) })
	return srv, "unix://" + path
}
