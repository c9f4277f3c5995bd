package api

import (
	"fmt"
	"math"
	"reflect"
	"strings"
)

// manifestService is the schema of one service in a manifest: each field's
// manifest tag is a key, and each field's type reads that key's value in
// every form the manifest accepts (see ParseManifest). decodeTable fills it
// from a decoded table; spec turns it into a ServiceSpec.
type manifestService struct {
	Name       manifestString  `manifest:"name"`
	Runtime    manifestString  `manifest:"runtime"`
	Image      manifestString  `manifest:"image"`
	Command    manifestWords   `manifest:"command"`
	Args       manifestStrings `manifest:"args"`
	Env        manifestEnv     `manifest:"env"`
	WorkDir    manifestString  `manifest:"workdir"`
	Entrypoint manifestWords   `manifest:"entrypoint"`
	User       manifestString  `manifest:"user"`

	// CPU and Memory set the reservations, LimitCPU and LimitMemory the
	// limits; each may instead be set in the table once.
	CPU          manifestCPU       `manifest:"cpu"`
	Memory       manifestBytes     `manifest:"memory"`
	Reservations manifestResources `manifest:"reservations"`
	LimitCPU     manifestCPU       `manifest:"limit_cpu"`
	LimitMemory  manifestBytes     `manifest:"limit_memory"`
	Limits       manifestResources `manifest:"limits"`
	PidsLimit    manifestInt64     `manifest:"pids_limit"`
	Seccomp      manifestString    `manifest:"seccomp"`
	Network      manifestString    `manifest:"network"`
	Secrets      manifestStrings   `manifest:"secrets"`
	Mounts       manifestMounts    `manifest:"mounts"`

	Mode     manifestString `manifest:"mode"`
	Replicas manifestCount  `manifest:"replicas"`
	// ForceUpdate redeploys when it changes (service update --force).
	ForceUpdate manifestCount `manifest:"force_update"`
	// Version is the stored version the manifest was written against:
	// not part of the spec, it makes apply refuse a stale edit.
	Version manifestCount `manifest:"version"`

	Constraints    manifestConstraints    `manifest:"constraints"`
	Preferences    manifestPreferences    `manifest:"preferences"`
	PlacementPrefs manifestPlacementPrefs `manifest:"placement_prefs"`
	Ports          manifestPorts          `manifest:"ports"`
	MaxPerNode     manifestCount          `manifest:"max_per_node"`
	Rebalance      manifestString         `manifest:"rebalance"`

	Health          manifestHealthKey   `manifest:"health"`
	Restart         manifestRestart     `manifest:"restart"`
	Update          manifestUpdateKey   `manifest:"update"`
	Rollback        manifestUpdateKey   `manifest:"rollback"`
	StopGracePeriod manifestDuration    `manifest:"stop_grace_period"`
	StopDelay       manifestOptDuration `manifest:"stop_delay"`
	StopSignal      manifestString      `manifest:"stop_signal"`
	Labels          manifestLabels      `manifest:"labels"`
}

// A manifestField reads the value of one key. v is what decoding the
// document produced: a string, bool, int64, float64 or date (TOML), a
// json.Number or nil (JSON), a map[string]any, or a list ([]any, or
// []map[string]any for a TOML array of tables). key is the key's path, as
// every error names it: "replicas", "limits.cpu", "ports[0].port".
type manifestField interface {
	decode(key string, v any) error
}

// decodeService reads one service table into a spec, refusing unknown keys.
// The spec is neither normalized nor validated.
func decodeService(m map[string]any) (ServiceSpec, uint64, error) {
	var s manifestService
	if err := decodeTable("", m, &s); err != nil {
		return ServiceSpec{}, 0, err
	}
	spec, err := s.spec()
	if s.Version.set && s.Version.n == 0 {
		return ServiceSpec{}, 0, fmt.Errorf(`key "version": versions start at 1`)
	}
	return spec, s.Version.n, err
}

