package p2p

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/multiformats/go-multistream"
)

// probeTimeout bounds a probe whose ctx has no deadline.
const probeTimeout = 10 * time.Second

// ProbePeerID learns the peer ID of the libp2p node listening on hostport:
// it connects over TCP, selects Noise with multistream-select, runs the
// Noise handshake as initiator without a peer ID check and returns the
// authenticated remote peer ID. key may be nil (an ephemeral key is used).
func ProbePeerID(ctx context.Context, key crypto.PrivKey, hostport string) (peer.ID, error) {
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		return "", fmt.Errorf("probe %q: %w", hostport, err)
	}
	if key == nil {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return "", fmt.Errorf("probe %s: %w", hostport, err)
		}
		key = k
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, probeTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return "", probeError(ctx, hostport, "connect", err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	if err := multistream.SelectProtoOrFail(noise.ID, conn); err != nil {
		if isTimeout(ctx, err) {
			return "", fmt.Errorf("probe %s: timed out waiting for a libp2p handshake (not a shoal/libp2p node?)", hostport)
		}
		return "", fmt.Errorf("probe %s: not a shoal/libp2p node (multistream-select of %s failed: %v)", hostport, noise.ID, err)
	}
	tpt, err := noise.New(noise.ID, key, nil)
	if err != nil {
		return "", fmt.Errorf("probe %s: %w", hostport, err)
	}
	st, err := tpt.WithSessionOptions(noise.DisablePeerIDCheck())
	if err != nil {
		return "", fmt.Errorf("probe %s: %w", hostport, err)
	}
	sc, err := st.SecureOutbound(ctx, conn, "")
	if err != nil {
		if isTimeout(ctx, err) {
			return "", fmt.Errorf("probe %s: timed out in the noise handshake", hostport)
		}
		return "", fmt.Errorf("probe %s: noise handshake failed (not a shoal/libp2p node?): %v", hostport, err)
	}
	defer sc.Close()
	id := sc.RemotePeer()
	if err := id.Validate(); err != nil {
		return "", fmt.Errorf("probe %s: remote sent an invalid peer ID: %w", hostport, err)
	}
	return id, nil
}

// probeError explains a failed TCP connect.
func probeError(ctx context.Context, hostport, step string, err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("probe %s: connection refused (is a shoal agent listening there?)", hostport)
	case isTimeout(ctx, err):
		return fmt.Errorf("probe %s: %s timed out", hostport, step)
	default:
		return fmt.Errorf("probe %s: %s: %w", hostport, step, err)
	}
}

// isTimeout reports whether err comes from a deadline or an ended ctx.
func isTimeout(ctx context.Context, err error) bool {
	var ne net.Error
	return ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
