package imagebuild

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shoal-project/shoal/api"
)

// Annotations naming an image in an OCI layout's index.json.
const (
	AnnotationRefName        = "org.opencontainers.image.ref.name"
	AnnotationContainerdName = "io.containerd.image.name"
)

// WriteOCIArchive writes img as a tarball of an OCI image layout whose
// index names it ref (normalized, e.g. "docker.io/shoal/hello:v1"), the
// form `ctr images import` and containerd's Import read.
func WriteOCIArchive(w io.Writer, img v1.Image, ref string) error {
	full, err := api.NormalizeImageRef(ref)
	if err != nil {
		return err
	}
	return WriteOCIArchiveAnnotated(w, img, map[string]string{AnnotationRefName: full, AnnotationContainerdName: full})
}

// WriteOCIArchiveAnnotated writes img as a tarball of an OCI image layout
// whose index entry carries exactly annotations: names as other tools
// write them ("local/busybox:1", a bare tag "v1", ...), for tests.
func WriteOCIArchiveAnnotated(w io.Writer, img v1.Image, annotations map[string]string) error {
	dir, err := os.MkdirTemp("", "mkimage-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(annotations)); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	return tarDir(w, dir)
}

// WriteDockerArchive writes img as a docker-archive tarball (`docker
// save`'s format: manifest.json with RepoTags) whose RepoTags are tags as
// written.
func WriteDockerArchive(w io.Writer, img v1.Image, tags ...string) error {
	refs := map[name.Reference]v1.Image{}
	for _, t := range tags {
		tag, err := name.NewTag(t)
		if err != nil {
			return fmt.Errorf("docker archive tag %q: %w", t, err)
		}
		refs[tag] = img
	}
	if len(refs) == 0 {
		return fmt.Errorf("docker archive: no tag")
	}
	if err := tarball.MultiRefWrite(refs, w); err != nil {
		return fmt.Errorf("write docker archive: %w", err)
	}
	return nil
}

// tarDir writes the files under dir to w as a tar with relative names,
// in lexical order and with zero timestamps.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755})
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: fi.Size()}); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return tw.Close()
}

// Push uploads img to ref (e.g. "127.0.0.1:5000/shoal/hello:v1"). With
// insecure, the registry may be plain HTTP or have an untrusted
// certificate.
func Push(ctx context.Context, img v1.Image, ref string, insecure bool) error {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return fmt.Errorf("push reference %q: %w", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}
