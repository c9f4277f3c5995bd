package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p/blobs"
	"github.com/shoal-project/shoal/runtime"
	"github.com/shoal-project/shoal/runtime/containerd"
)

// sharingRuntime is the containerd runtime with registry-free image
// sharing in front: before a task is prepared, an image this node lacks is
// fetched over libp2p from the nodes that hold it (every blob checked
// against its digest, shared layers fetched once); only if that fails does
// the runtime pull from the registry the reference names.
type sharingRuntime struct {
	*containerd.Runtime
	a       *Agent
	fetcher *blobs.Fetcher
}

var _ runtime.Runtime = (*sharingRuntime)(nil)

// Prepare fetches the task's image from peers when it is missing here.
func (s *sharingRuntime) Prepare(ctx context.Context, spec runtime.TaskSpec) error {
	ref := spec.Spec.Image
	if has, err := s.HasImage(ctx, ref); err == nil && !has {
		log := s.a.log.With("task", spec.TaskID, "service", spec.ServiceName, "slot", spec.Slot, "image", ref)
		log.Info("task fetching its image from peers")
		if err := s.fetchFromPeers(ctx, ref); err != nil {
			log.Info("task pulling its image from the registry", "reason", err)
		}
	}
	return s.Runtime.Prepare(ctx, spec)
}

// fetchFromPeers fetches the image ref (as a spec writes it) from live
// nodes that hold it and names it here by its normalized name, the name
// the holders' records use.
func (s *sharingRuntime) fetchFromPeers(ctx context.Context, ref string) error {
	name, err := api.NormalizeImageRef(ref)
	if err != nil {
		return err
	}
	img, ok := s.a.store().Image(name)
	if !ok {
		return fmt.Errorf("no node holds it")
	}
	alive := s.a.aliveNodeIDs()
	var peers []peer.ID
	for _, id := range img.Holders {
		if id == s.a.ID() || !alive[id] {
			continue
		}
		if pid, err := peer.Decode(id); err == nil {
			peers = append(peers, pid)
		}
	}
	if len(peers) == 0 {
		return fmt.Errorf("no live node holds it")
	}
	start := time.Now()
	lastLog := map[string]int64{}
	progress := func(dgst string, done, total int64) {
		if total > 8<<20 && (done-lastLog[dgst] >= total/10 || done == total) {
			lastLog[dgst] = done
			s.a.log.Info("image blob progress", "image", ref, "blob", shortDigest(dgst), "percent", done*100/total, "done", api.FormatBytes(done), "size", api.FormatBytes(total))
		}
	}
	root := blobs.Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.Size}
	if err := s.fetcher.FetchImage(ctx, root, peers, progress); err != nil {
		return err
	}
	if err := s.CreateImage(ctx, name, img.Digest, img.MediaType, img.Size); err != nil {
		return err
	}
	s.a.log.Info("image fetched from peers", "image", ref, "took", time.Since(start).Round(time.Millisecond))
	s.a.imagesChanged.Fire()
	return nil
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[7:19]
	}
	return d
}

func (s *apiServer) routeImages() {
	s.route("GET /v1/images", api.ACLReadOnly, s.listImages)
	s.route("DELETE /v1/images/{ref...}", api.ACLOperator, s.removeImage)
	s.handle("POST /v1/images", api.ACLOperator, withDeadlines(transferTimeout, transferTimeout, s.loadImage))
}

func (s *apiServer) listImages(r *http.Request) (any, error) {
	v := s.backend.view() // one index for the whole answer
	out := []api.ImageInfo{}
	for _, img := range v.Images() {
		info := api.ImageInfo{Image: *img}
		for _, id := range img.Holders {
			if n, ok := v.Node(id); ok {
				info.Nodes = append(info.Nodes, n.Name)
			}
		}
		sort.Strings(info.Nodes)
		out = append(out, info)
	}
	return out, nil
}

// loadImage imports an uploaded tarball into this node's content store.
func (s *apiServer) loadImage(w http.ResponseWriter, r *http.Request) {
	out, err := s.backend.loadImages(r.Context(), http.MaxBytesReader(w, r.Body, api.MaxImageUpload))
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	writeJSON(w, out)
}

// loadImages imports a tarball into this node's content store and
// reports the node's images to the leader.
func (a *Agent) loadImages(ctx context.Context, tarball io.Reader) ([]api.ImageRef, error) {
	if a.containerd == nil {
		return nil, api.Errorf(api.CodeInvalid, "node %s has no containerd runtime; load the image through a node that has one", a.cfg.Name)
	}
	imgs, err := a.containerd.ImportImage(ctx, tarball)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "image load: %v", err)
	}
	if err := a.reportImages(ctx); err != nil {
		return nil, err
	}
	out := make([]api.ImageRef, 0, len(imgs))
	for _, i := range imgs {
		out = append(out, api.ImageRef{Ref: i.Ref, Digest: i.Digest, MediaType: i.MediaType, Size: i.Size, TotalSize: i.TotalSize})
	}
	return out, nil
}

// removeImage removes an image (named in any form; records and
// comparisons use the normalized one) from every node that holds it, then
// from the cluster's records.
func (s *apiServer) removeImage(r *http.Request) (any, error) {
	ref, err := api.NormalizeImageRef(r.PathValue("ref"))
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "%v", err)
	}
	v := s.backend.view() // the image's holders and its users at one index
	img, ok := v.Image(ref)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no such image: %s", ref)
	}
	for _, t := range v.Tasks() {
		if !t.Active() || t.Spec.Runtime != api.RuntimeContainerd {
			continue
		}
		if n, err := api.NormalizeImageRef(t.Spec.Image); err == nil && n == ref {
			return nil, api.Errorf(api.CodeConflict, "image %s is in use by service %s", ref, t.ServiceName)
		}
	}
	for _, id := range img.Holders {
		if err := s.backend.removeImageOn(r.Context(), id, ref); err != nil {
			return nil, api.Errorf(api.CodeUnavailable, "removing %s from node %s: %v", ref, api.ShortID(id), err)
		}
	}
	if _, err := s.submit(r, api.CmdRemoveImage, api.RemoveImagePayload{Ref: ref}); err != nil {
		return nil, err
	}
	return map[string]string{"removed": ref}, nil
}

// removeImageOn removes an image from one node's content store.
func (a *Agent) removeImageOn(ctx context.Context, nodeID, ref string) error {
	if nodeID == a.ID() {
		if a.containerd == nil {
			return nil
		}
		return a.containerd.RemoveImage(ctx, ref)
	}
	pid, err := peer.Decode(nodeID)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return a.call(cctx, pid, rpcRemoveImage, removeImageRequest{Ref: ref}, nil)
}

type removeImageRequest struct {
	Ref string `json:"ref"`
}
