package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// probe tries, once at start, to reach each target in $HELLO_PROBES (comma
// separated) the way a hostile workload would, and prints one line per
// target: "probe TARGET: status N" or "probe TARGET: error ...". A target
// is https://HOST:PORT/PATH (a POST that creates a service, certificate
// not checked, no token) or unix:PATH (the same POST over a unix socket).
// The tests use it to show a container cannot drive the agent's API.
// $HELLO_FETCH (comma separated URLs) is fetched the same way, by name:
// the tests use it to show a container finds services through DNS.
func probe() {
	for _, target := range strings.Split(os.Getenv("HELLO_PROBES"), ",") {
		if target = strings.TrimSpace(target); target != "" {
			fmt.Printf("probe %s: %s\n", target, probeOne(target))
		}
	}
	for _, url := range strings.Split(os.Getenv("HELLO_FETCH"), ",") {
		if url = strings.TrimSpace(url); url != "" {
			fmt.Printf("fetch %s: %s\n", url, fetch(url))
		}
	}
}

// fetch GETs url (names resolved through the container's resolv.conf,
// as any program would) and returns the status and the body's first line.
func fetch(url string) string {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "error " + err.Error()
	}
	defer resp.Body.Close()
	b := make([]byte, 256)
	n, _ := resp.Body.Read(b)
	line, _, _ := strings.Cut(string(b[:n]), "\n")
	return fmt.Sprintf("%d %s", resp.StatusCode, line)
}

func probeOne(target string) string {
	body := `{"name":"from-a-container","command":["sh","-c","id"],"replicas":1}`
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	url := target
	if path, ok := strings.CutPrefix(target, "unix:"); ok {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
		url = "http://localhost/v1/services"
	}
	c := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return "error " + err.Error()
	}
	resp.Body.Close()
	return fmt.Sprintf("status %d", resp.StatusCode)
}
