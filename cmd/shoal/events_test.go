package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// fakeEvents serves GET /v1/events: it records the request and answers
// with status and body.
type fakeEvents struct {
	mu     sync.Mutex
	uris   []string
	status int
	body   string
	srv    *httptest.Server
	addr   string
}

func newFakeEvents(t *testing.T, status int, body string) *fakeEvents {
	f := &fakeEvents{status: status, body: body}
	f.srv, f.addr = serveSocket(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.uris = append(f.uris, r.Method+" "+r.URL.RequestURI())
		f.mu.Unlock()
		if f.status != http.StatusOK {
			writeAPIError(w, api.Errorf(api.CodeGone, "%s", f.body))
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		io.WriteString(w, f.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEvents) cli(args ...string) (string, string, int) {
	env := &cliEnv{getenv: func(string) string { return "" }, stdin: strings.NewReader(""), now: func() time.Time { return fixedNow },
		poll: time.Millisecond, tweak: func(c *api.Client) { c.Backoff = time.Millisecond }}
	var out, errOut strings.Builder
	code := runWith(append([]string{"--addr", f.addr}, args...), env, &out, &errOut)
	return out.String(), errOut.String(), code
}

func eventJSON(t *testing.T, e api.Event) string {
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func testEvents(t *testing.T) string {
	return eventJSON(t, api.Event{Index: 12, Time: fixedNow, Type: api.EventTask, Action: "running", ID: "t1", Name: "web.1",
		Service: "web", Node: "n1", Attrs: map[string]string{"state": "running"}}) +
		eventJSON(t, api.Event{Index: 13, Time: fixedNow.Add(time.Second), Type: api.EventNode, Action: "down", ID: "p2", Name: "n2", Node: "n2",
			Attrs: map[string]string{"status": "down"}})
}

func TestEventsPrintsLinesAndFailsOnACutOff(t *testing.T) {
	f := newFakeEvents(t, http.StatusOK, testEvents(t)+`{"error":"consumer too slow: 5001 events behind; resume with ?since=13","resume":13}`+"\n")
	out, errOut, code := f.cli("events", "--since", "5", "--filter", "type=task,node", "-f", "service=web", "--filter", "node=n1")
	want := "2026-01-02T03:04:05.000Z 12 task running web.1 (node=n1, state=running)\n" +
		"2026-01-02T03:04:06.000Z 13 node down n2 (status=down)\n"
	if out != want {
		t.Fatalf("output\n%s\nwant\n%s", out, want)
	}
	if code != 1 || errOut != "shoal: consumer too slow: 5001 events behind; resume with --since 13\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if got, want := f.uris[0], "GET /v1/events?node=n1&service=web&since=5&type=task&type=node"; got != want {
		t.Fatalf("request %s, want %s", got, want)
	}
}

func TestEventsJSONIsTheRawStream(t *testing.T) {
	body := testEvents(t)
	f := newFakeEvents(t, http.StatusOK, body)
	out, errOut, code := f.cli("events", "-o", "json")
	if out != body {
		t.Fatalf("output\n%s\nwant\n%s", out, body)
	}
	// The stream ending is an error that says where to resume.
	if code != 1 || errOut != "shoal: the agent closed the event stream; resume with --since 13\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if f.uris[0] != "GET /v1/events" {
		t.Fatalf("request %s", f.uris[0])
	}
}

func TestEventsGoneIsOneLine(t *testing.T) {
	f := newFakeEvents(t, http.StatusGone, "events after index 3 are no longer kept on this node: resume with since >= 812")
	_, errOut, code := f.cli("events", "--since", "3")
	if code != 1 || errOut != "shoal: events after index 3 are no longer kept on this node: resume with since >= 812\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestEventsRefusesBadFilters(t *testing.T) {
	f := newFakeEvents(t, http.StatusOK, "")
	for _, tc := range []struct{ args, want string }{
		{"--filter type=pod", `unknown event type "pod"`},
		{"--filter colour=red", `unknown filter "colour" (want type, service or node)`},
		{"--filter web", `filter "web" is not KEY=VALUE`},
		{"--filter service=a --filter service=b", "filter service is given twice"},
		{"--since -3", "invalid argument"},
		{"-o yaml", `unknown output format "yaml"`},
	} {
		_, errOut, code := f.cli(append([]string{"events"}, strings.Fields(tc.args)...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("events %s: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
	if len(f.uris) != 0 {
		t.Fatalf("bad filters reached the agent: %v", f.uris)
	}
}