// decodeTable reads table m into *dst, a struct whose fields are
// manifestFields tagged with their keys. Keys are matched exactly (not
// folding case) and read in sorted order, so the first error is the same
// on every run; a key no field is tagged with is an error. prefix is the
// table's own key path ("" at the top of a service).
func decodeTable(prefix string, m map[string]any, dst any) error {
	rv := reflect.ValueOf(dst).Elem()
	rt := rv.Type()
	for _, k := range sortedKeys(m) {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		i := 0
		for i < rt.NumField() && rt.Field(i).Tag.Get("manifest") != k {
			i++
		}
		if i == rt.NumField() {
			return fmt.Errorf("unknown key %q", key)
		}
		if err := rv.Field(i).Addr().Interface().(manifestField).decode(key, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// spec builds the ServiceSpec the manifest declares.
func (m *manifestService) spec() (ServiceSpec, error) {
	reservations, err := mergeResources("cpu", m.CPU, "memory", m.Memory, "reservations", m.Reservations)
	if err != nil {
		return ServiceSpec{}, err
	}
	limits, err := mergeResources("limit_cpu", m.LimitCPU, "limit_memory", m.LimitMemory, "limits", m.Limits)
	if err != nil {
		return ServiceSpec{}, err
	}
	s := ServiceSpec{
		Name:         string(m.Name),
		Runtime:      string(m.Runtime),
		Image:        string(m.Image),
		Command:      m.Command,
		Args:         m.Args,
		Env:          m.Env,
		WorkDir:      string(m.WorkDir),
		Entrypoint:   m.Entrypoint,
		User:         string(m.User),
		Limits:       limits,
		PidsLimit:    int64(m.PidsLimit),
		Seccomp:      string(m.Seccomp),
		Network:      string(m.Network),
		Secrets:      []string(m.Secrets),
		Mounts:       m.Mounts,
		Mode:         ServiceMode(m.Mode),
		Replicas:     m.Replicas.n,
		Reservations: reservations,
		Constraints:  m.Constraints,
		// The keys are read in sorted order: placement_prefs first.
		Preferences: append(append([]PlacementPreference(nil), m.PlacementPrefs...), m.Preferences...),
		Ports:       m.Ports,
		MaxPerNode:  m.MaxPerNode.n,
		Rebalance:   string(m.Rebalance),
		Restart: RestartPolicy{
			Condition:   RestartCondition(m.Restart.Condition),
			Delay:       Duration(m.Restart.Delay),
			MaxAttempts: m.Restart.MaxAttempts.n,
			Window:      Duration(m.Restart.Window),
		},
		StopGracePeriod: Duration(m.StopGracePeriod),
		StopDelay:       m.StopDelay.d,
		ForceUpdate:     m.ForceUpdate.n,
		StopSignal:      string(m.StopSignal),
		Labels:          m.Labels,
		Update:          m.Update.policy(),
		Rollback:        m.Rollback.policy(),
	}
	if h := m.Health.h; h != nil {
		s.Health = &HealthCheck{
			Cmd: h.Cmd, HTTP: string(h.HTTP), TCP: string(h.TCP),
			Interval: Duration(h.Interval), Timeout: Duration(h.Timeout),
			Retries: h.Retries.n, StartPeriod: Duration(h.StartPeriod),
			Disable: bool(h.Disable),
		}
	}
	if !m.Replicas.set && (s.Mode == "" || s.Mode == ModeReplicated) {
		s.Replicas = 1
	}
	return s, nil
}

// manifestString is a string.
type manifestString string

func (s *manifestString) decode(key string, v any) error {
	text, err := str(key, v)
	*s = manifestString(text)
	return err
}

// manifestStrings is a list of strings.
type manifestStrings []string

func (l *manifestStrings) decode(key string, v any) (err error) {
	*l, err = strList(key, v)
	return err
}

// manifestWords is a command line: a list of strings, or one string that
// is one word (it is not split).
type manifestWords []string

func (w *manifestWords) decode(key string, v any) (err error) {
	if s, ok := v.(string); ok {
		*w = manifestWords{s}
		return nil
	}
	*w, err = strList(key, v)
	return err
}

// manifestEnv is the environment: a list of "KEY=VALUE" strings, or a table
// of values (strings, numbers or booleans), written in key order.
type manifestEnv []string

func (e *manifestEnv) decode(key string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		l, err := strList(key, v)
		*e = manifestEnv(l)
		return err
	}
	out := make(manifestEnv, 0, len(m))
	for _, k := range sortedKeys(m) {
		s, err := scalarString(key+"."+k, m[k])
		if err != nil {
			return err
		}
		out = append(out, k+"="+s)
	}
	*e = out
	return nil
}

// manifestLabels is a table of strings (numbers and booleans are written
// as text).
type manifestLabels map[string]string

func (l *manifestLabels) decode(key string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("key %q: must be a table of strings, not %s", key, typeName(v))
	}
	out := make(manifestLabels, len(m))
	for _, k := range sortedKeys(m) {
		s, err := scalarString(key+"."+k, m[k])
		if err != nil {
			return err
		}
		out[k] = s
	}
	*l = out
	return nil
}

// manifestCount is a whole number ≥ 0, and whether the key was given.
type manifestCount struct {
	n   uint64
	set bool
}

func (c *manifestCount) decode(key string, v any) (err error) {
	c.n, err = uintVal(key, v)
	c.set = true
	return err
}

// manifestInt64 is a whole number from 0 to math.MaxInt64.
type manifestInt64 int64

func (n *manifestInt64) decode(key string, v any) error {
	u, err := uintVal(key, v)
	if err != nil {
		return err
	}
	if u > math.MaxInt64 {
		return fmt.Errorf("key %q: %d is too large", key, u)
	}
	*n = manifestInt64(u)
	return nil
}

// manifestDuration is a duration string ParseDuration reads ("5s",
// "1m30s"), or the number 0.
type manifestDuration Duration

func (d *manifestDuration) decode(key string, v any) error {
	s, ok := v.(string)
	if !ok {
		if n, err := uintVal(key, v); err == nil && n == 0 {
			*d = 0
			return nil
		}
		return fmt.Errorf("key %q: must be a duration string like \"5s\", not %s", key, describe(v))
	}
	dur, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("key %q: %v", key, err)
	}
	*d = manifestDuration(dur)
	return nil
}

