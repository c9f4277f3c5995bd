package node

import (
	"context"
	"reflect"
	"sort"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime/containerd"
)

// imageReportLoop keeps the cluster's record of the images this node
// holds equal to its content store.
func (a *Agent) imageReportLoop() {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		changed := a.imagesChanged.Wait()
		if err := a.reportImages(a.ctx); err != nil && a.ctx.Err() == nil {
			a.log.Warn("images not reported", "err", err)
		}
		select {
		case <-a.ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// reportImages commits this node's image list (heldImages) if the
// cluster's differs.
func (a *Agent) reportImages(ctx context.Context) error {
	if a.containerd == nil || a.leaderID() == "" {
		return nil
	}
	imgs, err := a.containerd.Images(ctx)
	if err != nil {
		return err
	}
	have := heldImages(imgs)
	var known []api.ImageRef
	for _, img := range a.store().Images() {
		for _, h := range img.Holders {
			if h == a.ID() {
				known = append(known, api.ImageRef{Ref: img.Ref, Digest: img.Digest, MediaType: img.MediaType, Size: img.Size, TotalSize: img.TotalSize})
			}
		}
	}
	if reflect.DeepEqual(have, known) || (len(have) == 0 && len(known) == 0) {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = a.submitPayload(cctx, api.CmdReportImages, "", api.ReportImagesPayload{NodeID: a.ID(), Images: have})
	return err
}

// heldImages is what a node reports it holds: its containerd images under
// their normalized names (api.NormalizeImageRef), the names every lookup
// uses, sorted by name. Of two images whose names normalize alike (a short
// name another tool created next to the full one) the one already under
// the normalized name wins, as that is the one the runtime runs; a name
// that is no valid reference is left out, as no spec can name it.
func heldImages(imgs []containerd.ImageInfo) []api.ImageRef {
	byRef := map[string]api.ImageRef{}
	exact := map[string]bool{}
	for _, i := range imgs {
		ref, err := api.NormalizeImageRef(i.Ref)
		if err != nil || exact[ref] {
			continue
		}
		if _, dup := byRef[ref]; dup && ref != i.Ref {
			continue
		}
		exact[ref] = ref == i.Ref
		byRef[ref] = api.ImageRef{Ref: ref, Digest: i.Digest, MediaType: i.MediaType, Size: i.Size, TotalSize: i.TotalSize}
	}
	out := make([]api.ImageRef, 0, len(byRef))
	for _, r := range byRef {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}
