package api

import (
	"strings"
	"testing"
	"time"
)

func validSpec() ServiceSpec {
	return ServiceSpec{Name: "web", Command: []string{"/bin/sleep", "100"}, Replicas: 2}
}

func TestValidateAcceptsMinimalSpecs(t *testing.T) {
	s := validSpec()
	if err := s.Validate(); err != nil {
		t.Fatalf("minimal process spec: %v", err)
	}
	c := ServiceSpec{Name: "db-1", Image: "docker.io/library/redis:7", Mode: ModeGlobal}
	if err := c.Validate(); err != nil {
		t.Fatalf("minimal containerd global spec: %v", err)
	}
	full := validSpec()
	full.Env = []string{"A=1", "B="}
	full.Constraints = []Constraint{{"node.labels.zone", OpEq, "a"}, {"node.name", OpNe, "n1"}}
	full.Preferences = []PlacementPreference{{Spread: "node.labels.zone"}}
	full.Ports = []PortSpec{{Port: 80}, {Port: 80, Protocol: "udp"}}
	full.Restart = RestartPolicy{Condition: RestartOnFailure, Delay: Duration(time.Second), MaxAttempts: 3}
	full.StopSignal = "SIGINT"
	full.Labels = map[string]string{"team": "a"}
	if err := full.Validate(); err != nil {
		t.Fatalf("full spec: %v", err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	cases := []struct {
		edit func(*ServiceSpec)
		want string
	}{
		{func(s *ServiceSpec) { s.Name = "Web App" }, `spec.name: "Web App" is not a valid name (lowercase letters, digits and '-', 1-63 chars`},
		{func(s *ServiceSpec) { s.Name = "-web" }, `spec.name: "-web"`},
		{func(s *ServiceSpec) { s.Name = strings.Repeat("a", 64) }, `spec.name:`},
		{func(s *ServiceSpec) { s.Mode = ModeGlobal }, "spec.replicas: must be 0 for mode global"},
		{func(s *ServiceSpec) { s.Mode = "daemon" }, `spec.mode: "daemon" is not a mode`},
		{func(s *ServiceSpec) { s.Replicas = MaxReplicas + 1 }, "spec.replicas: 100001 is more than the limit"},
		{func(s *ServiceSpec) { s.Runtime = "docker" }, `spec.runtime: "docker" is not a runtime (want "process" or "containerd")`},
		{func(s *ServiceSpec) { s.Runtime = RuntimeProcess; s.Command = nil }, "spec.command: runtime process needs a command"},
		{func(s *ServiceSpec) { s.Runtime = RuntimeContainerd }, "spec.image: runtime containerd needs an image"},
		{func(s *ServiceSpec) { s.Runtime = RuntimeProcess; s.Image = "x" }, "spec.image: runtime process does not use an image"},
		{func(s *ServiceSpec) { s.Command = nil }, "spec.image: runtime containerd needs an image"},
		{func(s *ServiceSpec) { s.Command = []string{""} }, "spec.command[0]: is empty"},
		{func(s *ServiceSpec) { s.Command = nil; s.Image = "Local/Busybox:1" }, `spec.image: image reference "Local/Busybox:1": invalid reference format`},
		{func(s *ServiceSpec) { s.Command = nil; s.Image = "busybox:" }, `spec.image: image reference "busybox:": invalid reference format`},
		{func(s *ServiceSpec) { s.Env = []string{"A=1", "NOVALUE"} }, `spec.env[1]: "NOVALUE" is not KEY=VALUE`},
		{func(s *ServiceSpec) { s.Env = []string{"=x"} }, `spec.env[0]: "=x" is not KEY=VALUE`},
		{func(s *ServiceSpec) { s.Restart.Condition = "always" }, `spec.restart.condition: "always" is not one of none, on-failure, any`},
		{func(s *ServiceSpec) { s.Restart.Delay = -1 }, "spec.restart.delay: -1ns is negative"},
		{func(s *ServiceSpec) { s.Restart.Window = Duration(-time.Second) }, "spec.restart.window: -1s is negative"},
		{func(s *ServiceSpec) { s.StopGracePeriod = Duration(-time.Second) }, "spec.stop_grace_period: -1s is negative"},
		{func(s *ServiceSpec) { d := Duration(-time.Second); s.StopDelay = &d }, "spec.stop_delay: -1s is outside 0s to 10m0s"},
		{func(s *ServiceSpec) { s.Ports = []PortSpec{{Port: 0}} }, "spec.ports[0]: needs a port (published on the node) or a target_port"},
		{func(s *ServiceSpec) { s.Ports = []PortSpec{{Port: 80}, {Port: 80, Protocol: "tcp"}} }, "spec.ports[1]: 80/tcp is listed twice"},
		{func(s *ServiceSpec) { s.Ports = []PortSpec{{Port: 80, Protocol: "sctp"}} }, `spec.ports[0].protocol: "sctp"`},
		{func(s *ServiceSpec) { s.Constraints = []Constraint{{"zone", OpEq, "a"}} }, `spec.constraints[0]: invalid constraint "zone==a": unknown key "zone" (want ` + ConstraintKeys + `)`},
		{func(s *ServiceSpec) { s.Constraints = []Constraint{{"node.role", OpEq, "manager"}} }, `spec.constraints[0]: invalid constraint "node.role==manager": node.role is not supported`},
		{func(s *ServiceSpec) { s.Constraints = []Constraint{{"node.name", OpEq, ""}} }, `spec.constraints[0]: invalid constraint "node.name==": empty value`},
		{func(s *ServiceSpec) { s.Constraints = []Constraint{{"node.name ", OpEq, "a"}} }, `key and value must not have surrounding space`},
		{func(s *ServiceSpec) { s.Preferences = []PlacementPreference{{Spread: "zone"}} }, `spec.preferences[0].spread: "zone" must be node.labels.<key>`},
		{func(s *ServiceSpec) { s.Reservations.MemoryBytes = -1 }, "spec.reservations.memory_bytes: -1 is negative"},
		{func(s *ServiceSpec) { s.Reservations.NanoCPUs = -1 }, "spec.reservations.nano_cpus: -1 is out of range"},
		{func(s *ServiceSpec) { s.StopSignal = "SIGFOO" }, `spec.stop_signal: "SIGFOO": unknown signal`},
		{func(s *ServiceSpec) { s.Labels = map[string]string{"": "x"} }, `spec.labels: "" is not a valid label key`},
	}
	for _, c := range cases {
		s := validSpec()
		c.edit(&s)
		err := s.Validate()
		if err == nil {
			t.Errorf("want error containing %q, got nil", c.want)
			continue
		}
		if CodeOf(err) != CodeInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error = %q (code %s); want code invalid containing %q", err, CodeOf(err), c.want)
		}
	}
}

func TestNormalizeFillsDefaults(t *testing.T) {
	s := validSpec()
	s.Ports = []PortSpec{{Port: 80}}
	s.Normalize()
	if s.Mode != ModeReplicated || s.Runtime != RuntimeProcess || s.Restart.Condition != RestartAny ||
		s.Restart.Delay != DefaultRestartDelay || s.StopGracePeriod != DefaultStopGracePeriod || s.Ports[0].Protocol != "tcp" {
		t.Fatalf("normalized spec = %+v", s)
	}
	if s.Replicas != 2 {
		t.Fatalf("replicas changed to %d", s.Replicas)
	}
	c := ServiceSpec{Name: "db", Image: "redis", Command: []string{"redis-server"}, Replicas: 0}
	c.Normalize()
	if c.Runtime != RuntimeContainerd || c.Replicas != 0 {
		t.Fatalf("containerd spec normalized to %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("normalized spec invalid: %v", err)
	}
	again := c
	again.Normalize()
	if again.Runtime != c.Runtime || again.Restart != c.Restart {
		t.Fatal("Normalize is not idempotent")
	}
	keep := ServiceSpec{Restart: RestartPolicy{Condition: RestartNone, Delay: Duration(3 * time.Second)}, StopGracePeriod: Duration(time.Second)}
	keep.Normalize()
	if keep.Restart.Condition != RestartNone || keep.Restart.Delay.Std() != 3*time.Second || keep.StopGracePeriod.Std() != time.Second {
		t.Fatalf("Normalize overwrote set values: %+v", keep)
	}
}

func containerSpec() ServiceSpec {
	return ServiceSpec{Name: "db", Image: "docker.io/library/redis:7", Replicas: 1}
}

func TestValidateAcceptsContainerFields(t *testing.T) {
	s := containerSpec()
	s.Entrypoint = []string{"/bin/sh", "-c"}
	s.User = "1000:1000"
	s.Limits = Resources{NanoCPUs: 5e8, MemoryBytes: 128 * MiB}
	s.Reservations = Resources{NanoCPUs: 5e8, MemoryBytes: 64 * MiB}
	s.PidsLimit = 100
	s.Mounts = []Mount{
		{Type: MountVolume, Source: "data_1.v-2", Target: "/data", ReadOnly: true},
		{Type: MountBind, Source: "/srv/x", Target: "/x"},
		{Type: MountBind, Source: "/", Target: "/host"},
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("full container spec: %v", err)
	}
	for _, u := range []string{"redis", "0", "redis:redis", "1000:0"} {
		s := containerSpec()
		s.User = u
		if err := s.Validate(); err != nil {
			t.Errorf("user %q: %v", u, err)
		}
	}
	// A CPU or memory limit of 0 is no limit, whatever the reservation.
	s = containerSpec()
	s.Reservations = Resources{NanoCPUs: 2e9, MemoryBytes: GiB}
	if err := s.Validate(); err != nil {
		t.Fatalf("reservations without limits: %v", err)
	}
}

func TestValidateContainerFieldsNameTheField(t *testing.T) {
	vol := func(src, dst string) Mount { return Mount{Type: MountVolume, Source: src, Target: dst} }
	bind := func(src, dst string) Mount { return Mount{Type: MountBind, Source: src, Target: dst} }
	cases := []struct {
		edit func(*ServiceSpec)
		want string
	}{
		{func(s *ServiceSpec) { s.Entrypoint = []string{""} }, "spec.entrypoint[0]: is empty"},
		{func(s *ServiceSpec) { s.Entrypoint = []string{"sh", "a\x00b"} }, "spec.entrypoint[1]: contains a NUL byte"},
		{func(s *ServiceSpec) { s.User = ":1" }, `spec.user: ":1" is not NAME, NAME:GROUP, UID or UID:GID`},
		{func(s *ServiceSpec) { s.User = "1:2:3" }, `spec.user: "1:2:3" is not NAME, NAME:GROUP, UID or UID:GID`},
		{func(s *ServiceSpec) { s.User = "my user" }, `spec.user: "my user": name "my user" contains a space or control character`},
		{func(s *ServiceSpec) { s.Limits.NanoCPUs = -1 }, "spec.limits.nano_cpus: -1 is out of range"},
		{func(s *ServiceSpec) { s.Limits.NanoCPUs = MaxNanoCPUs + 1 }, "spec.limits.nano_cpus: 1000000000000001 is out of range"},
		{func(s *ServiceSpec) { s.Limits.NanoCPUs = 5e8; s.Reservations.NanoCPUs = 1e9 },
			"spec.limits.nano_cpus: a CPU limit of 0.5 cores is below the reservation of 1"},
		{func(s *ServiceSpec) { s.Limits.MemoryBytes = -1 }, "spec.limits.memory_bytes: -1 is negative"},
		{func(s *ServiceSpec) { s.Limits.MemoryBytes = MiB }, "spec.limits.memory_bytes: 1MiB is below the 4MiB a container needs"},
		{func(s *ServiceSpec) { s.Limits.MemoryBytes = 64 * MiB; s.Reservations.MemoryBytes = 128 * MiB },
			"spec.limits.memory_bytes: a memory limit of 64MiB is below the reservation of 128MiB"},
		{func(s *ServiceSpec) { s.PidsLimit = -1 }, "spec.pids_limit: -1 is negative"},
		{func(s *ServiceSpec) { s.Mounts = []Mount{{Source: "d", Target: "/d"}} }, `spec.mounts[0].type: is empty (want "volume" or "bind")`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{{Type: "tmpfs", Source: "d", Target: "/d"}} }, `spec.mounts[0].type: "tmpfs" is not a mount type`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol("", "/d")} }, "spec.mounts[0].source: a volume mount needs a volume name"},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol("-d", "/d")} }, `spec.mounts[0].source: "-d" is not a volume name`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol("a/b", "/d")} }, `spec.mounts[0].source: "a/b" is not a volume name`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol("..", "/d")} }, `spec.mounts[0].source: ".." is not a volume name`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol(strings.Repeat("v", 129), "/d")} }, `is not a volume name`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{bind("", "/d")} }, "spec.mounts[0].source: a bind mount needs a host path"},
		{func(s *ServiceSpec) { s.Mounts = []Mount{bind("srv/x", "/d")} }, `spec.mounts[0].source: "srv/x" must be an absolute path`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{bind("/srv/../etc", "/d")} }, `spec.mounts[0].source: "/srv/../etc" must be a clean path (write "/etc")`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol("d", "")} }, "spec.mounts[0].target: is empty"},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol("d", "/a"), vol("data", "data")} }, `spec.mounts[1].target: "data" must be an absolute path`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol("d", "/data/")} }, `spec.mounts[0].target: "/data/" must be a clean path (write "/data")`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol("d", "/a\x00")} }, `spec.mounts[0].target: "/a\x00" contains a NUL byte`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol("d", "/")} }, `spec.mounts[0].target: cannot mount over the container's root "/"`},
		{func(s *ServiceSpec) { s.Mounts = []Mount{vol("d", "/d"), bind("/srv", "/e"), vol("e", "/d")} },
			`spec.mounts[2].target: "/d" is already the target of spec.mounts[0]`},
	}
	for _, c := range cases {
		s := containerSpec()
		c.edit(&s)
		err := s.Validate()
		if err == nil {
			t.Errorf("want error containing %q, got nil", c.want)
			continue
		}
		if CodeOf(err) != CodeInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error = %q (code %s); want code invalid containing %q", err, CodeOf(err), c.want)
		}
	}
}

