package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
//	update = { parallelism = 2, order = "start-first", failure_action = "rollback" }
//	rollback = { parallelism = 6, max_failure_ratio = 0.5 }
//	stop_grace_period = "10s"
//	stop_delay = "1s"
//	force_update = 2  # a redeploy when it changes (service update --force)
//	version = 4  # the stored version this was written against (apply refuses a stale edit)
//
// user = "NAME[:GROUP]" (or "UID[:GID]") runs a process service as that
// user, looked up on the node that runs each task; without it a process
// runs as root. Containers (runtime containerd) also take:
//
//	entrypoint = ["/bin/sh", "-c"]    # a string is one word
//	user = "1000:1000"                # NAME[:GROUP] or UID[:GID], in the image
//	limits = { cpu = 0.5, memory = "128MiB" }  # or limit_cpu, limit_memory
//	pids_limit = 100
//	mounts = [{ type = "volume", source = "data", target = "/data" },
//	          "type=bind,source=/srv/x,target=/x,readonly"]
//
// Unknown keys, duplicate service names and invalid specs are errors naming
// the manifest, the service and the key, as an *Error with CodeInvalid.
func ParseManifest(name string, data []byte) ([]ServiceSpec, error) {
	ms, err := ParseManifestVersions(name, data)
	if err != nil {
		return nil, err
	}
	specs := make([]ServiceSpec, len(ms))
	for i, m := range ms {
		specs[i] = m.Spec
	}
	return specs, nil
}

// ManifestService is one service of a manifest and, when the manifest
// says (its version key), the stored version it was written against.
type ManifestService struct {
	Spec    ServiceSpec
	Version uint64 // 0: not said
}

// ParseManifestVersions is ParseManifest with each service's version key.
func ParseManifestVersions(name string, data []byte) ([]ManifestService, error) {
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
	specs := make([]ManifestService, 0, len(list))
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
		spec, version, err := decodeService(m)
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
		specs = append(specs, ManifestService{Spec: spec, Version: version})
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

// ParsePlacementPref reads "spread=node.labels.zone".
func ParsePlacementPref(s string) (PlacementPreference, error) {
	kind, target, ok := strings.Cut(s, "=")
	if !ok || kind != "spread" || target == "" {
		return PlacementPreference{}, fmt.Errorf("placement preference %q must look like spread=node.labels.<key>", s)
	}
	return PlacementPreference{Spread: target}, nil
}

// ParsePort reads a port as `--publish` takes it:
//   - "80": the task's port 80, published in ingress mode on an automatic
//     port (the lowest free one of PublishedPortMin-PublishedPortMax);
//   - "8080:80": published port 8080 in ingress mode, forwarded to the
//     task's port 80;
//   - each optionally followed by /tcp or /udp;
//   - the long form "published=8080,target=80,protocol=udp,mode=host,
//     name=http,proxy_protocol=true" (every key optional but one of
//     published and target; mode is ingress unless said; "name=http,
//     target=80" alone is a named port that is not published).
//
// Every published port it returns names its mode: the command line says
// what it means whatever the cluster (one without a service CIDR refuses
// ingress ports, and takes mode=host).
func ParsePort(s string) (PortSpec, error) {
	if strings.Contains(s, "=") {
		return parseLongPort(s)
	}
	nums, proto, _ := strings.Cut(s, "/")
	pub, target, two := strings.Cut(nums, ":")
	p := PortSpec{Protocol: proto}
	bad := fmt.Errorf("port %q must be TARGET or PUBLISHED:TARGET (1-65535), optionally followed by /tcp or /udp", s)
	n, err := portNumber(pub)
	if err != nil {
		return PortSpec{}, bad
	}
	if !two {
		p.TargetPort, p.Mode = n, PublishIngress
		return withProtocol(s, p)
	}
	p.Port, p.Mode = n, PublishIngress
	if p.TargetPort, err = portNumber(target); err != nil {
		return PortSpec{}, bad
	}
	return withProtocol(s, p)
}

// parseLongPort reads "name=http,published=8080,target=80,protocol=tcp,
// mode=ingress,proxy_protocol=true".
func parseLongPort(s string) (PortSpec, error) {
	var p PortSpec
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		var err error
		switch k {
		case "name":
			p.Name = v
		case "published":
			p.Port, err = portNumber(v)
		case "target":
			p.TargetPort, err = portNumber(v)
		case "protocol":
			p.Protocol = v
		case "mode":
			if v != PublishIngress && v != PublishHost {
				return PortSpec{}, fmt.Errorf("port %q: mode %q is not ingress or host", s, v)
			}
			p.Mode = v
		case "proxy_protocol":
			b, perr := strconv.ParseBool(v)
			if perr != nil {
				return PortSpec{}, fmt.Errorf("port %q: proxy_protocol %q is not true or false", s, v)
			}
			p.ProxyProtocol = b
			continue
		default:
			return PortSpec{}, fmt.Errorf("port %q: unknown key %q (want name, published, target, protocol, mode, proxy_protocol)", s, k)
		}
		if err != nil {
			return PortSpec{}, fmt.Errorf("port %q: %s %q is not a port 1-65535", s, k, v)
		}
	}
	switch {
	case p.Port == 0 && p.TargetPort == 0:
		return PortSpec{}, fmt.Errorf("port %q: needs published or target", s)
	case p.Mode == PublishHost && p.Port == 0:
		return PortSpec{}, fmt.Errorf("port %q: mode=host needs published", s)
	case p.ProxyProtocol && p.Port == 0 && p.Mode == "":
		return PortSpec{}, fmt.Errorf("port %q: proxy_protocol needs a published port (published=N or mode=ingress)", s)
	case p.Port != 0 && p.Mode == "":
		p.Mode = PublishIngress
	}
	return withProtocol(s, p)
}

func portNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("not a port")
	}
	return uint16(n), nil
}

func withProtocol(s string, p PortSpec) (PortSpec, error) {
	switch p.Protocol {
	case "":
		p.Protocol = "tcp"
	case "tcp", "udp":
	default:
		return PortSpec{}, fmt.Errorf("port %q: protocol must be tcp or udp", s)
	}
	return p, nil
}

// The helpers below read one decoded value (see manifestField), naming key
// in every error; the field types in manifest_decode.go and mountList use
// them.

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
