package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/shoal-project/shoal/internal/textutil"
)

// MaxManifestSize is the largest manifest ParseManifest reads.
const MaxManifestSize = 1 << 20

// ParseManifest reads a declarative manifest holding one or more services
// and returns their specs, normalized and validated.
//
// The format is chosen by name's extension (.toml or .json), else by
// sniffing the content. In TOML each service is a [[service]] table; in JSON
// the document is {"service": [...]}, a bare array of services, or one
// service object. Keys are the snake_case JSON names of ServiceSpec, plus
// friendlier forms:
//
//	[[service]]
//	name = "web"
//	command = ["/usr/bin/python3", "-m", "http.server", "8080"]
//	replicas = 3                      # default 1 for replicated services
//	cpu = 0.5                         # or "500m"; sets reservations.nano_cpus
//	memory = "64MiB"                  # sets reservations.memory_bytes
//	env = { LOG_LEVEL = "debug" }     # or ["LOG_LEVEL=debug"]
//	ports = [8080, "53/udp", { port = 9090, protocol = "tcp" }]
//	constraints = ["node.labels.zone!=c"]
//	placement_prefs = ["spread=node.labels.zone"]
//	restart = { condition = "on-failure", max_attempts = 3, delay = "2s" }
//	stop_grace_period = "10s"
//
// Containers (runtime containerd) also take:
//
//	entrypoint = ["/bin/sh", "-c"]    # a string is one word
//	user = "1000:1000"                # uid[:gid] or a name in the image
//	limits = { cpu = 0.5, memory = "128MiB" }  # or limit_cpu, limit_memory
//	pids_limit = 100
//	mounts = [{ type = "volume", source = "data", target = "/data" },
//	          "type=bind,source=/srv/x,target=/x,readonly"]
//
// Unknown keys, duplicate service names and invalid specs are errors naming
// the manifest, the service and the key, as an *Error with CodeInvalid.
func ParseManifest(name string, data []byte) ([]ServiceSpec, error) {
	fail := func(format string, args ...any) error {
		return &Error{Code: CodeInvalid, Message: textutil.OneLine("manifest " + name + ": " + fmt.Sprintf(format, args...))}
	}
	if len(data) > MaxManifestSize {
		return nil, fail("is %d bytes, more than the limit of %d", len(data), MaxManifestSize)
	}
	var root any
	if manifestFormat(name, data) == "json" {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&root); err != nil {
			return nil, fail("invalid JSON: %v", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fail("invalid JSON: unexpected data after the document")
		}
	} else {
		var m map[string]any
		if err := toml.Unmarshal(data, &m); err != nil {
			return nil, fail("invalid TOML: %v", strings.TrimPrefix(err.Error(), "toml: "))
		}
		root = m
	}
	list, err := serviceList(root)
	if err != nil {
		return nil, fail("%v", err)
	}
	if len(list) == 0 {
		return nil, fail("defines no services (write each one as a [[service]] table)")
	}
	specs := make([]ServiceSpec, 0, len(list))
	seen := map[string]bool{}
	for i, raw := range list {
		m, ok := raw.(map[string]any)
		label := fmt.Sprintf("service #%d", i+1)
		if !ok {
			return nil, fail("%s: must be a table of keys, not %s", label, typeName(raw))
		}
		if n, ok := m["name"].(string); ok && n != "" {
			label = fmt.Sprintf("service %q", n)
		}
		spec, err := decodeService(m)
		if err != nil {
			return nil, fail("%s: %v", label, err)
		}
		spec.Normalize()
		if err := spec.Validate(); err != nil {
			return nil, fail("%s: %v", label, err)
		}
		if seen[spec.Name] {
			return nil, fail("service %q is defined twice", spec.Name)
		}
		seen[spec.Name] = true
		specs = append(specs, spec)
	}
	return specs, nil
}

func manifestFormat(name string, data []byte) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return "json"
	case ".toml":
		return "toml"
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[' && json.Valid(trimmed)) {
		return "json"
	}
	return "toml"
}

