package containerd

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
)

// importNames turns the names an image archive gives its images into the
// names Shoal stores: api.NormalizeImageRef of each. containerd's Import
// takes a docker-archive's RepoTags normalized, an OCI index's
// org.opencontainers.image.ref.name through refName, but an
// io.containerd.image.name annotation as it is written ("local/busybox:1",
// as some tools write it); rename fixes those afterwards.
type importNames struct {
	err error // the first name that is not a valid reference
}

// refName translates an org.opencontainers.image.ref.name annotation. A
// bare tag ("v1": no '/', ':' or '@', which the OCI spec allows and
// containerd itself writes) names no image, as in containerd's own import;
// anything else must be a valid reference.
func (n *importNames) refName(s string) string {
	if !strings.ContainsAny(s, "/:@") {
		return ""
	}
	name, err := api.NormalizeImageRef(s)
	if err != nil {
		if n.err == nil {
			n.err = fmt.Errorf("annotation %s: %v", ocispec.AnnotationRefName, err)
		}
		return ""
	}
	return name
}

// rename gives every image an import created under a name that is not
// normalized the normalized name instead (created, or retargeted if it
// exists) and deletes the short one. It returns the images under their
// final names, one per name (the archive's last wins, as in containerd's
// import), and the images it created or retargeted, which a failed import
// must restore along with imported.
func (r *Runtime) rename(ctx context.Context, imported []images.Image) (final, touched []images.Image, err error) {
	is := r.client.ImageService()
	index := map[string]int{}
	for _, im := range imported {
		name, err := api.NormalizeImageRef(im.Name)
		if err != nil {
			return nil, touched, fmt.Errorf("annotation %s: %v", images.AnnotationImageName, err)
		}
		if name != im.Name {
			want := images.Image{Name: name, Target: im.Target, Labels: im.Labels}
			created, err := is.Create(ctx, want)
			if errdefs.IsAlreadyExists(err) {
				created, err = is.Update(ctx, want, "target")
			}
			if err != nil {
				return nil, touched, fmt.Errorf("name image %s: %s", name, textutil.OneLine(err.Error()))
			}
			touched = append(touched, created)
			if err := is.Delete(ctx, im.Name); err != nil && !errdefs.IsNotFound(err) {
				return nil, touched, fmt.Errorf("remove short name %s: %s", im.Name, textutil.OneLine(err.Error()))
			}
			im = created
		}
		if i, ok := index[name]; ok {
			final[i] = im
			continue
		}
		index[name] = len(final)
		final = append(final, im)
	}
	return final, touched, nil
}
