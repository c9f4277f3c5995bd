package api

import "strings"

// NormalizeImageRef writes an image reference the way containerd stores
// it: with a registry host ("docker.io" when none is named, plus
// "library/" for single names) and a tag (":latest" when neither a tag nor
// a digest is given). "shoal/hello:v1" becomes "docker.io/shoal/hello:v1".
func NormalizeImageRef(ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	name := ref
	if !NamesRegistry(ref) {
		if !strings.Contains(ref, "/") {
			name = "library/" + name
		}
		name = "docker.io/" + name
	}
	last := name[strings.LastIndex(name, "/")+1:]
	if !strings.Contains(last, ":") && !strings.Contains(last, "@") {
		name += ":latest"
	}
	return name
}

// NamesRegistry reports whether a reference starts with a registry host
// ("127.0.0.1:5000/app:1", "registry.local/app", "localhost/app"), as
// docker reads references.
func NamesRegistry(ref string) bool {
	first, _, found := strings.Cut(ref, "/")
	return found && (strings.ContainsAny(first, ".:") || first == "localhost")
}
