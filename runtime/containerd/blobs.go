package containerd

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
)

// stagingLease keeps blobs written by WriteBlob until CreateImage makes an
// image reference them (then they leave the lease).
const stagingLease = "shoal-blob-staging"

func parseDigest(dgst string) (digest.Digest, error) {
	d, err := digest.Parse(dgst)
	if err != nil {
		return "", fmt.Errorf("digest %q: %v", dgst, err)
	}
	return d, nil
}

// ReadBlob opens a blob of the content store and returns its size.
// A missing blob gives an error matching errdefs.ErrNotFound.
func (r *Runtime) ReadBlob(ctx context.Context, dgst string) (io.ReadCloser, int64, error) {
	d, err := parseDigest(dgst)
	if err != nil {
		return nil, 0, err
	}
	ctx = r.withNS(ctx)
	ra, err := r.client.ContentStore().ReaderAt(ctx, ocispec.Descriptor{Digest: d})
	if err != nil {
		return nil, 0, fmt.Errorf("blob %s: %w", d, err)
	}
	return readAtCloser{io.NewSectionReader(ra, 0, ra.Size()), ra}, ra.Size(), nil
}

type readAtCloser struct {
	io.Reader
	io.Closer
}

// HasBlob reports whether the content store has the blob.
func (r *Runtime) HasBlob(ctx context.Context, dgst string) (bool, error) {
	d, err := parseDigest(dgst)
	if err != nil {
		return false, err
	}
	_, err = r.client.ContentStore().Info(r.withNS(ctx), d)
	switch {
	case err == nil:
		return true, nil
	case errdefs.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("blob %s: %s", d, textutil.OneLine(err.Error()))
}

// WriteBlob stores the size bytes of rd as the blob dgst. The content
// store checks size and digest before it commits, so a blob that does not
// match is refused and nothing of it is kept. Writing a blob that is
// already there succeeds (rd is not read). The blob is kept until an image
// created with CreateImage references it.
func (r *Runtime) WriteBlob(ctx context.Context, dgst string, size int64, rd io.Reader) error {
	d, err := parseDigest(dgst)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("blob %s: negative size %d", d, size)
	}
	ctx, err = r.stagingContext(ctx)
	if err != nil {
		return err
	}
	cs := r.client.ContentStore()
	if info, err := cs.Info(ctx, d); err == nil {
		// Already here: keep it for CreateImage like a written one.
		if info.Size != size {
			return fmt.Errorf("blob %s refused: it is %d bytes, not %d", d, info.Size, size)
		}
		err := r.client.LeasesService().AddResource(ctx, leases.Lease{ID: stagingLease}, leases.Resource{ID: d.String(), Type: "content"})
		if err != nil {
			return fmt.Errorf("blob %s: %s", d, textutil.OneLine(err.Error()))
		}
		return nil
	}
	ref := "shoal-write-" + d.String()
	if err := content.WriteBlob(ctx, cs, ref, rd, ocispec.Descriptor{Digest: d, Size: size}); err != nil {
		abortCtx := context.WithoutCancel(ctx)
		if aerr := cs.Abort(abortCtx, ref); aerr != nil && !errdefs.IsNotFound(aerr) {
			return fmt.Errorf("blob %s refused: %s (and discarding it failed: %s)", d, textutil.OneLine(err.Error()), textutil.OneLine(aerr.Error()))
		}
		return fmt.Errorf("blob %s refused: %s", d, textutil.OneLine(err.Error()))
	}
	// A blob another namespace already had is shared without reading rd.
	if info, err := cs.Info(ctx, d); err == nil && info.Size != size {
		return fmt.Errorf("blob %s refused: it is %d bytes, not %d", d, info.Size, size)
	}
	return nil
}

// stagingContext returns ctx in the runtime's namespace under the staging
// lease, creating the lease if needed.
func (r *Runtime) stagingContext(ctx context.Context) (context.Context, error) {
	ctx = r.withNS(ctx)
	_, err := r.client.LeasesService().Create(ctx, leases.WithID(stagingLease))
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create staging lease: %s", textutil.OneLine(err.Error()))
	}
	return leases.WithLease(ctx, stagingLease), nil
}

// CreateImage names ref the image whose manifest or index is the blob
// manifestDigest (with mediaType and size), once every blob it needs for
// this platform is in the content store (WriteBlob), and unpacks it. A
// missing blob or an image that does not unpack gives an error and leaves
// ref as it was.
func (r *Runtime) CreateImage(ctx context.Context, ref, manifestDigest, mediaType string, size int64) error {
	name, err := api.NormalizeImageRef(ref)
	if err != nil {
		return err
	}
	d, err := parseDigest(manifestDigest)
	if err != nil {
		return err
	}
	if !images.IsManifestType(mediaType) && !images.IsIndexType(mediaType) {
		return fmt.Errorf("image %s: media type %q is not a manifest or index type", name, mediaType)
	}
	ctx = r.withNS(ctx)
	target := ocispec.Descriptor{Digest: d, MediaType: mediaType, Size: size}
	cs := r.client.ContentStore()
	var blobs []ocispec.Descriptor
	sawManifest := false
	check := images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		info, err := cs.Info(ctx, desc.Digest)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return nil, fmt.Errorf("blob %s (%s) is missing", desc.Digest, desc.MediaType)
			}
			return nil, err
		}
		if info.Size != desc.Size {
			return nil, fmt.Errorf("blob %s is %d bytes, the image says %d", desc.Digest, info.Size, desc.Size)
		}
		blobs = append(blobs, desc)
		if images.IsManifestType(desc.MediaType) {
			sawManifest = true
		}
		return images.Children(ctx, cs, desc)
	})
	handler := images.SetChildrenLabels(cs, images.FilterPlatforms(check, platforms.Default()))
	if err := images.Walk(ctx, handler, target); err != nil {
		return fmt.Errorf("image %s: %s", name, textutil.OneLine(err.Error()))
	}
	if !sawManifest {
		return fmt.Errorf("image %s: %s has no manifest for this platform (%s)", name, d, platforms.DefaultString())
	}
	before, err := r.imageMap(ctx)
	if err != nil {
		return err
	}
	im := images.Image{Name: name, Target: target}
	err = r.withTempLease(ctx, func(ctx context.Context) error {
		created, err := r.client.ImageService().Create(ctx, im)
		if errdefs.IsAlreadyExists(err) {
			created, err = r.client.ImageService().Update(ctx, im, "target")
		}
		if err != nil {
			return fmt.Errorf("image %s: %s", name, textutil.OneLine(err.Error()))
		}
		if err := client.NewImage(r.client, created).Unpack(ctx, snapshotter); err != nil {
			r.restoreImages(ctx, []images.Image{created}, before)
			return fmt.Errorf("image %s: unpack: %s", name, textutil.OneLine(err.Error()))
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The image references its blobs now; they need the staging lease no more.
	lm := r.client.LeasesService()
	for _, b := range blobs {
		err := lm.DeleteResource(ctx, leases.Lease{ID: stagingLease}, leases.Resource{ID: b.Digest.String(), Type: "content"})
		if err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("image %s: release staged blob %s: %s", name, b.Digest, textutil.OneLine(err.Error()))
		}
	}
	return nil
}
