package node

import (
	"context"
	"net"
)

// endpoint is which of the API's listeners a request came in on.
type endpoint int

const (
	// endpointTCP is the HTTPS listener: callers present a bearer token.
	endpointTCP endpoint = iota
	// endpointSocket is the local unix socket: its file mode decides who
	// may connect, and whoever does is an admin of this node.
	endpointSocket
)

type endpointKey struct{}

// withEndpoint records a connection's endpoint in its requests' context
// (http.Server.ConnContext).
func withEndpoint(ctx context.Context, c net.Conn) context.Context {
	e := endpointTCP
	if c.LocalAddr().Network() == "unix" {
		e = endpointSocket
	}
	return context.WithValue(ctx, endpointKey{}, e)
}

// endpointOf returns the endpoint a request came in on.
func endpointOf(ctx context.Context) endpoint {
	e, _ := ctx.Value(endpointKey{}).(endpoint)
	return e
}
