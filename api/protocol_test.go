package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestCheckProtocol(t *testing.T) {
	old := &Node{Name: "old"}
	cur := &Node{Name: "new", Protocol: ProtocolVersion}
	two := &Node{Name: "two", Protocol: 2}
	if err := CheckProtocol(Command{Type: CmdCreateService}, []*Node{old, cur}); err != nil {
		t.Fatalf("a protocol-1 command was refused: %v", err)
	}
	err := CheckProtocol(Command{Type: CmdNodeRestarting}, []*Node{cur, old})
	if err == nil || err.Code != CodeConflict || !strings.Contains(err.Message, "node old speaks 1") {
		t.Fatalf("err = %v, want a conflict naming node old", err)
	}
	if err := CheckProtocol(Command{Type: CmdNodeRestarting}, []*Node{cur, two}); err != nil {
		t.Fatalf("refused with every node at protocol 2 or newer: %v", err)
	}
	drain := Command{Type: CmdUpdateNode, Payload: []byte(`{"node_id":"x","availability":"drain","drain_deadline":"2m0s"}`)}
	if err := CheckProtocol(drain, []*Node{cur, two}); err == nil || !strings.Contains(err.Message, "protocol 3; node two speaks 2") {
		t.Fatalf("a drain deadline with a protocol-2 node: %v", err)
	}
	plainDrain := Command{Type: CmdUpdateNode, Payload: []byte(`{"node_id":"x","availability":"drain"}`)}
	if err := CheckProtocol(plainDrain, []*Node{old}); err != nil {
		t.Fatalf("a drain without a deadline was refused: %v", err)
	}
	four := &Node{Name: "four", Protocol: 4}
	deny := Command{Type: CmdRemoveNode, Payload: []byte(`{"node_id":"x","token_nonce":"bm9uY2U=","deny":true}`)}
	if err := CheckProtocol(deny, []*Node{cur, four}); err == nil || !strings.Contains(err.Message, "protocol 5; node four speaks 4") {
		t.Fatalf("a removal with deny and a protocol-4 node: %v", err)
	}
	if err := CheckProtocol(Command{Type: CmdRemoveNode, Payload: []byte(`{"node_id":"x","token_nonce":"bm9uY2U="}`)}, []*Node{cur, four}); err != nil {
		t.Fatalf("a removal without deny was refused at protocol 4: %v", err)
	}
	for typ, v := range commandProtocol {
		if v > ProtocolVersion || v < 2 {
			t.Errorf("%s is listed at protocol %d; this build speaks %d", typ, v, ProtocolVersion)
		}
	}
	for _, f := range fieldProtocol {
		if f.version > ProtocolVersion || f.version < 2 {
			t.Errorf("%s %s is listed at protocol %d; this build speaks %d", f.typ, f.key, f.version, ProtocolVersion)
		}
	}
}

