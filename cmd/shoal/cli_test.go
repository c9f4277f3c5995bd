package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// lines splits output into trimmed-right lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, strings.TrimRight(l, " "))
	}
	return out
}

// words splits a table line into its whitespace-separated words.
func words(line string) []string { return strings.Fields(line) }

func wantWords(t *testing.T, line string, want ...string) {
	t.Helper()
	if got := words(line); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("line %q\n has words %q\n want      %q", line, got, want)
	}
}

func jsonKeys(t *testing.T, raw []byte, keys ...string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, raw)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON object lacks key %q: %s", k, raw)
		}
	}
}

func TestNodeLs(t *testing.T) {
	f := newFakeAPI(t)
	out, errOut, code := f.cli("node", "ls")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	l := lines(out)
	if len(l) != 3 {
		t.Fatalf("want a header and 2 rows:\n%s", out)
	}
	wantWords(t, l[0], "ID", "NAME", "ADDRESS", "STATUS", "AVAILABILITY", "ROLE", "TASKS", "LABELS")
	wantWords(t, l[1], "Node1xxxxx", "n1", "10.0.0.1:7946", "ready", "active", "voter", "1", "disk=ssd,zone=a")
	wantWords(t, l[2], "Node2xxxxx", "n2", "10.0.0.2:7946", "ready", "active", "voter", "0", "disk=ssd,zone=a")
	if strings.Index(l[0], "NAME") != strings.Index(l[1], "n1") {
		t.Errorf("columns are not aligned:\n%s", out)
	}

	out, _, code = f.cli("node", "ls", "-o", "json")
	var nodes []json.RawMessage
	if code != 0 || json.Unmarshal([]byte(out), &nodes) != nil || len(nodes) != 2 {
		t.Fatalf("node ls -o json = %d %s", code, out)
	}
	jsonKeys(t, nodes[0], "id", "name", "status", "availability", "role", "address", "labels")
}

func TestNodeInspectUpdateRm(t *testing.T) {
	f := newFakeAPI(t)
	out, _, code := f.cli("node", "inspect", "n1")
	if code != 0 {
		t.Fatalf("inspect exit %d", code)
	}
	jsonKeys(t, []byte(out), "id", "name", "role")

	out, errOut, code := f.cli("node", "update", "n1", "--availability", "drain", "--label-add", "zone=b", "--label-rm", "disk")
	if code != 0 || out != "node n1 updated (availability drain, labels zone=b)\n" {
		t.Fatalf("update = %d %q %q", code, out, errOut)
	}
	_, bodies := f.log()
	if got := bodies[len(bodies)-1]; got != `{"availability":"drain","label_add":{"zone":"b"},"label_rm":["disk"]}` {
		t.Fatalf("update body = %s", got)
	}
	_, errOut, code = f.cli("node", "update", "n1", "--availability", "gone")
	if code != 2 || !strings.Contains(errOut, `--availability "gone" must be active, pause or drain`) {
		t.Fatalf("bad availability = %d %q", code, errOut)
	}
	_, errOut, code = f.cli("node", "update", "n1")
	if code != 2 || !strings.Contains(errOut, "nothing to update") {
		t.Fatalf("empty update = %d %q", code, errOut)
	}
	_, errOut, code = f.cli("node", "rm", "n1")
	if code != 1 || errOut != "shoal: node n1 is ready; only a down node can be removed\n" {
		t.Fatalf("rm = %d %q", code, errOut)
	}
	out, errOut, code = f.cli("node", "rm", "--force", "n1")
	if reqs, _ := f.log(); code != 0 || out != "node n1 removed\n" || reqs[len(reqs)-1] != "DELETE /v1/nodes/n1?force=true" {
		t.Fatalf("rm --force = %d %q %q (last request %s)", code, out, errOut, reqs[len(reqs)-1])
	}
	_, errOut, code = f.cli("node", "inspect", "zz")
	if code != 1 || errOut != "shoal: node \"zz\" not found\n" {
		t.Fatalf("inspect missing = %d %q", code, errOut)
	}
}

