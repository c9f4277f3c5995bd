// Package archtest checks the import rules ARCHITECTURE.md states, so the
// document and the code cannot drift apart.
package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/shoal-project/shoal"

// rule is one row of ARCHITECTURE.md's package table.
type rule struct {
	packages []string // relative paths, without trailing slash
	allowed  []string // relative paths; a trailing "/*" allows the subtree
	testOnly []string // allowed in tests only: written "`pkg` (tests)"
	anything bool     // "everything above"
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readRules parses the table under "Packages and who may import whom".
func readRules(t *testing.T, root string) []rule {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules []rule
	var above []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 5 {
			t.Fatalf("ARCHITECTURE.md: table row with %d columns: %s", len(cols), line)
		}
		var r rule
		for _, m := range backticked.FindAllStringSubmatch(cols[1], -1) {
			r.packages = append(r.packages, strings.TrimSuffix(m[1], "/"))
		}
		may := cols[3]
		if strings.Contains(may, "everything above") {
			r.anything = true
			r.allowed = append(r.allowed, above...)
		}
		// Only the part before a parenthesis names packages.
		for _, part := range strings.Split(may, ",") {
			names, note, _ := strings.Cut(part, "(")
			for _, m := range backticked.FindAllStringSubmatch(names, -1) {
				name := strings.TrimSuffix(m[1], "/")
				if strings.HasPrefix(strings.TrimSpace(note), "tests") {
					r.testOnly = append(r.testOnly, name)
				} else {
					r.allowed = append(r.allowed, name)
				}
			}
		}
		above = append(above, r.packages...)
		rules = append(rules, r)
	}
	if len(rules) < 10 {
		t.Fatalf("ARCHITECTURE.md: found %d package rows; the table moved or changed shape", len(rules))
	}
	return rules
}

type listedPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	GoFiles      []string
}

func listPackages(t *testing.T, root string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func allows(allowed []string, pkg string) bool {
	if strings.HasPrefix(pkg, "internal/") && pkg != "internal/archtest" {
		return true // every package may use the helpers
	}
	for _, a := range allowed {
		if a == pkg || (strings.HasSuffix(a, "/*") && strings.HasPrefix(pkg, strings.TrimSuffix(a, "*"))) {
			return true
		}
	}
	return false
}

// ruleFor finds the row that names pkg, or the row of its nearest listed
// parent (a package's unlisted subpackages share its rule).
func ruleFor(rules []rule, pkg string) (rule, bool) {
	for p := pkg; p != "." && p != ""; p = filepath.Dir(p) {
		for _, r := range rules {
			for _, name := range r.packages {
				if name == p || (strings.HasSuffix(name, "/*") && strings.HasPrefix(p, strings.TrimSuffix(name, "*"))) {
					return r, true
				}
			}
		}
	}
	return rule{}, false
}

// TestImportsFollowArchitecture checks every package's Shoal imports
// (tests included) against ARCHITECTURE.md: each package appears in the
// table, and imports only what its row allows (itself and its own
// subpackages aside, which the row of the subpackage governs).
func TestImportsFollowArchitecture(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	rules := readRules(t, root)
	var problems []string
	for _, p := range listPackages(t, root) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if rel == "internal/archtest" {
			continue
		}
		r, ok := ruleFor(rules, rel)
		if !ok {
			problems = append(problems, rel+": not in ARCHITECTURE.md's package table")
			continue
		}
		tests := append(append([]string(nil), p.TestImports...), p.XTestImports...)
		for i, imp := range append(append([]string(nil), p.Imports...), tests...) {
			inTest := i >= len(p.Imports)
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if dep == rel || strings.HasPrefix(dep, rel+"/") {
				continue
			}
			if !allows(r.allowed, dep) && !(inTest && allows(r.testOnly, dep)) {
				problems = append(problems, rel+" imports "+dep+", which ARCHITECTURE.md does not allow")
			}
		}
	}
	sort.Strings(problems)
	problems = compact(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// pure lists the packages ARCHITECTURE.md calls pure: no I/O, no clock.
var pure = []string{"scheduler", "node/orchestrator", "node/endpoints"}

// TestPurePackagesDoNoIOAndReadNoClock checks the pure packages' non-test
// files import no I/O package and never call time.Now.
func TestPurePackagesDoNoIOAndReadNoClock(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	banned := map[string]bool{"os": true, "net": true, "net/http": true, "os/exec": true, "io/ioutil": true, "syscall": true}
	for _, p := range listPackages(t, root) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		isPure := false
		for _, q := range pure {
			isPure = isPure || rel == q
		}
		if !isPure {
			continue
		}
		for _, imp := range p.Imports {
			if banned[imp] {
				t.Errorf("%s is pure but imports %s", rel, imp)
			}
		}
		for _, f := range p.GoFiles {
			b, err := os.ReadFile(filepath.Join(root, rel, f))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("time.Now()")) {
				t.Errorf("%s/%s is pure but reads the clock (time.Now)", rel, f)
			}
		}
	}
}

func compact(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
