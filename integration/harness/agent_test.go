package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shAgent is an agent whose "binary" is /bin/sh running script.
func shAgent(t *testing.T, script string) *Agent {
	a := NewAgent(t, "/bin/sh", "n1", filepath.Join(t.TempDir(), "n1"))
	a.Args = []string{"-c", script}
	t.Cleanup(a.Die)
	return a
}

func TestNewAgentArgsNameItsPortsAndDataDir(t *testing.T) {
	a := NewAgent(t, "shoal", "n7", "/d/n7", "--runtime", "process")
	want := "agent --name n7 --data-dir /d/n7 --bind 127.0.0.1 --p2p-port " + strconv.Itoa(a.P2PPort) +
		" --gossip-port " + strconv.Itoa(a.GossipPort) + " --api-socket " + a.Socket + " --runtime process"
	if got := strings.Join(a.Args, " "); got != want {
		t.Fatalf("args\n got %s\nwant %s", got, want)
	}
	if a.P2PAddr() != "127.0.0.1:"+strconv.Itoa(a.P2PPort) {
		t.Fatalf("P2PAddr = %s", a.P2PAddr())
	}
}

func TestOutputIsTheLatestRunAndLogEveryRun(t *testing.T) {
	a := shAgent(t, `echo "run $0"; exit 3`)
	if a.Running() {
		t.Fatal("running before Start")
	}
	if _, ok := a.ExitCode(0); ok {
		t.Fatal("an exit code before Start")
	}
	a.Start("one")
	if code, ok := a.ExitCode(10 * time.Second); !ok || code != 3 {
		t.Fatalf("code=%d ok=%v", code, ok)
	}
	a.Start("two")
	a.ExitCode(10 * time.Second)
	if got := a.Output(); got != "run two\n" {
		t.Fatalf("Output = %q", got)
	}
	log := a.Log()
	if !strings.HasPrefix(log, "---- start #1 at ") || !strings.Contains(log, "run one\n---- start #2 at ") || !strings.HasSuffix(log, "run two\n") {
		t.Fatalf("Log = %q", log)
	}
}

func TestStopReportsWhetherSIGTERMWasEnough(t *testing.T) {
	a := shAgent(t, "exec sleep 30")
	a.Start()
	if !a.Running() || !a.Stop(10*time.Second) || a.Running() {
		t.Fatal("SIGTERM did not stop sh")
	}
	stubborn := shAgent(t, "trap '' TERM; echo ready; while :; do sleep 0.05; done")
	stubborn.Start()
	WaitFor(t, 10*time.Second, "the trap to be set", func() (bool, string) {
		return stubborn.Output() == "ready\n", stubborn.Output()
	})
	if stubborn.Stop(200 * time.Millisecond) {
		t.Fatal("Stop reported an exit although SIGTERM is ignored")
	}
	if stubborn.Running() {
		t.Fatal("still running after Stop gave up")
	}
}

func TestSignalBeforeStartNamesTheAgent(t *testing.T) {
	a := shAgent(t, "true")
	if err := a.Signal(syscall.SIGSTOP); err == nil || err.Error() != "n1 is not started" {
		t.Fatalf("err = %v", err)
	}
	a.Kill() // nothing to kill: returns
}

func TestDieKillsTheProcessesOfTheDataDir(t *testing.T) {
	a := shAgent(t, "exec sleep 30")
	work := filepath.Join(a.DataDir, "task")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	wl := exec.Command("sleep", "30")
	wl.Dir = work
	if err := wl.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- wl.Wait() }()
	a.Start()
	found := false
	for _, p := range ProcsUnder(a.DataDir) {
		found = found || p.PID == wl.Process.Pid
	}
	if !found {
		t.Fatal("ProcsUnder does not list a process whose cwd is under the data dir")
	}
	a.Die()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the workload outlived Die")
	}
	if a.Running() {
		t.Fatal("the agent outlived Die")
	}
}

func TestPrefixRunsTheAgentUnderACommand(t *testing.T) {
	a := shAgent(t, `echo "$PREFIXED $0"`)
	a.Prefix = []string{"env", "PREFIXED=yes"}
	a.Start("arg")
	if code, ok := a.ExitCode(10 * time.Second); !ok || code != 0 {
		t.Fatalf("code=%d ok=%v: %s", code, ok, a.Output())
	}
	if got := a.Output(); got != "yes arg\n" {
		t.Fatalf("Output = %q", got)
	}
	a.Host = "192.0.2.11"
	if a.P2PAddr() != "192.0.2.11:"+strconv.Itoa(a.P2PPort) {
		t.Fatalf("P2PAddr = %s", a.P2PAddr())
	}
}

func TestCLITalksToTheAgentsAPI(t *testing.T) {
	a := shAgent(t, "true")
	out, err := a.CLI("-c", "echo $SHOAL_ADDR")
	if err != nil || out != a.Endpoint()+"\n" {
		t.Fatalf("out=%q err=%v", out, err)
	}
}
