// Package blobs shares image content between Shoal nodes over libp2p, so a
// node can start a task whose image it lacks without a registry.
//
// A Server serves blobs from the local content store to cluster members on
// Protocol. A Fetcher fetches a blob, or a whole image tree walked from its
// root descriptor (OCI index or manifest, Docker schema2 manifest or list),
// from a list of peers: it skips blobs already present, verifies every blob
// against its digest, tries the next peer on any peer failure, and merges
// concurrent fetches of the same blob into one transfer. When no peer can
// serve the image the caller falls back to the registry.
//
// The wire protocol is one request per stream: the client sends a frame
// (p2p.WriteFrame) {"digest", "offset"}; the server answers with a frame
// {"size"} followed by the blob's bytes from offset to size, or with a frame
// {"error", "code"} and nothing else.
package blobs
