package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shoal-project/shoal/cmd/mkimage/imagebuild"
	"github.com/shoal-project/shoal/integration/harness"
)

// ctrEnv is a private containerd and a loopback registry, started once for
// the container tests by scripts/containerd-env.sh and stopped by TestMain.
var ctrEnv struct {
	once     sync.Once
	err      error
	dir      string
	sock     string
	registry string
	helloTar string   // OCI archive of shoal/hello:v1
	helloImg v1.Image // the hello image, for archives named otherwise
	pushed   string   // the same image in the registry
}

// needContainerd starts the environment on first use. Missing packages or
// a non-root user fail the test with what to do: container tests are part
// of the suite, not optional.
func needContainerd(t testing.TB) {
	t.Helper()
	ctrEnv.once.Do(func() { ctrEnv.err = startCtrEnv() })
	if ctrEnv.err != nil {
		t.Fatalf("containerd test environment: %v", ctrEnv.err)
	}
}

func startCtrEnv() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("container tests need root")
	}
	dir, err := os.MkdirTemp("", "shoal-it-ctr-")
	if err != nil {
		return err
	}
	ctrEnv.dir = filepath.Join(dir, "env")
	ctrEnv.sock = filepath.Join(ctrEnv.dir, "containerd.sock")
	port, err := harness.PickPort()
	if err != nil {
		return err
	}
	ctrEnv.registry = fmt.Sprintf("127.0.0.1:%d", port)
	if out, err := ctrScript("start"); err != nil {
		return fmt.Errorf("scripts/containerd-env.sh start: %v\n%s(install the packages with scripts/install-deps.sh)", err, out)
	}
	bin := filepath.Join(dir, "hello")
	build := exec.Command("go", "build", "-o", bin, "../images/hello")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build images/hello: %v\n%s", err, out)
	}
	img, err := imagebuild.Build(imagebuild.Spec{Binary: bin, Path: "/hello"})
	if err != nil {
		return err
	}
	ctrEnv.helloImg = img
	var buf bytes.Buffer
	if err := imagebuild.WriteOCIArchive(&buf, img, "shoal/hello:v1"); err != nil {
		return err
	}
	ctrEnv.helloTar = filepath.Join(dir, "hello.tar")
	if err := os.WriteFile(ctrEnv.helloTar, buf.Bytes(), 0o644); err != nil {
		return err
	}
	ctrEnv.pushed = ctrEnv.registry + "/shoal/hello:v1"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return imagebuild.Push(ctx, img, ctrEnv.pushed, true)
}

func ctrScript(arg string) ([]byte, error) {
	cmd := exec.Command("bash", "../scripts/containerd-env.sh", arg, ctrEnv.dir)
	cmd.Env = append(os.Environ(), "SHOAL_REGISTRY_ADDR="+ctrEnv.registry)
	return cmd.CombinedOutput()
}

// stopCtrEnv stops what startCtrEnv started, if anything.
func stopCtrEnv() {
	if ctrEnv.dir == "" {
		return
	}
	if out, err := ctrScript("stop"); err != nil {
		fmt.Fprintf(os.Stderr, "containerd-env.sh stop: %v\n%s", err, out)
	}
	os.RemoveAll(filepath.Dir(ctrEnv.dir))
}