func TestClusterStatus(t *testing.T) {
	f := newFakeAPI(t)
	out, _, code := f.cli("cluster", "status")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Cluster ID:      c0ffee", "Leader:          n1 (Abcdefghij)", "Term:            4",
		"Commit index:    120", "Voters:          n1, n2, n3", "Non-voters:      n4", "Members:         4: n1, n2, n3, n4",
		"Created:         3 hours ago", "Answered by:     n2"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("cluster status lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = f.cli("cluster", "status", "-o", "json", "--consistent")
	jsonKeys(t, []byte(out), "cluster_id", "leader", "term", "commit_index", "voters", "members")
	if reqs, _ := f.log(); reqs[len(reqs)-1] != "GET /v1/cluster?consistent=true" {
		t.Errorf("last request = %s", reqs[len(reqs)-1])
	}
}

func TestToken(t *testing.T) {
	f := newFakeAPI(t)
	out, _, code := f.cli("token", "show", "-q")
	if code != 0 || out != "SHOAL-1-abc-def\n" {
		t.Fatalf("token show -q = %d %q", code, out)
	}
	out, _, _ = f.cli("token", "show")
	if !strings.Contains(out, "Rotated:    2 minutes ago") || !strings.Contains(out, "shoal agent --join 10.0.0.2:7946 --token SHOAL-1-abc-def") {
		t.Fatalf("token show =\n%s", out)
	}
	out, _, code = f.cli("token", "rotate", "-q")
	if code != 0 || out != "SHOAL-1-abc-new\n" {
		t.Fatalf("token rotate -q = %d %q", code, out)
	}
	out, _, _ = f.cli("token", "show", "-o", "json")
	jsonKeys(t, []byte(out), "token", "rotated_at")
}

func TestUsageErrorsAreOneLine(t *testing.T) {
	f := newFakeAPI(t)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"node", "ls", "--bogus"}, 2, "shoal: unknown flag: --bogus (see 'shoal node ls --help')"},
		{[]string{"nod"}, 2, `shoal: unknown command "nod" for "shoal"; did you mean: node`},
		{[]string{"service", "frobnicate"}, 2, `shoal: unknown command "frobnicate" for "shoal service" (see 'shoal service --help')`},
		{[]string{"node", "inspect"}, 2, `shoal: "shoal node inspect" needs exactly 1 argument (NAME), got 0 (see 'shoal node inspect --help')`},
		{[]string{"service", "ls", "-o", "yaml"}, 2, `shoal: unknown output format "yaml" (want table or json) (see 'shoal service ls --help')`},
		{[]string{"service", "create", "web", "--memory", "lots", "--", "x"}, 2, `shoal: --memory: invalid size "lots": want a number with an optional unit, like 64MiB or 1G (see 'shoal service create --help')`},
		{[]string{"service", "create", "web", "--replicas", "x"}, 2, `shoal: invalid argument "x" for "--replicas" flag: strconv.ParseUint: parsing "x": invalid syntax (see 'shoal service create --help')`},
		{[]string{"service", "create", "--", "sleep"}, 2, `shoal: "shoal service create" needs a service NAME before the command (see 'shoal service create --help')`},
		{[]string{"service", "create", "web"}, 1, "shoal: spec.image: runtime containerd needs an image"},
		{[]string{"service", "create", "Web", "--", "x"}, 1, `shoal: spec.name: "Web" is not a valid name`},
		{[]string{"service", "create", "web", "--image", "Local/Busybox:1"}, 1, `shoal: spec.image: image reference "Local/Busybox:1": invalid reference format: repository name (Busybox) must be lowercase`},
		{[]string{"service", "create", "web", "--mode", "global", "--replicas", "2", "--", "x"}, 2, "shoal: --replicas cannot be used with mode global"},
		{[]string{"service", "scale", "web"}, 2, `shoal: "web" must look like NAME=REPLICAS, e.g. web=3`},
		{[]string{"apply"}, 2, "shoal: give a manifest with -f FILE"},
		{[]string{"cluster", "status", "extra"}, 2, `shoal: "shoal cluster status" takes no arguments, got "extra"`},
	}
	for _, c := range cases {
		out, errOut, code := f.cli(c.args...)
		if code != c.code || !strings.HasPrefix(errOut, c.want) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("shoal %v:\n exit %d, stdout %q, stderr %q\n want exit %d, one line starting %q", c.args, code, out, errOut, c.code, c.want)
		}
	}
}

func TestUnreachableAgent(t *testing.T) {
	addr := "unix://" + t.TempDir() + "/none.sock"
	env := &cliEnv{getenv: func(k string) string {
		if k == "SHOAL_ADDR" {
			return addr
		}
		return ""
	}, now: time.Now, poll: time.Millisecond, tweak: func(c *api.Client) { c.Backoff = time.Millisecond }}
	var out, errOut strings.Builder
	code := runWith([]string{"service", "ls"}, env, &out, &errOut)
	want := "shoal: cannot reach shoal agent at " + addr + ": is it running? (set --addr or SHOAL_ADDR)\n"
	if code != 1 || errOut.String() != want {
		t.Fatalf("exit %d, stderr %q; want %q", code, errOut.String(), want)
	}
}