// serviceList finds the list of service tables in a decoded document.
func serviceList(root any) ([]any, error) {
	switch r := root.(type) {
	case map[string]any:
		svc, ok := r["service"]
		if !ok {
			if _, single := r["name"]; single {
				return []any{r}, nil
			}
			for _, k := range sortedKeys(r) {
				return nil, fmt.Errorf("unknown top-level key %q (write services as [[service]] tables)", k)
			}
			return nil, nil
		}
		for _, k := range sortedKeys(r) {
			if k != "service" {
				return nil, fmt.Errorf("unknown top-level key %q", k)
			}
		}
		if m, ok := svc.(map[string]any); ok {
			return []any{m}, nil
		}
		if l, ok := toList(svc); ok {
			return l, nil
		}
		return nil, fmt.Errorf(`"service" must be a list of tables, not %s`, typeName(svc))
	case nil:
		return nil, nil
	default:
		if l, ok := toList(r); ok {
			return l, nil
		}
		return nil, fmt.Errorf("document must be a table of services, not %s", typeName(root))
	}
}

// decodeService turns one service table into a spec, refusing unknown keys.
func decodeService(m map[string]any) (ServiceSpec, error) {
	var s ServiceSpec
	var err error
	var cpuSet, memSet, limitCPUSet, limitMemSet, replicasSet bool
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "name":
			s.Name, err = str(k, v)
		case "runtime":
			s.Runtime, err = str(k, v)
		case "image":
			s.Image, err = str(k, v)
		case "workdir":
			s.WorkDir, err = str(k, v)
		case "stop_signal":
			s.StopSignal, err = str(k, v)
		case "mode":
			var mode string
			mode, err = str(k, v)
			s.Mode = ServiceMode(mode)
		case "command":
			if c, ok := v.(string); ok {
				s.Command = []string{c}
			} else {
				s.Command, err = strList(k, v)
			}
		case "args":
			s.Args, err = strList(k, v)
		case "env":
			s.Env, err = envList(k, v)
		case "constraints":
			var l []string
			if l, err = strList(k, v); err == nil {
				s.Constraints, err = ParseConstraints(l)
			}
		case "replicas":
			s.Replicas, err = uintVal(k, v)
			replicasSet = true
		case "max_per_node":
			s.MaxPerNode, err = uintVal(k, v)
		case "cpu":
			s.Reservations.NanoCPUs, err = cpuVal(k, v)
			cpuSet = true
		case "memory":
			s.Reservations.MemoryBytes, err = bytesVal(k, v)
			memSet = true
		case "reservations":
			err = decodeResources(k, v, &s.Reservations, cpuSet, memSet, "cpu", "memory")
		case "entrypoint":
			if e, ok := v.(string); ok {
				s.Entrypoint = []string{e}
			} else {
				s.Entrypoint, err = strList(k, v)
			}
		case "user":
			s.User, err = str(k, v)
		case "limit_cpu":
			s.Limits.NanoCPUs, err = cpuVal(k, v)
			limitCPUSet = true
		case "limit_memory":
			s.Limits.MemoryBytes, err = bytesVal(k, v)
			limitMemSet = true
		case "limits":
			err = decodeResources(k, v, &s.Limits, limitCPUSet, limitMemSet, "limit_cpu", "limit_memory")
		case "pids_limit":
			s.PidsLimit, err = int64Val(k, v)
		case "mounts":
			s.Mounts, err = mountList(k, v)
		case "preferences":
			err = decodePreferences(k, v, &s.Preferences)
		case "placement_prefs":
			err = decodePlacementPrefs(k, v, &s.Preferences)
		case "ports":
			s.Ports, err = portList(k, v)
		case "restart":
			err = decodeRestart(k, v, &s.Restart)
		case "stop_grace_period":
			s.StopGracePeriod, err = durationVal(k, v)
		case "labels":
			s.Labels, err = strMap(k, v)
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return s, err
		}
	}
	if !replicasSet && (s.Mode == "" || s.Mode == ModeReplicated) {
		s.Replicas = 1
	}
	return s, nil
}

