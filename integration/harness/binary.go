package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// shoalPkg is the package of the shoal command; naming it by import path
// builds it from any directory of the module.
const shoalPkg = "github.com/shoal-project/shoal/cmd/shoal"

// BuildShoal returns the shoal binary under test: $SHOAL_BIN if set (a
// prebuilt binary, e.g. while the tree is mid-edit), or else a fresh
// build in a new temp dir. cleanup removes what BuildShoal created.
func BuildShoal() (bin string, cleanup func(), err error) {
	if bin := os.Getenv("SHOAL_BIN"); bin != "" {
		return bin, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "shoal-bin-")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "shoal")
	build := exec.Command("go", "build", "-o", bin, shoalPkg)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building shoal: %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Run is the body of a TestMain: it sets *bin to the shoal binary (see
// BuildShoal), runs the tests, removes the build and returns the exit
// code, 1 if the binary could not be built.
func Run(m *testing.M, bin *string) int {
	b, cleanup, err := BuildShoal()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	*bin = b
	return m.Run()
}

// BuildRelease builds the shoal binary of an earlier commit of this
// repository into dir and returns its path: the commit's tree is taken
// with `git archive` (so the work tree is untouched) and built with its
// own go.mod. It needs the repository's history (a full clone).
func BuildRelease(commit, dir string) (string, error) {
	// safe.directory: a CI checkout may belong to another user than root.
	top, err := exec.Command("git", "-c", "safe.directory=*", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("finding the repository: %w", err)
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	archive := exec.Command("bash", "-c", `set -o pipefail; git -c safe.directory='*' -C "$1" archive "$2" | tar -x -C "$3"`, "bash", string(bytes.TrimSpace(top)), commit, src)
	if out, err := archive.CombinedOutput(); err != nil {
		return "", fmt.Errorf("git archive %s (is this a full clone?): %v: %s", commit, err, bytes.TrimSpace(out))
	}
	bin := filepath.Join(dir, "shoal-"+commit[:min(len(commit), 8)])
	build := exec.Command("go", "build", "-o", bin, "./cmd/shoal")
	build.Dir = src
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v: %s", commit, err, bytes.TrimSpace(out))
	}
	return bin, nil
}
