package containerd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shoal-project/shoal/cmd/mkimage/imagebuild"
)

// The test environment: a private containerd and registry started with
// scripts/containerd-env.sh, and the hello image built with mkimage's code.
var env struct {
	dir      string   // the script's DIR
	sock     string   // containerd socket
	registry string   // host:port of the loopback registry
	helloImg v1.Image // the hello image
	helloTar []byte   // OCI layout tarball of docker.io/shoal/hello:v1
	pushed   string   // the same image in the registry
}

const helloRef = "docker.io/shoal/hello:v1"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if err := checkPrereqs(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: containerd runtime tests need:", err)
		return 1
	}
	stop, err := setupEnv()
	if stop != nil {
		defer stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: set up containerd test environment:", err)
		return 1
	}
	return m.Run()
}

func checkPrereqs() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("root (running as uid %d)", os.Geteuid())
	}
	var missing []string
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "docker-registry"} {
		if _, err := exec.LookPath(b); err != nil {
			if _, err2 := os.Stat("/usr/sbin/" + b); err2 != nil {
				missing = append(missing, b)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s installed (run scripts/install-deps.sh)", strings.Join(missing, ", "))
	}
	return nil
}

// repoRoot finds the module root from this file's package directory.
func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

func setupEnv() (func(), error) {
	dir, err := os.MkdirTemp("", "shoal-ctr-")
	if err != nil {
		return nil, err
	}
	env.dir = filepath.Join(dir, "env")
	env.sock = filepath.Join(env.dir, "containerd.sock")
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env.registry = fmt.Sprintf("127.0.0.1:%d", port)
	script := filepath.Join(repoRoot(), "scripts", "containerd-env.sh")
	run := func(arg string) ([]byte, error) {
		cmd := exec.Command("bash", script, arg, env.dir)
		cmd.Env = append(os.Environ(), "SHOAL_REGISTRY_ADDR="+env.registry)
		return cmd.CombinedOutput()
	}
	stop := func() {
		if out, err := run("stop"); err != nil {
			fmt.Fprintf(os.Stderr, "containerd-env.sh stop: %v\n%s", err, out)
		}
		os.RemoveAll(dir)
	}
	if out, err := run("start"); err != nil {
		return stop, fmt.Errorf("containerd-env.sh start: %v\n%s", err, out)
	}
	// Build the hello server, static, and the image around it.
	bin := filepath.Join(dir, "hello")
	gobin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "build", "-o", bin, "./images/hello")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return stop, fmt.Errorf("build images/hello: %v\n%s", err, out)
	}
	img, err := imagebuild.Build(imagebuild.Spec{Binary: bin, Path: "/hello"})
	if err != nil {
		return stop, err
	}
	env.helloImg = img
	var buf bytes.Buffer
	if err := imagebuild.WriteOCIArchive(&buf, img, "shoal/hello:v1"); err != nil {
		return stop, err
	}
	env.helloTar = buf.Bytes()
	env.pushed = env.registry + "/shoal/hello:v1"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := imagebuild.Push(ctx, img, env.pushed, true); err != nil {
		return stop, err
	}
	return stop, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// newRuntime makes a Runtime in its own namespace (named after the test)
// and Root; cleanup removes its tasks and closes it.
func newRuntime(t testing.TB, mod func(*Config)) *Runtime {
	t.Helper()
	cfg := Config{Address: env.sock, Namespace: testNS(t), Root: t.TempDir(), NodeName: "node-a"}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if sts, err := r.List(ctx); err == nil {
			for _, st := range sts {
				r.Remove(ctx, st.TaskID)
			}
		}
		r.Close()
		// The namespace's parent directories are left for later tasks by
		// Remove; this test's namespace is done with them.
		dirs, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", r.ns))
		for _, d := range append(dirs, filepath.Join(DefaultRuncRoot, r.ns)) {
			syscall.Rmdir(d)
		}
	})
	return r
}

// nsSeq makes namespaces unique across repeated runs (-count) in one daemon.
var nsSeq atomic.Int64

func testNS(t testing.TB) string {
	n := strings.ToLower(t.Name())
	n = strings.NewReplacer("/", "-", "_", "-").Replace(n)
	if len(n) > 50 {
		n = n[:50]
	}
	return fmt.Sprintf("%s-%d", n, nsSeq.Add(1))
}

// importHello imports the hello image into r's namespace.
func importHello(t testing.TB, r *Runtime) {
	t.Helper()
	infos, err := r.ImportImage(context.Background(), bytes.NewReader(env.helloTar))
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Ref != helloRef {
		t.Fatalf("imported %+v, want one image %s", infos, helloRef)
	}
}

// leftovers lists what exists in r's namespace: containers, snapshots,
// images and content blobs.
func leftovers(t testing.TB, r *Runtime) []string {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), r.ns)
	var out []string
	cs, err := r.client.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		out = append(out, "container "+c.ID())
	}
	err = r.client.SnapshotService(snapshotter).Walk(ctx, func(_ context.Context, i snapshots.Info) error {
		out = append(out, "snapshot "+i.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := r.client.ImageService().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imgs {
		out = append(out, "image "+im.Name)
	}
	err = r.client.ContentStore().Walk(ctx, func(i content.Info) error {
		out = append(out, "blob "+i.Digest.String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls cond until it is true or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawClient is a second client on the test daemon.
func rawClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(env.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
