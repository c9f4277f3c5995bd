package orchestrator

import (
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
)

func TestAllocatePlacesAndExplains(t *testing.T) {
	s := spec("web", 3)
	s.Reservations.MemoryBytes = 5 << 30 // one per 8 GiB node
	e := newEnv(t)
	e.addNode("n2", nil)
	e.createService("s1", s)
	e.write(Orchestrate(e.view(), e.now, e.newID))
	p := Allocate(e.view(), scheduler.Options{})
	placed, unplaced := 0, 0
	nodes := map[string]bool{}
	for _, a := range p.Assign {
		if a.NodeID != "" {
			placed++
			nodes[a.NodeID] = true
		} else if strings.Contains(a.Err, "no suitable node") {
			unplaced++
		}
	}
	if placed != 2 || unplaced != 1 || len(nodes) != 2 {
		t.Fatalf("assign = %+v", p.Assign)
	}
	e.write(p)
	// The same explanation is not written twice.
	if p := Allocate(e.view(), scheduler.Options{}); !Empty(p) {
		t.Fatalf("second call = %+v", p)
	}
	// A new node takes the pending task.
	e.addNode("n3", nil)
	p = Allocate(e.view(), scheduler.Options{})
	if len(p.Assign) != 1 || p.Assign[0].NodeID != "n3" {
		t.Fatalf("after n3 joined: %+v", p)
	}
}

func TestAllocateGlobalTasksStayOnTheirNode(t *testing.T) {
	s := globalSpec()
	s.Reservations.MemoryBytes = 5 << 30
	e := newEnv(t)
	e.addNode("n2", nil)
	e.createService("g1", s)
	web := spec("web", 1)
	web.Reservations.MemoryBytes = 5 << 30
	e.createService("s1", web)
	e.write(Orchestrate(e.view(), e.now, e.newID))
	p := Allocate(e.view(), scheduler.Options{})
	for _, a := range p.Assign {
		task := e.task(a.TaskID)
		switch {
		case task.ServiceID == "g1" && a.NodeID != task.NodeID:
			t.Fatalf("global task %s on %s went to %q", task.ID, task.NodeID, a.NodeID)
		case task.ServiceID == "s1" && !strings.Contains(a.Err, "too little memory"):
			// Global tasks are booked first, so the replica finds no room.
			t.Fatalf("replica assignment = %+v", a)
		}
	}
	if len(p.Assign) != 3 {
		t.Fatalf("assign = %+v", p.Assign)
	}
}

func TestAllocateCapsTheBatch(t *testing.T) {
	e := newEnv(t)
	e.createService("s1", spec("web", MaxAllocateBatch+5))
	e.write(Orchestrate(e.view(), e.now, e.newID))
	p := Allocate(e.view(), scheduler.Options{})
	if len(p.Assign) != MaxAllocateBatch {
		t.Fatalf("%d assignments, want %d", len(p.Assign), MaxAllocateBatch)
	}
	e.write(p)
	if p := Allocate(e.view(), scheduler.Options{}); len(p.Assign) != 5 {
		t.Fatalf("second batch has %d assignments, want 5", len(p.Assign))
	}
}

func TestAllocateIgnoresStoppedAndOrphanTasks(t *testing.T) {
	e := newEnv(t)
	e.createService("s1", spec("web", 2))
	p := Orchestrate(e.view(), e.now, e.newID)
	e.write(p)
	e.write(api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: p.Create[0].ID, DesiredState: api.TaskShutdown}}})
	e.apply(api.CmdRemoveService, api.RemoveServicePayload{Name: "web"})
	if p := Allocate(e.view(), scheduler.Options{}); !Empty(p) {
		t.Fatalf("allocated tasks of a removed service: %+v", p)
	}
}

func TestAllocateExplainsUnobtainableImage(t *testing.T) {
	e := newEnv(t)
	sp := spec("c", 1)
	sp.Runtime, sp.Image, sp.Command = api.RuntimeContainerd, "shoal/hello:v1", nil
	e.createService("svc-c", sp)
	e.write(Orchestrate(e.view(), e.now, e.newID))
	p := Allocate(e.view(), scheduler.Options{})
	if len(p.Assign) != 1 || p.Assign[0].NodeID != "" || !strings.Contains(p.Assign[0].Err, "held by no node") {
		t.Fatalf("assign = %+v", p.Assign)
	}
	e.write(p)
	if p := Allocate(e.view(), scheduler.Options{}); !Empty(p) {
		t.Fatalf("explanation rewritten: %+v", p)
	}
	// Once a node holds it, the image is no longer the reason (here the
	// node lacks the runtime, which the scheduler explains).
	e.apply(api.CmdReportImages, api.ReportImagesPayload{NodeID: "n1", Images: []api.ImageRef{{Ref: "docker.io/shoal/hello:v1", Digest: "sha256:aa"}}})
	p = Allocate(e.view(), scheduler.Options{})
	if len(p.Assign) != 1 || strings.Contains(p.Assign[0].Err, "held by no node") {
		t.Fatalf("image still blamed once held: %+v", p.Assign)
	}
}

// imageProblem looks records up by the normalized name, whatever form the
// spec writes, and tells registry-less short names from named registries.
func TestImageProblemNormalizesNames(t *testing.T) {
	e := newEnv(t)
	e.apply(api.CmdReportImages, api.ReportImagesPayload{NodeID: "n1", Images: []api.ImageRef{
		{Ref: "docker.io/local/busybox:1", Digest: "sha256:aa"},
		{Ref: "docker.io/library/busybox:latest", Digest: "sha256:bb"},
	}})
	for image, want := range map[string]string{
		"local/busybox:1":                  "",
		"docker.io/local/busybox:1":        "",
		"index.docker.io/local/busybox:1":  "",
		"busybox":                          "",
		"library/busybox:latest":           "",
		"docker.io/library/busybox:latest": "",
		"local/busybox:2":                  "image local/busybox:2 is held by no node and names no registry",
		"other":                            "image other is held by no node and names no registry",
		"docker.io/local/other:1":          "", // names Docker Hub: pulled from there
		"127.0.0.1:5000/x:2":               "", // names a registry
		"local/BusyBox:1":                  `image reference "local/BusyBox:1": invalid reference format`,
	} {
		sp := api.ServiceSpec{Runtime: api.RuntimeContainerd, Image: image}
		got := imageProblem(e.view(), &sp)
		if (want == "") != (got == "") || !strings.HasPrefix(got, want) {
			t.Errorf("imageProblem(%q) = %q, want %q", image, got, want)
		}
	}
}