func TestShoalAddrPicksTheAgent(t *testing.T) {
	f := newFakeAPI(t)
	env := &cliEnv{getenv: func(k string) string {
		if k == "SHOAL_ADDR" {
			return f.addr
		}
		return ""
	}, now: time.Now, poll: time.Millisecond}
	var out, errOut strings.Builder
	if code := runWith([]string{"token", "show", "-q"}, env, &out, &errOut); code != 0 || out.String() != "SHOAL-1-abc-def\n" {
		t.Fatalf("exit %d, %q %q", code, out.String(), errOut.String())
	}
}

func TestHelpExitsZero(t *testing.T) {
	f := newFakeAPI(t)
	for _, args := range [][]string{{"--help"}, {"service"}, {"service", "create", "--help"}} {
		out, errOut, code := f.cli(args...)
		if code != 0 || !strings.Contains(out, "Usage:") || errOut != "" {
			t.Errorf("shoal %v = %d %q %q", args, code, out, errOut)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	cases := map[time.Duration]string{
		0: "Less than a second", time.Second: "1 second", 5 * time.Second: "5 seconds", 59 * time.Second: "59 seconds",
		time.Minute: "About a minute", 2 * time.Minute: "2 minutes", 59 * time.Minute: "59 minutes",
		time.Hour: "About an hour", 3 * time.Hour: "3 hours", 72 * time.Hour: "3 days", 21 * 24 * time.Hour: "3 weeks",
		90 * 24 * time.Hour: "3 months", 3 * 365 * 24 * time.Hour: "3 years", -time.Hour: "Less than a second",
	}
	for d, want := range cases {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q; want %q", d, got, want)
		}
	}
	if got := ago(fixedNow, time.Time{}); got != "-" {
		t.Errorf("ago(zero) = %q", got)
	}
}

// image ls shows names in docker's familiar short form; JSON keeps the
// normalized full name the cluster stores.
func TestImageLsShowsFamiliarNames(t *testing.T) {
	f := newFakeAPI(t)
	f.images = []api.ImageInfo{
		{Image: api.Image{Ref: "127.0.0.1:5000/x:2", Digest: "sha256:bbbbbbbbbbbbbbbbbbbb", TotalSize: 2048}, Nodes: []string{"n2"}},
		{Image: api.Image{Ref: "docker.io/library/busybox:latest", Digest: "sha256:cccccccccccccccccccc", TotalSize: 1024}, Nodes: []string{"n1"}},
		{Image: api.Image{Ref: "docker.io/local/busybox:1", Digest: "sha256:aaaaaaaaaaaaaaaaaaaa", TotalSize: 1024}, Nodes: []string{"n1", "n2"}},
	}
	out, errOut, code := f.cli("image", "ls")
	want := "IMAGE                DIGEST         SIZE   NODES\n" +
		"127.0.0.1:5000/x:2   bbbbbbbbbbbb   2KiB   n2\n" +
		"busybox:latest       cccccccccccc   1KiB   n1\n" +
		"local/busybox:1      aaaaaaaaaaaa   1KiB   n1,n2\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d %s\noutput:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	out, _, _ = f.cli("image", "ls", "-o", "json")
	if !strings.Contains(out, `"ref": "docker.io/local/busybox:1"`) {
		t.Fatalf("JSON lacks the full name:\n%s", out)
	}
}

// TestAddressAndTrustErrorsAreOneLine: a plain-HTTP address, an https
// address without a pinned CA or without a token are refused before any
// request, each with a line that says what to pass.
func TestAddressAndTrustErrorsAreOneLine(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "http://10.0.0.1:7948"}, `shoal: agent address "http://10.0.0.1:7948": agents serve TCP over HTTPS only; use https://HOST:PORT, or unix:///PATH for the local socket`},
		{[]string{"--addr", "https://10.0.0.1:7948", "--token", "x"}, "shoal: https needs the cluster CA: pass --ca-cert FILE or --ca-fingerprint sha256:… (shoal cluster ca prints both)"},
		{[]string{"--addr", "10.0.0.1:7948", "--ca-fingerprint", "sha256:" + strings.Repeat("ab", 32)}, "shoal: https://10.0.0.1:7948: the TCP API needs a token: pass --token, --token-file or $SHOAL_TOKEN"},
		{[]string{"--addr", "unix://run/x.sock"}, `shoal: agent address "unix://run/x.sock": a unix socket needs an absolute path, unix:///PATH`},
		{[]string{"--token-file", "/nonexistent/tok"}, "shoal: token file: /nonexistent/tok: no such file or directory"},
	}
	for _, tc := range cases {
		env := &cliEnv{getenv: func(string) string { return "" }, now: time.Now, poll: time.Millisecond}
		var out, errOut strings.Builder
		code := runWith(append(tc.args, "service", "ls"), env, &out, &errOut)
		if code != 1 || errOut.String() != tc.want+"\n" {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, errOut.String(), tc.want)
		}
	}
}