// TestProtocolOfUser: user is a container setting since protocol 1; on a
// process service it is new in protocol 5 (an older node would run the
// process as root), in every command that carries a spec.
func TestProtocolOfUser(t *testing.T) {
	process := ServiceSpec{Name: "web", Runtime: RuntimeProcess, Command: []string{"sh"}, User: "nobody"}
	implicit := process
	implicit.Runtime = "" // a command without an image is a process
	container := ServiceSpec{Name: "db", Runtime: RuntimeContainerd, Image: "redis", User: "redis"}
	root := process
	root.User = ""
	payloads := map[CommandType]func(ServiceSpec) any{
		CmdCreateService: func(s ServiceSpec) any { return CreateServicePayload{ServiceID: "s1", Spec: s} },
		CmdUpdateService: func(s ServiceSpec) any { return UpdateServicePayload{Name: s.Name, Spec: s} },
		CmdWriteTasks: func(s ServiceSpec) any {
			return WriteTasksPayload{Create: []Task{{ID: "t0", Spec: container}, {ID: "t1", Spec: s}}}
		},
	}
	for typ, payload := range payloads {
		for _, c := range []struct {
			spec ServiceSpec
			want int
		}{{process, 5}, {implicit, 5}, {container, 1}, {root, 1}} {
			raw, err := json.Marshal(payload(c.spec))
			if err != nil {
				t.Fatal(err)
			}
			if got := ProtocolOf(Command{Type: typ, Payload: raw}); got != c.want {
				t.Errorf("%s of runtime %q with user %q needs protocol %d, want %d", typ, c.spec.Runtime, c.spec.User, got, c.want)
			}
		}
	}
	// The key in a label alone, or a payload that does not decode.
	labelled := root
	labelled.Labels = map[string]string{"user": "x"}
	raw, _ := json.Marshal(CreateServicePayload{Spec: labelled})
	if got := ProtocolOf(Command{Type: CmdCreateService, Payload: raw}); got != 1 {
		t.Errorf("a label named user needs protocol %d, want 1", got)
	}
	if got := ProtocolOf(Command{Type: CmdWriteTasks, Payload: []byte(`{"create": [{"spec": {"user": 1}}]}`)}); got != 5 {
		t.Errorf("an undecodable task write with a user needs protocol %d, want 5", got)
	}
	four := &Node{Name: "four", Protocol: 4}
	raw, _ = json.Marshal(CreateServicePayload{Spec: process})
	err := CheckProtocol(Command{Type: CmdCreateService, Payload: raw}, []*Node{{Name: "new", Protocol: ProtocolVersion}, four})
	if err == nil || err.Message != "service.create needs every node at protocol 5; node four speaks 4: upgrade it first" {
		t.Errorf("a process user with a protocol-4 node: %v", err)
	}
}

func TestProtocolOfTaskNetwork(t *testing.T) {
	spec := ServiceSpec{Name: "web", Runtime: RuntimeContainerd, Image: "hello"}
	host := spec
	host.Network = NetworkHost
	for _, c := range []struct {
		typ     CommandType
		payload any
		want    int
	}{
		{CmdCreateService, CreateServicePayload{Spec: spec}, 1},
		{CmdCreateService, CreateServicePayload{Spec: host}, 5},
		{CmdUpdateService, UpdateServicePayload{Spec: host}, 5},
		{CmdWriteTasks, WriteTasksPayload{Create: []Task{{ID: "t", Spec: host}}}, 5},
		{CmdReportTaskStatus, ReportTaskStatusPayload{Updates: []TaskStatusUpdate{{TaskID: "t", Status: TaskStatus{State: TaskRunning}}}}, 1},
		{CmdReportTaskStatus, ReportTaskStatusPayload{Updates: []TaskStatusUpdate{{TaskID: "t", Status: TaskStatus{State: TaskRunning, IP: "10.42.0.2"}}}}, 5},
		{CmdBootstrap, BootstrapPayload{Cluster: Cluster{ID: "c"}}, 1},
		{CmdBootstrap, BootstrapPayload{Cluster: Cluster{ID: "c", CIDR: DefaultClusterCIDR}}, 5},
	} {
		raw, err := json.Marshal(c.payload)
		if err != nil {
			t.Fatal(err)
		}
		if got := ProtocolOf(Command{Type: c.typ, Payload: raw}); got != c.want {
			t.Errorf("%s %s needs protocol %d, want %d", c.typ, raw, got, c.want)
		}
	}
}

// BenchmarkProtocolOfTaskWrite is the protocol check of a 500-task write
// without ports (the common scheduling write): no spec is decoded.
func BenchmarkProtocolOfTaskWrite(b *testing.B) {
	var p WriteTasksPayload
	for i := range 500 {
		p.Create = append(p.Create, Task{ID: fmt.Sprint(i), Spec: ServiceSpec{Name: "web", Runtime: RuntimeProcess, Command: []string{"sleep", "1"}, Mode: ModeReplicated, Replicas: 500}})
	}
	raw, _ := json.Marshal(p)
	cmd := Command{Type: CmdWriteTasks, Payload: raw}
	b.ResetTimer()
	for range b.N {
		if ProtocolOf(cmd) > ProtocolVersion {
			b.Fatal("protocol")
		}
	}
}