// decodeResources reads a table of cpu/nano_cpus and memory/memory_bytes
// into r; cpuSet and memSet say the flat keys cpuKey and memKey (sorted
// before key) already set them.
func decodeResources(key string, v any, r *Resources, cpuSet, memSet bool, cpuKey, memKey string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("key %q: must be a table like { cpu = 0.5, memory = \"64MiB\" }, not %s", key, typeName(v))
	}
	cpuBy, memBy := "", ""
	if cpuSet {
		cpuBy = cpuKey
	}
	if memSet {
		memBy = memKey
	}
	var err error
	for _, k := range sortedKeys(m) {
		path := key + "." + k
		switch k {
		case "nano_cpus", "cpu":
			if cpuBy != "" {
				return fmt.Errorf("key %q: CPU is already set by %q", path, cpuBy)
			}
			cpuBy = path
			if k == "cpu" {
				r.NanoCPUs, err = cpuVal(path, m[k])
			} else {
				var n uint64
				n, err = uintVal(path, m[k])
				r.NanoCPUs = int64(min(n, uint64(MaxNanoCPUs)+1))
			}
		case "memory_bytes", "memory":
			if memBy != "" {
				return fmt.Errorf("key %q: memory is already set by %q", path, memBy)
			}
			memBy = path
			r.MemoryBytes, err = bytesVal(path, m[k])
		default:
			err = fmt.Errorf("unknown key %q", path)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeRestart(key string, v any, r *RestartPolicy) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("key %q: must be a table like { condition = \"on-failure\" }, not %s", key, typeName(v))
	}
	var err error
	for _, k := range sortedKeys(m) {
		path := key + "." + k
		switch k {
		case "condition":
			var c string
			c, err = str(path, m[k])
			r.Condition = RestartCondition(c)
		case "delay":
			r.Delay, err = durationVal(path, m[k])
		case "window":
			r.Window, err = durationVal(path, m[k])
		case "max_attempts":
			r.MaxAttempts, err = uintVal(path, m[k])
		default:
			err = fmt.Errorf("unknown key %q", path)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodePreferences(key string, v any, out *[]PlacementPreference) error {
	l, ok := toList(v)
	if !ok {
		return fmt.Errorf("key %q: must be a list, not %s", key, typeName(v))
	}
	for i, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return fmt.Errorf("key %s[%d]: must be a table like { spread = \"node.labels.zone\" }", key, i)
		}
		var p PlacementPreference
		for _, k := range sortedKeys(m) {
			if k != "spread" {
				return fmt.Errorf("unknown key %q", fmt.Sprintf("%s[%d].%s", key, i, k))
			}
			s, err := str(fmt.Sprintf("%s[%d].spread", key, i), m[k])
			if err != nil {
				return err
			}
			p.Spread = s
		}
		*out = append(*out, p)
	}
	return nil
}

func decodePlacementPrefs(key string, v any, out *[]PlacementPreference) error {
	l, err := strList(key, v)
	if err != nil {
		return err
	}
	for i, e := range l {
		p, err := ParsePlacementPref(e)
		if err != nil {
			return fmt.Errorf("key %s[%d]: %v", key, i, err)
		}
		*out = append(*out, p)
	}
	return nil
}

// ParsePlacementPref reads "spread=node.labels.zone".
func ParsePlacementPref(s string) (PlacementPreference, error) {
	kind, target, ok := strings.Cut(s, "=")
	if !ok || kind != "spread" || target == "" {
		return PlacementPreference{}, fmt.Errorf("placement preference %q must look like spread=node.labels.<key>", s)
	}
	return PlacementPreference{Spread: target}, nil
}

// ParsePort reads "8080", "8080/tcp" or "53/udp".
func ParsePort(s string) (PortSpec, error) {
	num, proto, _ := strings.Cut(s, "/")
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 {
		return PortSpec{}, fmt.Errorf("port %q must be 1-65535, optionally followed by /tcp or /udp", s)
	}
	if proto != "" && proto != "tcp" && proto != "udp" {
		return PortSpec{}, fmt.Errorf("port %q: protocol must be tcp or udp", s)
	}
	if proto == "" {
		proto = "tcp"
	}
	return PortSpec{Port: uint16(n), Protocol: proto}, nil
}

func portList(key string, v any) ([]PortSpec, error) {
	l, ok := toList(v)
	if !ok {
		return nil, fmt.Errorf("key %q: must be a list, not %s", key, typeName(v))
	}
	var out []PortSpec
	for i, e := range l {
		path := fmt.Sprintf("%s[%d]", key, i)
		switch e := e.(type) {
		case string:
			p, err := ParsePort(e)
			if err != nil {
				return nil, fmt.Errorf("key %s: %v", path, err)
			}
			out = append(out, p)
		case map[string]any:
			var p PortSpec
			for _, k := range sortedKeys(e) {
				switch k {
				case "port":
					n, err := uintVal(path+".port", e[k])
					if err != nil {
						return nil, err
					}
					if n == 0 || n > 65535 {
						return nil, fmt.Errorf("key %s.port: must be 1-65535", path)
					}
					p.Port = uint16(n)
				case "protocol":
					s, err := str(path+".protocol", e[k])
					if err != nil {
						return nil, err
					}
					p.Protocol = s
				default:
					return nil, fmt.Errorf("unknown key %q", path+"."+k)
				}
			}
			out = append(out, p)
		default:
			n, err := uintVal(path, e)
			if err != nil || n == 0 || n > 65535 {
				return nil, fmt.Errorf("key %s: must be a port 1-65535, \"PORT/udp\" or { port = N, protocol = \"udp\" }", path)
			}
			out = append(out, PortSpec{Port: uint16(n)})
		}
	}
	return out, nil
}

func envList(key string, v any) ([]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return strList(key, v)
	}
	out := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		s, err := scalarString(key+"."+k, m[k])
		if err != nil {
			return nil, err
		}
		out = append(out, k+"="+s)
	}
	return out, nil
}

