package state

import (
	"sort"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// applyReportImages replaces what the cluster knows one node holds:
// it joins the holders of every image it lists and leaves the others;
// an image no node holds any more is forgotten.
func (f *FSM) applyReportImages(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.ReportImagesPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if p.NodeID == "" {
		return nil, api.Errorf(api.CodeInvalid, "report images: node_id is empty")
	}
	held := map[string]api.ImageRef{}
	for _, r := range p.Images {
		if r.Ref == "" || r.Digest == "" {
			return nil, api.Errorf(api.CodeInvalid, "report images: an image has an empty ref or digest")
		}
		held[r.Ref] = r
	}
	changed := 0
	for _, img := range list[api.Image](txn, tableImages, indexID) {
		r, holds := held[img.Ref]
		has := contains(img.Holders, p.NodeID)
		if holds && has && r.Digest == img.Digest {
			delete(held, img.Ref)
			continue
		}
		c := *img
		c.Holders = without(img.Holders, p.NodeID)
		if holds {
			if r.Digest != img.Digest {
				// The node holds another build under this ref: the newest
				// report defines the ref, and holders of the old digest drop.
				c.Holders = nil
				c.Digest, c.MediaType, c.Size, c.TotalSize = r.Digest, r.MediaType, r.Size, r.TotalSize
			}
			c.Holders = append(c.Holders, p.NodeID)
			sort.Strings(c.Holders)
			delete(held, img.Ref)
		}
		c.UpdatedAt = cmd.Time
		changed++
		if len(c.Holders) == 0 {
			if err := remove(txn, tableImages, img); err != nil {
				return nil, err
			}
			continue
		}
		if err := insert(txn, tableImages, &c); err != nil {
			return nil, err
		}
	}
	refs := make([]string, 0, len(held))
	for ref := range held {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		r := held[ref]
		img := &api.Image{Ref: r.Ref, Digest: r.Digest, MediaType: r.MediaType, Size: r.Size, TotalSize: r.TotalSize, Holders: []string{p.NodeID}, UpdatedAt: cmd.Time}
		if err := insert(txn, tableImages, img); err != nil {
			return nil, err
		}
		changed++
	}
	return &changed, nil
}

// applyRemoveImage forgets an image cluster-wide.
func (f *FSM) applyRemoveImage(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.RemoveImagePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	img, ok := first[api.Image](txn, tableImages, indexID, p.Ref)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no such image: %s", p.Ref)
	}
	if err := remove(txn, tableImages, img); err != nil {
		return nil, err
	}
	n := 1
	return &n, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func without(list []string, s string) []string {
	out := make([]string, 0, len(list))
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
