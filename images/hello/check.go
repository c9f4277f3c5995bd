package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"
)

// checkMain is hello's health check mode, for images without a shell:
// "hello -check URL" GETs URL and exits 0 on a 2xx or 3xx answer, and 1
// (saying why) otherwise or after 5 seconds.
func checkMain(url string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello -check:", err)
		return 1
	}
	client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello -check:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		fmt.Fprintf(os.Stderr, "hello -check: GET %s: %s\n", url, resp.Status)
		return 1
	}
	fmt.Printf("GET %s: %s\n", url, resp.Status)
	return 0
}
