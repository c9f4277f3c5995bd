package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// eventsFSM applies commands to an FSM as committed entries.
type eventsFSM struct {
	t     *testing.T
	fsm   *state.FSM
	index uint64
}

func (e *eventsFSM) apply(typ api.CommandType, payload any) {
	e.t.Helper()
	p, _ := json.Marshal(payload)
	b, _ := json.Marshal(api.Command{Version: api.CommandVersion, Type: typ, Time: time.Unix(1e9, 0).UTC(), Payload: p})
	e.index++
	res := e.fsm.Apply(state.Entry{Index: e.index, Data: b})
	if res.Err != nil {
		e.t.Fatalf("%s: %v", typ, res.Err)
	}
}

func (e *eventsFSM) register(id, name string) {
	e.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: id, Name: name, P2PAddr: "127.0.0.1:1", GossipAddr: "127.0.0.1:2"}})
}

func newEventsServer(t *testing.T) (*eventsFSM, testSocketServer) {
	e := &eventsFSM{t: t, fsm: state.NewFSM(state.NewStore())}
	srv := serveTestSocket(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveEvents(w, r, context.Background(), e.fsm)
	}))
	return e, srv
}

func TestEventsEndpointRefusesBadInputInOneLine(t *testing.T) {
	_, srv := newEventsServer(t)
	for query, want := range map[string]string{
		"type=pod":        `unknown event type "pod" (want service, task, node or cluster)`,
		"type=task,,node": `unknown event type ""`,
		"since=-1":        `since: "-1" is not a Raft index`,
		"since=":          `since: "" is not a Raft index`,
		"color=red":       `unknown event filter "color"`,
		"node=a&node=b":   "event filter node is given 2 times",
	} {
		resp, err := srv.HTTP.Get("http://localhost" + "/v1/events?" + query)
		if err != nil {
			t.Fatal(err)
		}
		var body api.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 400 || body.Error == nil || !strings.Contains(body.Error.Message, want) || strings.Contains(body.Error.Message, "\n") {
			t.Errorf("?%s: %d %+v, want 400 %q", query, resp.StatusCode, body.Error, want)
		}
	}
}

func TestEventsEndpointStreamsFilteredAndResumes(t *testing.T) {
	e, srv := newEventsServer(t)
	e.register("id1", "n1")
	e.register("id2", "n2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := api.NewClient(srv.Endpoint)
	stream, err := c.Events(ctx, api.EventFilter{Types: []api.EventType{api.EventNode}, Node: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	// Without since the stream starts now: n2's registration is history.
	e.apply(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "id1", Status: api.NodeDown})
	e.apply(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "id2", Status: api.NodeDown})
	ev, line, err := stream.Next()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Index != 4 || ev.Action != "down" || ev.Name != "n2" || !strings.HasPrefix(string(line), `{"index":4,`) {
		t.Fatalf("first event %s", line)
	}
	// Resume after index 1: exactly the later events, in order.
	since := uint64(1)
	all, err := c.Events(ctx, api.EventFilter{Since: &since})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	var got []string
	for len(got) < 3 {
		ev, _, err := all.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %s", ev.Index, ev.Action, ev.Name))
	}
	if want := "2 register n2|3 down n1|4 down n2"; strings.Join(got, "|") != want {
		t.Fatalf("since 1: %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestEventsEndpointAnswersGoneForAnOldResumePoint(t *testing.T) {
	e, srv := newEventsServer(t)
	e.register("id1", "n1")
	img, index, err := e.fsm.Store().SnapshotJSON()
	if err != nil {
		t.Fatal(err)
	}
	member := state.NewFSM(state.NewStore())
	member.RestoreJSON(img)
	e.fsm = member // the server now serves a replica restored at index
	resp, err := srv.HTTP.Get("http://localhost" + "/v1/events?since=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body api.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&body)
	want := fmt.Sprintf("resume with since >= %d", index)
	if resp.StatusCode != http.StatusGone || body.Error == nil || body.Error.Code != api.CodeGone || !strings.Contains(body.Error.Message, want) {
		t.Fatalf("since 0: %d %+v, want 410 %q", resp.StatusCode, body.Error, want)
	}
}
