package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// check is one invariant's verdict.
type check struct {
	name   string
	ok     bool
	result string
}

// report collects the verdicts and figures of a run.
type report struct {
	checks []check
	notes  []string
}

func (r *report) add(name string, ok bool, format string, args ...any) {
	r.checks = append(r.checks, check{name: name, ok: ok, result: fmt.Sprintf(format, args...)})
}

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *report) failed() []string {
	var out []string
	for _, c := range r.checks {
		if !c.ok {
			out = append(out, c.name+": "+c.result)
		}
	}
	return out
}

// table prints the invariants table.
func (r *report) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INVARIANT\tVERDICT\tDETAIL")
	for _, c := range r.checks {
		v := "ok"
		if !c.ok {
			v = "VIOLATED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.name, v, c.result)
	}
	tw.Flush()
	for _, n := range r.notes {
		fmt.Fprintln(w, n)
	}
}

// medianMax of durations.
func medianMax(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[len(s)-1]
}

// faultsByKind prints "kind=N" for every kind in the schedule's order.
func faultsByKind(injected, skipped map[faultKind]int) string {
	var parts []string
	for _, k := range allKinds {
		if n := injected[k.kind]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k.kind, n))
		}
		if n := skipped[k.kind]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d skipped", k.kind, n))
		}
	}
	return strings.Join(parts, " ")
}

// opCounts prints the workload's results per operation kind.
func opCounts(counts map[string]map[string]int) string {
	var parts []string
	for _, kind := range []string{"create", "update", "scale", "delete", "read", "marker"} {
		m := counts[kind]
		if len(m) == 0 {
			continue
		}
		var rs []string
		for _, res := range keys(m) {
			rs = append(rs, fmt.Sprintf("%s %d", res, m[res]))
		}
		parts = append(parts, kind+" ("+strings.Join(rs, ", ")+")")
	}
	return strings.Join(parts, "; ")
}
