// Command hello is Shoal's test image: a tiny static HTTP server. It listens
// on $PORT (default 8080), answers GET / with "hello from task
// $SHOAL_TASK_ID on $SHOAL_NODE" and /healthz with "ok", and prints a line
// to stdout when it starts and for every request.
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
	"syscall"
	"time"
)

func main() {
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
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}

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
	probe()
	// With PORT=0 the kernel picks the port; say which.
	fmt.Printf("hello listening on %s (task %s, node %s)\n", ln.Addr(), task, node)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
	os.Exit(<-done)
}
