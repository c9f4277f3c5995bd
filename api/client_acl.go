package api

import (
	"context"
	"net/http"
	"net/url"
)

// ACLTokens lists the API tokens (admin).
func (c *Client) ACLTokens(ctx context.Context) ([]ACLTokenInfo, error) {
	var out []ACLTokenInfo
	return out, c.do(ctx, http.MethodGet, "/v1/acl/tokens", nil, &out)
}

// CreateACLToken creates an API token; the answer holds its secret, shown
// this once.
func (c *Client) CreateACLToken(ctx context.Context, req CreateACLTokenRequest) (CreateACLTokenResponse, error) {
	var out CreateACLTokenResponse
	return out, c.do(ctx, http.MethodPost, "/v1/acl/tokens", req, &out)
}

// RevokeACLToken deletes the token with that name or ID.
func (c *Client) RevokeACLToken(ctx context.Context, ref string) (ACLTokenInfo, error) {
	var out ACLTokenInfo
	return out, c.do(ctx, http.MethodDelete, "/v1/acl/tokens/"+url.PathEscape(ref), nil, &out)
}

// WhoAmI says whom the client's requests act as.
func (c *Client) WhoAmI(ctx context.Context) (WhoAmI, error) {
	var out WhoAmI
	return out, c.do(ctx, http.MethodGet, "/v1/acl/whoami", nil, &out)
}

// ClusterCA returns the cluster CA certificate and its fingerprint.
func (c *Client) ClusterCA(ctx context.Context) (ClusterCA, error) {
	var out ClusterCA
	return out, c.do(ctx, http.MethodGet, "/v1/cluster/ca", nil, &out)
}

// RotateKeys rotates the cluster's gossip key, signing key and join token
// (admin); it returns when every node that is up has the new keys.
func (c *Client) RotateKeys(ctx context.Context) (RotateKeysResult, error) {
	var out RotateKeysResult
	return out, c.do(ctx, http.MethodPost, "/v1/cluster/rotate-keys", nil, &out)
}