// TestValidateUserForEveryRuntime: a process service takes a user as a
// container does, and both refuse a malformed one with the same line.
func TestValidateUserForEveryRuntime(t *testing.T) {
	for _, u := range []string{"nobody", "65534", "app:staff", "1000:1000", "app:1000", "1000:staff"} {
		for _, s := range []ServiceSpec{validSpec(), containerSpec()} {
			s.User = u
			if err := s.Validate(); err != nil {
				t.Errorf("runtime %q, user %q: %v", s.runtime(), u, err)
			}
		}
	}
	for _, c := range []struct{ user, want string }{
		{"a:b:c", `spec.user: "a:b:c" is not NAME, NAME:GROUP, UID or UID:GID`},
		{"app:", `spec.user: "app:" is not NAME, NAME:GROUP, UID or UID:GID`},
		{"4294967295", `spec.user: "4294967295": 4294967295 is out of range for an ID (0-4294967294)`},
		{"-1", `spec.user: "-1": name "-1" starts with '-'`},
		{"app:\tx", `spec.user: "app:\tx": name "\tx" contains a space or control character`},
	} {
		for _, s := range []ServiceSpec{validSpec(), containerSpec()} {
			s.User = c.user
			err := s.Validate()
			if err == nil || CodeOf(err) != CodeInvalid || err.Error() != c.want {
				t.Errorf("runtime %q, user %q: error = %v; want %q", s.runtime(), c.user, err, c.want)
			}
		}
	}
}

