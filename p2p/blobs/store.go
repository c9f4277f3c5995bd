package blobs

import (
	"context"
	"io"
)

// Protocol is the libp2p protocol ID blobs are served on.
const Protocol = "/shoal/blobs/1"

// BlobStore is the local content store (containerd's in production; a
// directory or map in tests). Digests are "algorithm:hex" strings such as
// "sha256:…".
type BlobStore interface {
	// HasBlob reports whether the store holds the complete blob dgst.
	HasBlob(ctx context.Context, dgst string) (bool, error)
	// ReadBlob opens blob dgst and returns its size. The reader may
	// implement io.Seeker, which lets a server start at an offset without
	// reading the skipped bytes.
	ReadBlob(ctx context.Context, dgst string) (io.ReadCloser, int64, error)
	// WriteBlob stores size bytes read from r as blob dgst. It must verify
	// the digest itself too and commit nothing if r returns an error.
	WriteBlob(ctx context.Context, dgst string, size int64, r io.Reader) error
}

// Descriptor names a blob: its media type, digest and size in bytes.
type Descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}
