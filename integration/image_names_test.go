package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/cmd/mkimage/imagebuild"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/runtime/containerd"
)

// TestShortNamedImageRunsEverywhere is the regression test for "an image
// loaded under a short name never runs": an OCI archive that names its
// image "local/hello:1" (as ctr export and buildah write it) is loaded on
// one node of three; services naming it short and fully qualified run on
// every node; image ls lists it; image rm by the short name removes it
// from every node.
func TestShortNamedImageRunsEverywhere(t *testing.T) {
	c := containerCluster(t, 3)
	n1 := c.agents[0]
	var buf bytes.Buffer
	err := imagebuild.WriteOCIArchiveAnnotated(&buf, ctrEnv.helloImg, map[string]string{
		imagebuild.AnnotationRefName:        "local/hello:1",
		imagebuild.AnnotationContainerdName: "local/hello:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "local-hello.tar")
	if err := os.WriteFile(tarball, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := n1.CLI("image", "load", tarball); err != nil || !strings.Contains(out, "Loaded image local/hello:1 ") {
		t.Fatalf("image load: %v\n%s", err, out)
	}
	const full = "docker.io/local/hello:1"
	for _, svc := range []struct{ name, image string }{{"short", "local/hello:1"}, {"full", full}} {
		if out, err := n1.CLI("service", "create", svc.name, "--detach", "--image", svc.image, "--replicas", "3",
			"--max-per-node", "1", "--env", "PORT=0", "--memory", "64MiB"); err != nil {
			t.Fatalf("service create %s: %v\n%s", svc.name, err, out)
		}
	}
	for _, name := range []string{"short", "full"} {
		ts := waitRunning(t, n1, name, 3, 90*time.Second)
		if by := runningByNode(ts); len(by) != 3 {
			t.Fatalf("service %s runs on %v, want all 3 nodes", name, by)
		}
	}
	harness.WaitFor(t, 20*time.Second, "every node to hold the image, listed under its full name", func() (bool, string) {
		var imgs []api.ImageInfo
		if err := n1.get("/v1/images", &imgs); err != nil {
			return false, err.Error()
		}
		return len(imgs) == 1 && imgs[0].Ref == full && len(imgs[0].Nodes) == 3, fmt.Sprintf("%+v", imgs)
	})
	if out, err := n1.CLI("image", "ls"); err != nil || !strings.Contains(out, "\nlocal/hello:1 ") {
		t.Fatalf("image ls: %v\n%s", err, out)
	}
	if out, err := n1.CLI("image", "rm", "local/hello:1"); err == nil || !strings.Contains(out, "in use by service") {
		t.Fatalf("image rm of an image in use: err=%v\n%s", err, out)
	}
	for _, name := range []string{"short", "full"} {
		if out, err := n1.CLI("service", "rm", name); err != nil {
			t.Fatalf("service rm %s: %v\n%s", name, err, out)
		}
	}
	harness.WaitFor(t, 30*time.Second, "no containers left", func() (bool, string) {
		left := 0
		for _, a := range c.agents {
			left += len(containersIn(t, a.namespace()))
		}
		return left == 0, fmt.Sprintf("%d containers left", left)
	})
	harness.WaitFor(t, 30*time.Second, "image rm once no task uses it", func() (bool, string) {
		out, err := n1.CLI("image", "rm", "local/hello:1")
		return err == nil, out
	})
	harness.WaitFor(t, 20*time.Second, "the image gone from the cluster's records", func() (bool, string) {
		var imgs []api.ImageInfo
		if err := n1.get("/v1/images", &imgs); err != nil {
			return false, err.Error()
		}
		return len(imgs) == 0, fmt.Sprintf("%+v", imgs)
	})
	for _, a := range c.agents {
		if has := hasImage(t, a.namespace(), full); has {
			t.Errorf("node %s still holds %s", a.Name, full)
		}
	}
}

// hasImage reports whether a node's containerd namespace holds ref.
func hasImage(t *testing.T, ns, ref string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, err := containerd.New(ctx, containerd.Config{Address: ctrEnv.sock, Namespace: ns, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	has, err := rt.HasImage(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	return has
}
