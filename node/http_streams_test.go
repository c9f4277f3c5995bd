package node

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// TestStreamLimits checks a source gets at most its share of streams, the
// agent at most its total, and slots come back when streams end.
func TestStreamLimits(t *testing.T) {
	l := newStreamLimits(2, 3)
	for i, src := range []string{"a", "a"} {
		if err := l.acquire(src); err != nil {
			t.Fatalf("stream %d from a refused: %v", i, err)
		}
	}
	if err := l.acquire("a"); err == nil || err.Code != api.CodeRateLimited {
		t.Fatalf("third stream from a: %v, want rate limited", err)
	}
	if err := l.acquire("b"); err != nil {
		t.Fatalf("b refused: %v", err)
	}
	if err := l.acquire("c"); err == nil {
		t.Fatal("a stream past the total was admitted")
	}
	l.release("a")
	if err := l.acquire("c"); err != nil {
		t.Fatalf("c refused after a stream ended: %v", err)
	}

	// Through the handler: the slot is held while the handler runs.
	l = newStreamLimits(1, 10)
	release := make(chan struct{})
	started := make(chan struct{})
	h := l.limited(func(w http.ResponseWriter, r *http.Request) { close(started); <-release })
	r := httptest.NewRequest("GET", "/v1/events", nil)
	r.RemoteAddr = "192.0.2.9:5555"
	go h(httptest.NewRecorder(), r)
	<-started
	w := httptest.NewRecorder()
	r2 := httptest.NewRequest("GET", "/v1/events", nil)
	r2.RemoteAddr = "192.0.2.9:5556"
	h(w, r2)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("second stream from one address: %d, want 429", w.Code)
	}
	close(release)
}