func TestValidateContainerFieldsNeedContainerd(t *testing.T) {
	cases := []struct {
		edit func(*ServiceSpec)
		want string
	}{
		{func(s *ServiceSpec) { s.Entrypoint = []string{"/bin/sh"} }, `spec.entrypoint: only the containerd runtime supports entrypoint (runtime is "process")`},
		{func(s *ServiceSpec) { s.Limits.NanoCPUs = 1e9 }, "spec.limits: only the containerd runtime supports limits"},
		{func(s *ServiceSpec) { s.Limits.MemoryBytes = GiB }, "spec.limits: only the containerd runtime supports limits"},
		{func(s *ServiceSpec) { s.PidsLimit = 10 }, "spec.pids_limit: only the containerd runtime supports pids_limit"},
		{func(s *ServiceSpec) { s.Mounts = []Mount{{Type: MountVolume, Source: "d", Target: "/d"}} }, "spec.mounts: only the containerd runtime supports mounts"},
	}
	for _, c := range cases {
		for _, rt := range []string{"", RuntimeProcess} {
			s := validSpec()
			s.Runtime = rt
			c.edit(&s)
			err := s.Validate()
			if err == nil || CodeOf(err) != CodeInvalid || !strings.Contains(err.Error(), c.want) {
				t.Errorf("runtime %q: error = %v; want invalid containing %q", rt, err, c.want)
			}
		}
	}
}