// manifestOptDuration is a duration whose absence differs from 0.
type manifestOptDuration struct{ d *Duration }

func (o *manifestOptDuration) decode(key string, v any) error {
	var d manifestDuration
	if err := d.decode(key, v); err != nil {
		return err
	}
	dur := Duration(d)
	o.d = &dur
	return nil
}

// manifestQuantity is an amount of CPU (NanoCPUs) or memory (bytes), and
// whether the key was given.
type manifestQuantity struct {
	n   int64
	set bool
}

// manifestCPU is an amount of CPU in cores: a number (0.5) or a string
// ParseCPU reads ("0.5", "500m").
type manifestCPU struct{ manifestQuantity }

func (c *manifestCPU) decode(key string, v any) (err error) {
	c.n, err = unitVal(key, v, true, "a number of cores like 0.5", ParseCPU)
	c.set = true
	return err
}

// manifestNanoCPUs is an amount of CPU in billionths of a core, a whole
// number. Amounts beyond MaxNanoCPUs are kept out of range (not wrapped)
// for Validate to refuse.
type manifestNanoCPUs struct{ manifestQuantity }

func (c *manifestNanoCPUs) decode(key string, v any) error {
	n, err := uintVal(key, v)
	c.n, c.set = int64(min(n, uint64(MaxNanoCPUs)+1)), true
	return err
}

// manifestBytes is an amount of memory: a whole number of bytes or a
// string ParseBytes reads ("64MiB").
type manifestBytes struct{ manifestQuantity }

func (b *manifestBytes) decode(key string, v any) (err error) {
	b.n, err = unitVal(key, v, false, `a size like "64MiB"`, ParseBytes)
	b.set = true
	return err
}

// manifestResources is the table of reservations or limits.
type manifestResources struct {
	CPU         manifestCPU      `manifest:"cpu"`
	NanoCPUs    manifestNanoCPUs `manifest:"nano_cpus"`
	Memory      manifestBytes    `manifest:"memory"`
	MemoryBytes manifestBytes    `manifest:"memory_bytes"`
}

