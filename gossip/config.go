package gossip

import (
	"errors"
	"fmt"

	"log/slog"
	"net"

	"github.com/hashicorp/memberlist"
)

// Config configures one gossip member.
type Config struct {
	Name        string // memberlist node name; the Shoal node name
	BindIP      string // IP to listen on (TCP and UDP)
	Port        int    // port to listen on; 0 picks a free one (with a custom Transport: the advertised port, unless it has GetAutoBindPort)
	AdvertiseIP string // IP other members reach us at; default BindIP

	// SecretKey is the AES-GCM gossip key (16, 24 or 32 bytes); required.
	SecretKey []byte
	// Label is the cluster label; members with another label are refused.
	Label string

	Meta    Meta    // initial metadata of this member
	Timings Timings // zero value means LANTimings()

	// Transport replaces memberlist's NetTransport on BindIP:Port when set
	// (e.g. a FaultTransport). Start takes ownership: Shutdown, or a
	// failed Start, closes it.
	Transport memberlist.NodeAwareTransport
	// DisableCompression sends messages uncompressed (receivers take
	// both); for many members in one process (node/simnode), where LZW's
	// per-message tables dominate the CPU.
	DisableCompression bool
	// NoReconnect leaves failed members to the others: this member never
	// retries them to heal a partition (see reconnectLoop). For light
	// members (node/simnode), a thousand of which in one process would
	// spend their CPU on full state exchanges; the agents retry.
	NoReconnect bool
	// Denied reports whether a node ID (Meta.NodeID) was removed from the
	// cluster for good: such a member is refused and never listed, so a
	// former member holding the key cannot keep it alive. It must be
	// quick and must not call back into Gossip; nil denies nobody.
	Denied func(nodeID string) bool
	// Logger receives memberlist's and this package's records, at the
	// level each line has; nil discards them.
	Logger *slog.Logger
}

// validate checks the config and fills defaults in place.
func (c *Config) validate() error {
	if c.Name == "" {
		return errors.New("gossip: Name is required")
	}
	if c.Transport == nil {
		if net.ParseIP(c.BindIP) == nil {
			return fmt.Errorf("gossip: BindIP %q is not an IP address", c.BindIP)
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("gossip: Port %d is out of range 0-65535", c.Port)
	}
	if c.AdvertiseIP == "" && c.BindIP != "" && !net.ParseIP(c.BindIP).IsUnspecified() {
		c.AdvertiseIP = c.BindIP
	}
	if c.AdvertiseIP != "" && net.ParseIP(c.AdvertiseIP) == nil {
		return fmt.Errorf("gossip: AdvertiseIP %q is not an IP address", c.AdvertiseIP)
	}
	switch len(c.SecretKey) {
	case 16, 24, 32:
	default:
		return fmt.Errorf("gossip: SecretKey is %d bytes, want 16, 24 or 32", len(c.SecretKey))
	}
	if _, err := c.Meta.Encode(); err != nil {
		return err
	}
	if c.Timings == (Timings{}) {
		c.Timings = LANTimings()
	}
	if err := c.Timings.validate(); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// NewNetTransport returns memberlist's UDP+TCP transport listening on
// bindIP:port (port 0 picks a free port), for wrapping in a FaultTransport.
// A nil logger discards the transport's log lines.
func NewNetTransport(bindIP string, port int, logger *slog.Logger) (*memberlist.NetTransport, error) {
	if net.ParseIP(bindIP) == nil {
		return nil, fmt.Errorf("gossip: bind IP %q is not an IP address", bindIP)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{bindIP},
		BindPort:  port,
		Logger:    stdLogger(logger),
	})
	if err != nil {
		return nil, fmt.Errorf("gossip: listen on %s: %w", net.JoinHostPort(bindIP, fmt.Sprint(port)), err)
	}
	return t, nil
}
