package blobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Manifest media types FetchImage understands.
const (
	MediaTypeOCIIndex           = "application/vnd.oci.image.index.v1+json"
	MediaTypeOCIManifest        = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// maxManifestSize bounds manifests and indexes read into memory.
const maxManifestSize = 4 << 20

// manifestKind says whether a manifest document lists manifests or blobs.
type manifestKind int

const (
	kindIndex manifestKind = iota + 1
	kindManifest
)

// platform is a descriptor's target platform.
type platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// childJSON is a descriptor inside a manifest document.
type childJSON struct {
	MediaType string    `json:"mediaType"`
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	Platform  *platform `json:"platform,omitempty"`
}

// manifestJSON holds the fields of an index, manifest or manifest list
// that FetchImage needs.
type manifestJSON struct {
	SchemaVersion int         `json:"schemaVersion"`
	MediaType     string      `json:"mediaType"`
	Config        *childJSON  `json:"config"`
	Layers        []childJSON `json:"layers"`
	Manifests     []childJSON `json:"manifests"`
}

// parsedManifest is a validated manifest document.
type parsedManifest struct {
	kind manifestKind
	// children are sub-manifests (index) or config then layers (manifest).
	children []childJSON
}

// kindOf maps a manifest media type to its kind; 0 if unknown.
func kindOf(mediaType string) manifestKind {
	switch mediaType {
	case MediaTypeOCIIndex, MediaTypeDockerManifestList:
		return kindIndex
	case MediaTypeOCIManifest, MediaTypeDockerManifest:
		return kindManifest
	}
	return 0
}

// parseManifest parses data, the blob of a descriptor with mediaType ("" if
// the descriptor does not say), and validates its child descriptors.
func parseManifest(mediaType string, data []byte) (*parsedManifest, error) {
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("manifest of %d bytes exceeds limit of %d bytes", len(data), maxManifestSize)
	}
	var m manifestJSON
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest schemaVersion %d unsupported, want 2", m.SchemaVersion)
	}
	if mediaType != "" && m.MediaType != "" && mediaType != m.MediaType {
		return nil, fmt.Errorf("descriptor media type %q differs from manifest's %q", clip(mediaType), clip(m.MediaType))
	}
	mt := mediaType
	if mt == "" {
		mt = m.MediaType
	}
	kind := kindOf(mt)
	switch {
	case mt == "" && m.Manifests != nil && m.Config == nil:
		kind = kindIndex
	case mt == "" && m.Config != nil && m.Manifests == nil:
		kind = kindManifest
	case kind == 0 && mt == "":
		return nil, errors.New("manifest has no media type and neither manifests nor config")
	case kind == 0:
		return nil, fmt.Errorf("unsupported manifest media type %q", clip(mt))
	}
	p := &parsedManifest{kind: kind}
	if kind == kindIndex {
		if m.Config != nil || len(m.Layers) > 0 {
			return nil, errors.New("index has config or layers")
		}
		p.children = m.Manifests
	} else {
		if m.Config == nil {
			return nil, errors.New("image manifest has no config")
		}
		if len(m.Manifests) > 0 {
			return nil, errors.New("image manifest has manifests")
		}
		p.children = append([]childJSON{*m.Config}, m.Layers...)
	}
	for i, c := range p.children {
		if _, err := parseDigest(c.Digest); err != nil {
			return nil, fmt.Errorf("descriptor %d: %w", i, err)
		}
		if c.Size < 0 {
			return nil, fmt.Errorf("descriptor %d (%s): negative size %d", i, c.Digest, c.Size)
		}
		if kind == kindIndex && kindOf(c.MediaType) == 0 {
			return nil, fmt.Errorf("descriptor %d (%s): media type %q is not a manifest or index", i, c.Digest, clip(c.MediaType))
		}
	}
	return p, nil
}

// matchPlatform reports whether a sub-manifest for p is wanted under want
// ("*", "os/arch" or "os/arch/variant"). A descriptor without a platform
// matches.
func matchPlatform(want string, p *platform) bool {
	if want == "*" || p == nil {
		return true
	}
	parts := strings.SplitN(want, "/", 3)
	if len(parts) < 2 || parts[0] != p.OS || parts[1] != p.Architecture {
		return false
	}
	return len(parts) < 3 || parts[2] == p.Variant
}