func (r *manifestResources) decode(key string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("key %q: must be a table like { cpu = 0.5, memory = \"64MiB\" }, not %s", key, typeName(v))
	}
	return decodeTable(key, m, r)
}

// mergeResources reads CPU and memory from the flat keys (cpu and memory,
// or limit_cpu and limit_memory) and the table (reservations or limits),
// refusing an amount given twice. Keys are taken in sorted order, the flat
// keys before the table, so the error names the later key.
func mergeResources(cpuKey string, cpu manifestCPU, memKey string, mem manifestBytes, table string, t manifestResources) (Resources, error) {
	var r Resources
	by := map[*int64]string{}
	for _, g := range []struct {
		key  string
		q    manifestQuantity
		dst  *int64
		what string
	}{
		{cpuKey, cpu.manifestQuantity, &r.NanoCPUs, "CPU"},
		{memKey, mem.manifestQuantity, &r.MemoryBytes, "memory"},
		{table + ".cpu", t.CPU.manifestQuantity, &r.NanoCPUs, "CPU"},
		{table + ".memory", t.Memory.manifestQuantity, &r.MemoryBytes, "memory"},
		{table + ".memory_bytes", t.MemoryBytes.manifestQuantity, &r.MemoryBytes, "memory"},
		{table + ".nano_cpus", t.NanoCPUs.manifestQuantity, &r.NanoCPUs, "CPU"},
	} {
		if !g.q.set {
			continue
		}
		if prev, dup := by[g.dst]; dup {
			return Resources{}, fmt.Errorf("key %q: %s is already set by %q", g.key, g.what, prev)
		}
		by[g.dst], *g.dst = g.key, g.q.n
	}
	return r, nil
}

// manifestRestart is the restart table.
type manifestRestart struct {
	Condition   manifestString   `manifest:"condition"`
	Delay       manifestDuration `manifest:"delay"`
	MaxAttempts manifestCount    `manifest:"max_attempts"`
	Window      manifestDuration `manifest:"window"`
}

func (r *manifestRestart) decode(key string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("key %q: must be a table like { condition = \"on-failure\" }, not %s", key, typeName(v))
	}
	return decodeTable(key, m, r)
}

// manifestHealth is the health table.
type manifestHealth struct {
	Cmd         manifestWords    `manifest:"cmd"`
	HTTP        manifestString   `manifest:"http"`
	TCP         manifestString   `manifest:"tcp"`
	Interval    manifestDuration `manifest:"interval"`
	Timeout     manifestDuration `manifest:"timeout"`
	Retries     manifestCount    `manifest:"retries"`
	StartPeriod manifestDuration `manifest:"start_period"`
	Disable     manifestBool     `manifest:"disable"`
}

// manifestHealthKey is the health key: absent, or a health table.
type manifestHealthKey struct{ h *manifestHealth }

func (k *manifestHealthKey) decode(key string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("key %q: must be a table like { http = \"/healthz:8080\" }, not %s", key, typeName(v))
	}
	k.h = new(manifestHealth)
	return decodeTable(key, m, k.h)
}

// manifestConstraints is a list of constraint expressions.
type manifestConstraints []Constraint

func (c *manifestConstraints) decode(key string, v any) error {
	l, err := strList(key, v)
	if err != nil {
		return err
	}
	for i, e := range l {
		con, err := ParseConstraint(e)
		if err != nil {
			return fmt.Errorf("key %s[%d]: %v", key, i, err)
		}
		*c = append(*c, con)
	}
	return nil
}

// manifestPlacementPrefs is a list of "spread=node.labels.zone" strings.
type manifestPlacementPrefs []PlacementPreference

func (p *manifestPlacementPrefs) decode(key string, v any) error {
	l, err := strList(key, v)
	if err != nil {
		return err
	}
	for i, e := range l {
		pref, err := ParsePlacementPref(e)
		if err != nil {
			return fmt.Errorf("key %s[%d]: %v", key, i, err)
		}
		*p = append(*p, pref)
	}
	return nil
}

