package harness

import (
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
