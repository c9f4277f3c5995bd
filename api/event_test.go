package api

import (
	"net/url"
	"testing"
)

func TestEventFilterRoundTripsAndMatches(t *testing.T) {
	q, _ := url.ParseQuery("type=task,node&type=cluster&service=web&node=n1&since=0")
	f, err := ParseEventFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Types) != 3 || f.Service != "web" || f.Node != "n1" || f.Since == nil || *f.Since != 0 {
		t.Fatalf("parsed %+v", f)
	}
	if got, want := f.Query().Encode(), "node=n1&service=web&since=0&type=task&type=node&type=cluster"; got != want {
		t.Fatalf("query %s, want %s", got, want)
	}
	for e, want := range map[*Event]bool{
		{Type: EventTask, Service: "web", Node: "n1"}: true,
		{Type: EventTask, Service: "api", Node: "n1"}: false,
		{Type: EventTask, Service: "web", Node: "n2"}: false,
		{Type: EventService, Service: "web"}:          false,
	} {
		if f.Match(e) != want {
			t.Errorf("Match(%+v) = %v", e, !want)
		}
	}
	if all := (EventFilter{}); !all.Match(&Event{Type: EventCluster}) || all.Query().Encode() != "" {
		t.Fatal("the empty filter must match everything and encode to nothing")
	}
}
