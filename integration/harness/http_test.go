package harness

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// apiServer serves h on a unix socket, as an agent's API.
func apiServer(t *testing.T, h http.Handler) (*httptest.Server, *Agent) {
	a := &Agent{Name: "n1", Socket: socketPath(t, "n1")}
	ln, err := net.Listen("unix", a.Socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, a
}

func TestDoSendsJSONAndDecodesTheAnswer(t *testing.T) {
	srv, a := apiServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "path": r.URL.Path,
			"type": r.Header.Get("Content-Type"), "body": string(body)})
	}))
	defer srv.Close()
	var got map[string]string
	if err := a.Post(context.Background(), "/v1/x", map[string]int{"n": 1}, &got); err != nil {
		t.Fatal(err)
	}
	if got["method"] != "POST" || got["path"] != "/v1/x" || got["type"] != "application/json" || got["body"] != `{"n":1}` {
		t.Fatalf("server saw %v", got)
	}
	if err := a.Get(context.Background(), "/v1/y", &got); err != nil {
		t.Fatal(err)
	}
	if got["method"] != "GET" || got["type"] != "" || got["body"] != "" {
		t.Fatalf("server saw %v", got)
	}
}

func TestDoReportsStatusAndBodyOfAFailure(t *testing.T) {
	srv, a := apiServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such node", http.StatusNotFound)
	}))
	defer srv.Close()
	err := a.Get(context.Background(), "/v1/nodes/x", nil)
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 404 || err.Error() != "GET /v1/nodes/x: 404 no such node" {
		t.Fatalf("err = %#v (%v)", err, err)
	}
}

func TestStatusOfAnAgentThatIsNotThereIsUnreachable(t *testing.T) {
	srv, a := apiServer(t, http.NotFoundHandler())
	srv.Close()
	_, err := a.Status(time.Second)
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Unwrap() == nil || err.Error() != ue.Err.Error() {
		t.Fatalf("err = %#v", err)
	}
}

func TestStatusDecodesTheClusterStatus(t *testing.T) {
	srv, a := apiServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/cluster" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(api.ClusterStatus{Leader: "n2"})
	}))
	defer srv.Close()
	st, err := a.Status(time.Second)
	if err != nil || st.Leader != "n2" {
		t.Fatalf("st=%+v err=%v", st, err)
	}
}
