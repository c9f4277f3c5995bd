package api

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"

	"github.com/shoal-project/shoal/internal/textutil"
)

// NormalizeImageRef is the one way Shoal names an image: the fully
// qualified form containerd stores, by docker's reference rules. A name
// without a registry host gets "docker.io" (plus "library/" for a single
// name), a name without tag or digest gets ":latest", and a reference with
// both keeps only the digest:
//
//	busybox                   → docker.io/library/busybox:latest
//	local/busybox:1           → docker.io/local/busybox:1
//	127.0.0.1:5000/x:2        → 127.0.0.1:5000/x:2
//	app@sha256:<hex>          → docker.io/library/app@sha256:<hex>
//
// Image records, image loads and removals, and every comparison of image
// names go through it. A reference that is not valid (empty, uppercase
// letters in the repository, a bad tag or digest, ...) is a one-line error
// that names the reference and the problem. NormalizeImageRef is
// idempotent.
func NormalizeImageRef(ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("image reference is empty")
	}
	n, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %s", ref, textutil.OneLine(err.Error()))
	}
	return n.String(), nil
}

// FamiliarImageRef is the short form docker shows for ref
// ("docker.io/library/busybox:latest" → "busybox:latest",
// "docker.io/local/busybox:1" → "local/busybox:1"); other registries keep
// their host. It is for display only; a reference that does not parse is
// returned as it is.
func FamiliarImageRef(ref string) string {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarString(n)
}

// NamesRegistry reports whether a reference, as written, starts with a
// registry host ("127.0.0.1:5000/app:1", "registry.local/app",
// "localhost/app", "docker.io/library/app"), by the rule docker uses to
// split a host off a name. A short name ("local/busybox:1") names none:
// Shoal looks it up only among the images its nodes hold.
func NamesRegistry(ref string) bool {
	first, _, found := strings.Cut(ref, "/")
	return found && (strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first)
}
