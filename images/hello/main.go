// Command hello is Shoal's test image: a tiny static HTTP server. It listens
// on $PORT (default 8080), answers GET / with "hello from task
// $SHOAL_TASK_ID on $SHOAL_NODE" and /healthz with "ok" (see extras.go
// for $HOST, /whoami, PROXY protocol and UDP), and prints a line
// to stdout when it starts and for every request to those two. GET
// /bytes?n=N streams N bytes (from a fixed buffer, without a log line: the
// network benchmark's traffic, so that logging does not weigh on it).
//
// "hello -check URL" is a health check instead (the image has no shell):
// it GETs URL and exits 0 on a 2xx or 3xx answer, 1 otherwise.
//
// With $HELLO_PROBES set it first tries to drive the agent's API as a
// hostile workload would, and prints what happened (see probe).
//
// As a container's PID 1 the kernel would ignore SIGTERM's default action
// (and Go would then exit 2), so hello handles SIGTERM and SIGINT itself:
// it stops serving and exits with 128+signal, as if killed by it.
//
// Build it static:
//
//	CGO_ENABLED=0 go build -o hello ./images/hello
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-check" {
		os.Exit(checkMain(os.Args[2]))
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	task, node := os.Getenv("SHOAL_TASK_ID"), os.Getenv("SHOAL_NODE")
	greeting := fmt.Sprintf("hello from task %s on %s\n", task, node)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("request %s %s from %s\n", r.Method, r.URL.Path, r.RemoteAddr)
		fmt.Fprint(w, greeting)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("request %s %s from %s\n", r.Method, r.URL.Path, r.RemoteAddr)
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n", task, r.RemoteAddr)
	})
	mux.HandleFunc("GET /bytes", serveBytes)
	srv := &http.Server{Addr: net.JoinHostPort(os.Getenv("HOST"), port), Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan int, 1)
	go func() {
		sig := (<-sigs).(syscall.Signal)
		fmt.Printf("hello stopping on %s\n", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		done <- 128 + int(sig)
	}()

	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
	if os.Getenv("HELLO_PROXY_PROTOCOL") == "1" {
		ln = proxyListener{ln}
	}
	if os.Getenv("HELLO_UDP") == "1" {
		if err := serveUDP(ln.Addr().String(), task); err != nil {
			fmt.Fprintln(os.Stderr, "hello:", err)
			os.Exit(1)
		}
	}
	probe()
	// With PORT=0 the kernel picks the port; say which.
	fmt.Printf("hello listening on %s (task %s, node %s)\n", ln.Addr(), task, node)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
	os.Exit(<-done)
}

// chunk is what /bytes sends, over and over.
var chunk = make([]byte, 256<<10)

// serveBytes streams n bytes (query n, at most 1 TiB) from chunk.
func serveBytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		http.Error(w, "n: a byte count from 0 to 2^40", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	for n > 0 {
		k := min(n, int64(len(chunk)))
		if _, err := w.Write(chunk[:k]); err != nil {
			return
		}
		n -= k
	}
}
