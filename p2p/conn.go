package p2p

import (
	"net"
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Network is the net.Addr network name of stream connections; the address
// string is a peer ID.
const Network = "libp2p"

// peerAddr is a net.Addr holding a peer ID.
type peerAddr struct{ id peer.ID }

func (a peerAddr) Network() string { return Network }
func (a peerAddr) String() string  { return a.id.String() }

// streamConn is a net.Conn over a libp2p stream.
type streamConn struct {
	network.Stream
}

func (c *streamConn) LocalAddr() net.Addr  { return peerAddr{c.Stream.Conn().LocalPeer()} }
func (c *streamConn) RemoteAddr() net.Addr { return peerAddr{c.Stream.Conn().RemotePeer()} }

// streamListener is a net.Listener fed by a stream handler.
type streamListener struct {
	h     *Host
	proto protocol.ID
	ch    chan network.Stream
	done  chan struct{}
	once  sync.Once
}

// Accept waits for the next stream.
func (l *streamListener) Accept() (net.Conn, error) {
	select {
	case s := <-l.ch:
		return &streamConn{Stream: s}, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.h.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops accepting streams and removes the protocol handler.
func (l *streamListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.h.h.RemoveStreamHandler(l.proto)
	})
	return nil
}

// Addr returns the local peer ID as an address.
func (l *streamListener) Addr() net.Addr { return peerAddr{l.h.ID()} }
