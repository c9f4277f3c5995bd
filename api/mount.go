package api

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseMount reads a mount in a subset of Docker's --mount syntax:
// comma-separated key=value pairs, "type=volume,source=data,target=/data"
// or "type=bind,src=/srv/x,dst=/x,readonly". Keys are type (volume, the
// default, or bind), source or src, target, destination or dst, and
// readonly or ro (bare, or =true/false). Paths and names are checked by
// Validate, not here.
func ParseMount(s string) (Mount, error) {
	var m Mount
	seen := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, hasValue := strings.Cut(part, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			return Mount{}, fmt.Errorf("mount %q: empty field %q (want key=value pairs separated by commas)", s, part)
		}
		canon := map[string]string{"src": "source", "dst": "target", "destination": "target", "ro": "readonly"}[k]
		if canon == "" {
			canon = k
		}
		if prev, dup := seen[canon]; dup {
			return Mount{}, fmt.Errorf("mount %q: %q repeats %q", s, k, prev)
		}
		seen[canon] = k
		if !hasValue && canon != "readonly" {
			return Mount{}, fmt.Errorf("mount %q: %q needs a value (%s=...)", s, k, k)
		}
		switch canon {
		case "type":
			if v != string(MountVolume) && v != string(MountBind) {
				return Mount{}, fmt.Errorf("mount %q: type %q is not volume or bind", s, v)
			}
			m.Type = MountType(v)
		case "source":
			m.Source = v
		case "target":
			m.Target = v
		case "readonly":
			ro, err := strconv.ParseBool(v)
			if !hasValue {
				ro, err = true, nil
			}
			if err != nil {
				return Mount{}, fmt.Errorf("mount %q: %s=%q is not true or false", s, k, v)
			}
			m.ReadOnly = ro
		default:
			return Mount{}, fmt.Errorf("mount %q: unknown key %q (want type, source, target, readonly)", s, k)
		}
	}
	if m.Type == "" {
		m.Type = MountVolume
	}
	if m.Source == "" {
		return Mount{}, fmt.Errorf("mount %q: needs source=NAME (volume) or source=/HOST/PATH (bind)", s)
	}
	if m.Target == "" {
		return Mount{}, fmt.Errorf("mount %q: needs target=/PATH in the container", s)
	}
	return m, nil
}

func mountList(key string, v any) ([]Mount, error) {
	l, ok := toList(v)
	if !ok {
		return nil, fmt.Errorf("key %q: must be a list, not %s", key, typeName(v))
	}
	var out []Mount
	for i, e := range l {
		path := fmt.Sprintf("%s[%d]", key, i)
		switch e := e.(type) {
		case string:
			m, err := ParseMount(e)
			if err != nil {
				return nil, fmt.Errorf("key %s: %v", path, err)
			}
			out = append(out, m)
		case map[string]any:
			m, err := decodeMount(path, e)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		default:
			return nil, fmt.Errorf("key %s: must be a table like { type = \"volume\", source = \"data\", target = \"/data\" }, not %s", path, typeName(e))
		}
	}
	return out, nil
}

func decodeMount(path string, t map[string]any) (Mount, error) {
	var m Mount
	var err error
	seen := map[string]string{}
	for _, k := range sortedKeys(t) {
		key := path + "." + k
		canon := map[string]string{"src": "source", "dst": "target", "destination": "target", "ro": "readonly", "read_only": "readonly"}[k]
		if canon == "" {
			canon = k
		}
		if prev, dup := seen[canon]; dup {
			return m, fmt.Errorf("key %q: repeats %q", key, path+"."+prev)
		}
		seen[canon] = k
		switch canon {
		case "type":
			var typ string
			typ, err = str(key, t[k])
			m.Type = MountType(typ)
		case "source":
			m.Source, err = str(key, t[k])
		case "target":
			m.Target, err = str(key, t[k])
		case "readonly":
			b, ok := t[k].(bool)
			if !ok {
				err = fmt.Errorf("key %q: must be true or false, not %s", key, describe(t[k]))
			}
			m.ReadOnly = b
		default:
			err = fmt.Errorf("unknown key %q", key)
		}
		if err != nil {
			return m, err
		}
	}
	if m.Type == "" {
		m.Type = MountVolume
	}
	return m, nil
}
