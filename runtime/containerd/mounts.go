package containerd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-project/shoal/api"
)

// ociMounts turns a spec's mounts into OCI bind mounts: named volumes live
// in <Root>/volumes/<name> (created here, kept after the task), and bind
// mounts are allowed only below a Config.AllowBindPrefixes entry.
func (r *Runtime) ociMounts(ms []api.Mount) ([]specs.Mount, error) {
	out := make([]specs.Mount, 0, len(ms))
	seen := map[string]bool{}
	for _, m := range ms {
		if !filepath.IsAbs(m.Target) || hasDotDot(m.Target) {
			return nil, fmt.Errorf("mount target %q: must be an absolute path without '..'", m.Target)
		}
		target := filepath.Clean(m.Target)
		if target == "/" {
			return nil, errors.New("mount target \"/\": cannot mount over the container's root")
		}
		if seen[target] {
			return nil, fmt.Errorf("mount target %q: given twice", target)
		}
		seen[target] = true
		var src string
		switch m.Type {
		case api.MountVolume:
			if err := validVolumeName(m.Source); err != nil {
				return nil, err
			}
			src = filepath.Join(r.root, "volumes", m.Source)
			if err := os.MkdirAll(src, 0o755); err != nil {
				return nil, fmt.Errorf("volume %q: %w", m.Source, err)
			}
		case api.MountBind:
			var err error
			if src, err = r.allowedBind(m.Source); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("mount %q: unknown type %q (want %q or %q)", m.Target, m.Type, api.MountVolume, api.MountBind)
		}
		opt := "rw"
		if m.ReadOnly {
			opt = "ro"
		}
		out = append(out, specs.Mount{Type: "bind", Source: src, Destination: target, Options: []string{"rbind", opt}})
	}
	return out, nil
}

// allowedBind resolves a bind mount's host path (following symlinks) and
// checks that it lies under an allowed prefix.
func (r *Runtime) allowedBind(source string) (string, error) {
	if !filepath.IsAbs(source) {
		return "", fmt.Errorf("bind source %q: must be an absolute host path", source)
	}
	real, err := filepath.EvalSymlinks(source)
	if err != nil {
		return "", fmt.Errorf("bind source %q: %v", source, errors.Unwrap(err))
	}
	for _, p := range r.cfg.AllowBindPrefixes {
		rp, err := filepath.EvalSymlinks(p)
		if err != nil {
			rp = filepath.Clean(p)
		}
		if within(rp, real) {
			return real, nil
		}
	}
	if len(r.cfg.AllowBindPrefixes) == 0 {
		return "", fmt.Errorf("bind source %q: bind mounts are not allowed on this node (no allowed prefixes configured)", source)
	}
	return "", fmt.Errorf("bind source %q: not under an allowed prefix (%s)", source, strings.Join(r.cfg.AllowBindPrefixes, ", "))
}

// within reports whether path is dir or below it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func hasDotDot(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// validVolumeName accepts names safe as one directory name.
func validVolumeName(name string) error {
	if name == "" {
		return errors.New("volume name is empty")
	}
	if len(name) > 128 {
		return fmt.Errorf("volume name %.20q... is longer than 128 bytes", name)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || (i > 0 && (c == '-' || c == '_' || c == '.'))
		if !ok {
			return fmt.Errorf("volume name %q has character %q; only letters, digits and (not first) '-', '_', '.' are allowed", name, c)
		}
	}
	return nil
}
