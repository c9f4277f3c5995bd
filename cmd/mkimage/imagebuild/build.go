// Package imagebuild makes the small single-binary container images Shoal
// uses in tests and demos: one layer holding one static executable, which
// is also the image's entrypoint. It writes them as OCI image layout
// tarballs (importable by containerd) and pushes them to registries.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	goruntime "runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Spec describes an image to build.
type Spec struct {
	// Binary is the host path of the executable to put in the image.
	Binary string
	// Path is where it goes in the image, absolute (default "/" + the
	// binary's base name). It is also the entrypoint.
	Path string
	// Env is the image's default environment (KEY=VALUE).
	Env []string
	// Arch is the image's architecture (default: this host's GOARCH).
	Arch string
	// Healthcheck, if set, is the image's HEALTHCHECK (docker's
	// config.Healthcheck: Test ["CMD", ...], ["CMD-SHELL", LINE] or
	// ["NONE"], durations in nanoseconds).
	Healthcheck *v1.HealthConfig
}

// Build makes a single-layer OCI image holding spec.Binary at spec.Path,
// with entrypoint [spec.Path]. Timestamps are zero, so the same binary
// always gives the same image digest.
func Build(spec Spec) (v1.Image, error) {
	if spec.Binary == "" {
		return nil, errors.New("no binary given")
	}
	data, err := os.ReadFile(spec.Binary)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	p := spec.Path
	if p == "" {
		p = "/" + path.Base(spec.Binary)
	}
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return nil, fmt.Errorf("image path %q: must be a clean absolute file path", p)
	}
	for _, e := range spec.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return nil, fmt.Errorf("env %q: want KEY=VALUE", e)
		}
	}
	layerTar, err := tarOf(strings.TrimPrefix(p, "/"), data)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("make layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, fmt.Errorf("add layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = spec.Arch
	if cf.Architecture == "" {
		cf.Architecture = goruntime.GOARCH
	}
	cf.Config.Entrypoint = []string{p}
	cf.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, spec.Env...)
	cf.Config.WorkingDir = "/"
	cf.Config.Healthcheck = spec.Healthcheck
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}

// tarOf makes an uncompressed tar holding data as an executable at name,
// with the directories above it.
func tarOf(name string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := strings.Split(name, "/")
	for i := 1; i < len(dirs); i++ {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: strings.Join(dirs[:i], "/") + "/", Mode: 0o755, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(data)), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
