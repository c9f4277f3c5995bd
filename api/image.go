package api

import "time"

// Image is an image that nodes of the cluster hold in their local content
// store, so that other nodes can fetch it from them without a registry.
type Image struct {
	Ref       string    `json:"ref"`
	Digest    string    `json:"digest"` // manifest or index digest
	MediaType string    `json:"media_type,omitempty"`
	Size      int64     `json:"size"`       // size of the root manifest
	TotalSize int64     `json:"total_size"` // manifests, config and layers
	Holders   []string  `json:"holders"`    // node IDs, sorted
	UpdatedAt time.Time `json:"updated_at"`
}

// ImageInfo is an image as the API shows it: with holder node names.
type ImageInfo struct {
	Image
	Nodes []string `json:"nodes"`
}

// ImageRef is one image a node holds.
type ImageRef struct {
	Ref       string `json:"ref"`
	Digest    string `json:"digest"`
	MediaType string `json:"media_type,omitempty"`
	Size      int64  `json:"size"`
	TotalSize int64  `json:"total_size"`
}

// ReportImagesPayload is the full list of images one node holds; it
// replaces what the cluster knew of that node.
type ReportImagesPayload struct {
	NodeID string     `json:"node_id"`
	Images []ImageRef `json:"images"`
}

// RemoveImagePayload forgets an image cluster-wide.
type RemoveImagePayload struct {
	Ref string `json:"ref"`
}
