package api

import (
	"context"
	"net/http"
	"net/url"
)

// Secrets lists the secrets (metadata only).
func (c *Client) Secrets(ctx context.Context) ([]SecretInfo, error) {
	var out []SecretInfo
	return out, c.do(ctx, http.MethodGet, "/v1/secrets", nil, &out)
}

// Secret returns one secret's metadata.
func (c *Client) Secret(ctx context.Context, name string) (SecretInfo, error) {
	var out SecretInfo
	return out, c.do(ctx, http.MethodGet, "/v1/secrets/"+url.PathEscape(name), nil, &out)
}

// CreateSecret stores a secret.
func (c *Client) CreateSecret(ctx context.Context, name string, data []byte) (SecretInfo, error) {
	var out SecretInfo
	return out, c.do(ctx, http.MethodPost, "/v1/secrets", CreateSecretRequest{Name: name, Data: data}, &out)
}

// RemoveSecret deletes a secret no service uses.
func (c *Client) RemoveSecret(ctx context.Context, name string) (SecretInfo, error) {
	var out SecretInfo
	return out, c.do(ctx, http.MethodDelete, "/v1/secrets/"+url.PathEscape(name), nil, &out)
}
