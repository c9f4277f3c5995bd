package state

import (
	"reflect"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestReportImagesTracksHolders(t *testing.T) {
	h := bootstrapped(t)
	hello := api.ImageRef{Ref: "shoal/hello:v1", Digest: "sha256:aa", Size: 10}
	other := api.ImageRef{Ref: "shoal/other:v1", Digest: "sha256:bb", Size: 20}
	h.ok(api.CmdReportImages, api.ReportImagesPayload{NodeID: "n1", Images: []api.ImageRef{hello, other}})
	h.ok(api.CmdReportImages, api.ReportImagesPayload{NodeID: "n2", Images: []api.ImageRef{hello}})
	img, ok := h.fsm.Store().Image("shoal/hello:v1")
	if !ok || !reflect.DeepEqual(img.Holders, []string{"n1", "n2"}) {
		t.Fatalf("hello holders = %+v", img)
	}
	// n1 drops other: no holder is left, so the record goes.
	h.ok(api.CmdReportImages, api.ReportImagesPayload{NodeID: "n1", Images: []api.ImageRef{hello}})
	if _, ok := h.fsm.Store().Image("shoal/other:v1"); ok {
		t.Fatal("an image no node holds is still listed")
	}
	// A new build under the same ref replaces the digest and its holders.
	h.ok(api.CmdReportImages, api.ReportImagesPayload{NodeID: "n2", Images: []api.ImageRef{{Ref: hello.Ref, Digest: "sha256:cc", Size: 11}}})
	img, _ = h.fsm.Store().Image(hello.Ref)
	if img.Digest != "sha256:cc" || !reflect.DeepEqual(img.Holders, []string{"n2"}) {
		t.Fatalf("after rebuild: %+v", img)
	}
	h.ok(api.CmdRemoveImage, api.RemoveImagePayload{Ref: hello.Ref})
	if len(h.fsm.Store().Images()) != 0 {
		t.Fatalf("images after remove: %v", h.fsm.Store().Images())
	}
	h.fails(api.CmdRemoveImage, api.CodeNotFound, api.RemoveImagePayload{Ref: hello.Ref})
	h.fails(api.CmdReportImages, api.CodeInvalid, api.ReportImagesPayload{NodeID: "n1", Images: []api.ImageRef{{Ref: "x"}}})
}
