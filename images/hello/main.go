// Command hello is Shoal's test image: a tiny static HTTP server. It listens
// on $PORT (default 8080), answers GET / with "hello from task
// $SHOAL_TASK_ID on $SHOAL_NODE" and /healthz with "ok", and prints a line
// to stdout when it starts and for every request. Build it static:
//
//	CGO_ENABLED=0 go build -o hello ./images/hello
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	greeting := fmt.Sprintf("hello from task %s on %s\n", os.Getenv("SHOAL_TASK_ID"), os.Getenv("SHOAL_NODE"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("request %s %s from %s\n", r.Method, r.URL.Path, r.RemoteAddr)
		fmt.Fprint(w, greeting)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("request %s %s from %s\n", r.Method, r.URL.Path, r.RemoteAddr)
		fmt.Fprintln(w, "ok")
	})
	fmt.Printf("hello listening on :%s (task %s, node %s)\n", port, os.Getenv("SHOAL_TASK_ID"), os.Getenv("SHOAL_NODE"))
	log.SetFlags(0)
	log.Fatal(http.ListenAndServe(":"+port, mux))
}