func strMap(key string, v any) (map[string]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("key %q: must be a table of strings, not %s", key, typeName(v))
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		s, err := scalarString(key+"."+k, e)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

func int64Val(key string, v any) (int64, error) {
	n, err := uintVal(key, v)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("key %q: %d is too large", key, n)
	}
	return int64(n), nil
}

func str(key string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("key %q: must be a string, not %s", key, typeName(v))
	}
	return s, nil
}

// scalarString accepts a string, number or boolean (env values, labels).
func scalarString(key string, v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("key %q: must be a string, not %s", key, typeName(v))
}

func strList(key string, v any) ([]string, error) {
	l, ok := toList(v)
	if !ok {
		return nil, fmt.Errorf("key %q: must be a list of strings, not %s", key, typeName(v))
	}
	out := make([]string, 0, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("key %s[%d]: must be a string, not %s", key, i, typeName(e))
		}
		out = append(out, s)
	}
	return out, nil
}

func uintVal(key string, v any) (uint64, error) {
	bad := fmt.Errorf("key %q: must be a whole number ≥ 0, not %s", key, describe(v))
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return 0, bad
		}
		return uint64(v), nil
	case json.Number:
		n, err := strconv.ParseUint(v.String(), 10, 64)
		if err != nil {
			return 0, bad
		}
		return n, nil
	}
	return 0, bad
}

func cpuVal(key string, v any) (int64, error) {
	return unitVal(key, v, true, "a number of cores like 0.5", ParseCPU)
}

func bytesVal(key string, v any) (int64, error) {
	return unitVal(key, v, false, `a size like "64MiB"`, ParseBytes)
}

// unitVal reads a quantity written as a string or a number (a float only
// where allowFloat) with parse, naming the key in every error.
func unitVal(key string, v any, allowFloat bool, want string, parse func(string) (int64, error)) (int64, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int64:
		s = strconv.FormatInt(v, 10)
	case float64:
		if !allowFloat {
			return 0, fmt.Errorf("key %q: must be %s, not %s", key, want, typeName(v))
		}
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		s = v.String()
	default:
		return 0, fmt.Errorf("key %q: must be %s, not %s", key, want, typeName(v))
	}
	n, err := parse(s)
	if err != nil {
		return 0, fmt.Errorf("key %q: %v", key, err)
	}
	return n, nil
}

func durationVal(key string, v any) (Duration, error) {
	s, ok := v.(string)
	if !ok {
		if n, err := uintVal(key, v); err == nil && n == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("key %q: must be a duration string like \"5s\", not %s", key, describe(v))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("key %q: %q is not a duration like \"5s\" or \"1m30s\"", key, s)
	}
	return Duration(d), nil
}

func toList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []map[string]any:
		out := make([]any, len(l))
		for i, m := range l {
			out[i] = m
		}
		return out, true
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64, json.Number:
		return "a number"
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "a list"
	case time.Time:
		return "a date/time"
	}
	return fmt.Sprintf("%T", v)
}

func describe(v any) string {
	switch v := v.(type) {
	case int64, float64, json.Number:
		return fmt.Sprint(v)
	case string:
		return strconv.Quote(v)
	}
	return typeName(v)
}