// manifestPreferences is a list of { spread = "node.labels.zone" } tables.
type manifestPreferences []PlacementPreference

func (p *manifestPreferences) decode(key string, v any) error {
	l, ok := toList(v)
	if !ok {
		return fmt.Errorf("key %q: must be a list, not %s", key, typeName(v))
	}
	for i, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return fmt.Errorf("key %s[%d]: must be a table like { spread = \"node.labels.zone\" }", key, i)
		}
		var t struct {
			Spread manifestString `manifest:"spread"`
		}
		if err := decodeTable(fmt.Sprintf("%s[%d]", key, i), m, &t); err != nil {
			return err
		}
		*p = append(*p, PlacementPreference{Spread: string(t.Spread)})
	}
	return nil
}

// manifestPorts is a list of ports, each a number (8080: published and
// listened on, in the mode the API gives, see DefaultPublishModes), a
// string ("53/udp" likewise; "8080:80" and the long form as ParsePort
// reads them, "mode=ingress,target=80" for an automatic published port) or a table { name = "http", port = 8080,
// target_port = 80, protocol = "tcp", mode = "ingress",
// proxy_protocol = true }.
type manifestPorts []PortSpec

func (p *manifestPorts) decode(key string, v any) error {
	l, ok := toList(v)
	if !ok {
		return fmt.Errorf("key %q: must be a list, not %s", key, typeName(v))
	}
	var out manifestPorts
	for i, e := range l {
		path := fmt.Sprintf("%s[%d]", key, i)
		switch e := e.(type) {
		case string:
			port, err := ParsePort(e)
			if err != nil {
				return fmt.Errorf("key %s: %v", path, err)
			}
			if !strings.ContainsAny(e, ":=") {
				// "8080" in a manifest keeps the meaning it had before
				// service traffic, as the number 8080 does: published
				// and listened on (--publish 8080 asks for an
				// automatic published port instead).
				port = PortSpec{Port: port.TargetPort, Protocol: port.Protocol}
			}
			out = append(out, port)
		case map[string]any:
			var t struct {
				Name       manifestString     `manifest:"name"`
				Port       manifestPortNumber `manifest:"port"`
				TargetPort manifestPortNumber `manifest:"target_port"`
				Protocol   manifestString     `manifest:"protocol"`
				Mode       manifestString     `manifest:"mode"`
				Proxy      manifestBool       `manifest:"proxy_protocol"`
			}
			if err := decodeTable(path, e, &t); err != nil {
				return err
			}
			out = append(out, PortSpec{Name: string(t.Name), Port: uint16(t.Port), TargetPort: uint16(t.TargetPort), Protocol: string(t.Protocol),
				Mode: string(t.Mode), ProxyProtocol: bool(t.Proxy)})
		default:
			n, err := uintVal(path, e)
			if err != nil || n == 0 || n > 65535 {
				return fmt.Errorf("key %s: must be a port 1-65535, \"PORT/udp\" or { port = N, protocol = \"udp\" }", path)
			}
			out = append(out, PortSpec{Port: uint16(n)})
		}
	}
	*p = out
	return nil
}

// manifestBool is a boolean.
type manifestBool bool

func (b *manifestBool) decode(key string, v any) error {
	x, ok := v.(bool)
	if !ok {
		return fmt.Errorf("key %q: must be true or false, not %s", key, typeName(v))
	}
	*b = manifestBool(x)
	return nil
}

// manifestPortNumber is a port number, 1-65535.
type manifestPortNumber uint16

func (p *manifestPortNumber) decode(key string, v any) error {
	n, err := uintVal(key, v)
	if err != nil {
		return err
	}
	if n == 0 || n > 65535 {
		return fmt.Errorf("key %q: must be 1-65535, not %d", key, n)
	}
	*p = manifestPortNumber(n)
	return nil
}

// manifestMounts is a list of mounts, each a table or a string ParseMount
// reads (see mountList).
type manifestMounts []Mount

func (m *manifestMounts) decode(key string, v any) (err error) {
	*m, err = mountList(key, v)
	return err
}
