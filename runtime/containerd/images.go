package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
)

// ImageInfo describes an image in the runtime's namespace.
type ImageInfo struct {
	// Ref is the image's name in the runtime's namespace. Images Shoal
	// creates are named by api.NormalizeImageRef ("docker.io/shoal/hello:v1");
	// images others created there may have any name.
	Ref string
	// Digest, MediaType and Size describe the image's target: its manifest
	// or index, as CreateImage takes them.
	Digest    string
	MediaType string
	Size      int64
	// TotalSize is the size of all its blobs for this platform (index,
	// manifest, config, compressed layers); 0 if some are missing.
	TotalSize int64
}

// ensureImage returns the image named ref, pulling it if it is not present
// and unpacking it if it is not unpacked. A failed pull leaves nothing.
func (r *Runtime) ensureImage(ctx context.Context, ref string) (client.Image, error) {
	ctx = r.withNS(ctx)
	name, err := api.NormalizeImageRef(ref)
	if err != nil {
		return nil, err
	}
	img, err := r.client.GetImage(ctx, name)
	switch {
	case err == nil:
		ok, err := img.IsUnpacked(ctx, snapshotter)
		if err != nil {
			return nil, fmt.Errorf("image %s: %s", name, textutil.OneLine(err.Error()))
		}
		if !ok {
			if err := r.withTempLease(ctx, func(ctx context.Context) error { return img.Unpack(ctx, snapshotter) }); err != nil {
				return nil, fmt.Errorf("image %s: unpack: %s", name, textutil.OneLine(err.Error()))
			}
		}
		return img, nil
	case !errdefs.IsNotFound(err):
		return nil, fmt.Errorf("image %s: %s", name, textutil.OneLine(err.Error()))
	}
	err = r.withTempLease(ctx, func(ctx context.Context) error {
		var perr error
		img, perr = r.client.Pull(ctx, name,
			client.WithResolver(r.resolver()),
			client.WithPullUnpack,
			client.WithPullSnapshotter(snapshotter))
		return perr
	})
	if err != nil {
		return nil, fmt.Errorf("pull %s: %s", name, textutil.OneLine(err.Error()))
	}
	return img, nil
}

// ImportImage imports an OCI image layout or docker-archive tarball
// (as written by `mkimage`, `docker save` or `ctr images export`), checks
// every blob against its digest and unpacks the images it names, under
// their normalized names (api.NormalizeImageRef: an archive that names
// "local/busybox:1" gives the image "docker.io/local/busybox:1"). On any
// error nothing is left: no new image, content or snapshot, and names the
// archive would have moved point where they did before.
func (r *Runtime) ImportImage(ctx context.Context, tar io.Reader) ([]ImageInfo, error) {
	ctx = r.withNS(ctx)
	before, err := r.imageMap(ctx)
	if err != nil {
		return nil, err
	}
	var out []ImageInfo
	err = r.withTempLease(ctx, func(ctx context.Context) error {
		var names importNames
		imported, err := r.client.Import(ctx, tar, client.WithImageRefTranslator(names.refName))
		if err != nil {
			return fmt.Errorf("import image archive: %s", textutil.OneLine(err.Error()))
		}
		imgs, touched, err := r.rename(ctx, imported)
		if err == nil {
			err = names.err
		}
		if err != nil {
			r.restoreImages(ctx, append(imported, touched...), before)
			return fmt.Errorf("import image archive: %v", err)
		}
		if len(imgs) == 0 {
			return errors.New("import image archive: it names no image (no io.containerd.image.name or full org.opencontainers.image.ref.name annotation, no RepoTags)")
		}
		for _, im := range imgs {
			img := client.NewImage(r.client, im)
			if err := img.Unpack(ctx, snapshotter); err != nil {
				r.restoreImages(ctx, append(imported, touched...), before)
				return fmt.Errorf("import image archive: unpack %s: %s", im.Name, textutil.OneLine(err.Error()))
			}
			out = append(out, r.info(ctx, img))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// imageMap returns the namespace's images by name.
func (r *Runtime) imageMap(ctx context.Context) (map[string]images.Image, error) {
	list, err := r.client.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %s", textutil.OneLine(err.Error()))
	}
	m := make(map[string]images.Image, len(list))
	for _, im := range list {
		m[im.Name] = im
	}
	return m, nil
}

// restoreImages undoes the creation, retargeting or removal of imgs.
func (r *Runtime) restoreImages(ctx context.Context, imgs []images.Image, before map[string]images.Image) {
	is := r.client.ImageService()
	for _, im := range imgs {
		if old, ok := before[im.Name]; ok {
			if _, err := is.Update(ctx, old, "target", "labels"); errdefs.IsNotFound(err) {
				is.Create(ctx, old)
			}
			continue
		}
		is.Delete(ctx, im.Name)
	}
}

// info describes img.
func (r *Runtime) info(ctx context.Context, img client.Image) ImageInfo {
	t := img.Target()
	total, _ := img.Size(ctx)
	return ImageInfo{Ref: img.Name(), Digest: t.Digest.String(), MediaType: t.MediaType, Size: t.Size, TotalSize: total}
}

// Images lists the images in the runtime's namespace, sorted by Ref.
func (r *Runtime) Images(ctx context.Context) ([]ImageInfo, error) {
	ctx = r.withNS(ctx)
	list, err := r.client.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %s", textutil.OneLine(err.Error()))
	}
	out := make([]ImageInfo, 0, len(list))
	for _, img := range list {
		out = append(out, r.info(ctx, img))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

// HasImage reports whether an image named ref (normalized) is present.
func (r *Runtime) HasImage(ctx context.Context, ref string) (bool, error) {
	name, err := api.NormalizeImageRef(ref)
	if err != nil {
		return false, err
	}
	_, err = r.client.ImageService().Get(r.withNS(ctx), name)
	switch {
	case err == nil:
		return true, nil
	case errdefs.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("image %s: %s", name, textutil.OneLine(err.Error()))
}

// RemoveImage removes the image named ref, and any image whose name
// normalizes to the same (a short name that another tool, or an older
// Shoal, created); its content and snapshots go once no other image or
// container uses them. Removing an image that is not there is not an
// error.
func (r *Runtime) RemoveImage(ctx context.Context, ref string) error {
	name, err := api.NormalizeImageRef(ref)
	if err != nil {
		return err
	}
	ctx = r.withNS(ctx)
	all, err := r.imageMap(ctx)
	if err != nil {
		return err
	}
	for have := range all {
		if n, err := api.NormalizeImageRef(have); err != nil || n != name {
			continue
		}
		err := r.client.ImageService().Delete(ctx, have, images.SynchronousDelete())
		if err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove image %s: %s", have, textutil.OneLine(err.Error()))
		}
	}
	return nil
}
