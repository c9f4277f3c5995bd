package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shoal-project/shoal/api"
)

// fieldChange is one field that differs between two specs: its path as
// the spec's JSON names it ("env", "update.parallelism", "health.http")
// and its values as JSON, "" when absent.
type fieldChange struct {
	Field    string `json:"field"`
	Old, New string
}

// specDiff lists the fields that differ between two specs, sorted by
// path. Objects are compared field by field, lists as a whole.
func specDiff(a, b api.ServiceSpec) []fieldChange {
	fa, fb := flatSpec(a), flatSpec(b)
	var out []fieldChange
	for k, v := range fa {
		if fb[k] != v {
			out = append(out, fieldChange{Field: k, Old: v, New: fb[k]})
		}
	}
	for k, v := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, fieldChange{Field: k, New: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// flatSpec maps each leaf field of a spec's JSON to its value.
func flatSpec(s api.ServiceSpec) map[string]string {
	raw, _ := json.Marshal(s)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	out := map[string]string{}
	flatten("", m, out)
	return out
}

func flatten(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		for k, e := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, e, out)
		}
		return
	}
	if v == nil || isEmpty(v) {
		return // absent and empty read the same
	}
	b, _ := json.Marshal(v)
	out[prefix] = string(b)
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// versionedSpecs lists every version a service keeps, newest first: the
// current one, then Previous.
func versionedSpecs(s api.ServiceInfo) []api.VersionedSpec {
	out := []api.VersionedSpec{{Version: s.Version, Spec: s.Spec, UpdatedAt: s.UpdatedAt, UpdatedBy: s.UpdatedBy}}
	return append(out, s.Previous...)
}

// findVersion returns a kept version of a service.
func findVersion(s api.ServiceInfo, arg string) (api.VersionedSpec, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(arg, "v"), 10, 64)
	if err != nil {
		return api.VersionedSpec{}, fmt.Errorf("%q is not a version number", arg)
	}
	var kept []string
	for _, vs := range versionedSpecs(s) {
		if vs.Version == v {
			return vs, nil
		}
		kept = append(kept, strconv.FormatUint(vs.Version, 10))
	}
	return api.VersionedSpec{}, fmt.Errorf("service %s keeps no version %d (kept: %s)", s.Spec.Name, v, strings.Join(kept, ", "))
}
