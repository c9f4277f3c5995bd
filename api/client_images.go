package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// MaxImageUpload is the largest image tarball the API accepts.
const MaxImageUpload = 4 << 30

// LoadImage uploads an image tarball (OCI layout or docker-archive) to the
// agent, which imports it and makes it available to the whole cluster.
func (c *Client) LoadImage(ctx context.Context, tarball []byte) ([]ImageRef, error) {
	resp, err := c.send(ctx, http.MethodPost, "/v1/images", tarball, NewRequestID(), c.stream)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []ImageRef
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, Errorf(CodeInternal, "agent at %s sent a bad answer to an image load: %v", c.display, err)
	}
	return out, nil
}

// Images lists the images nodes of the cluster hold.
func (c *Client) Images(ctx context.Context) ([]ImageInfo, error) {
	var out []ImageInfo
	err := c.do(ctx, http.MethodGet, "/v1/images", nil, &out)
	return out, err
}

// RemoveImage removes an image from every node that holds it.
func (c *Client) RemoveImage(ctx context.Context, ref string) error {
	return c.do(ctx, http.MethodDelete, "/v1/images/"+url.PathEscape(ref), nil, nil)
}
