package api

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// TLSOptions say how a client trusts an agent's HTTPS API, whose
// certificates come from the cluster's own CA.
type TLSOptions struct {
	// CAFile is a PEM file holding the cluster CA certificate.
	CAFile string
	// CAFingerprint is "sha256:HEX", the SHA-256 of the cluster CA
	// certificate's DER, as `shoal cluster ca` prints it.
	CAFingerprint string
	// Insecure skips all checks of the server's certificate, and takes
	// precedence over CAFile and CAFingerprint. For debugging only.
	Insecure bool
}

// errNoCA is returned when TLSOptions give no way to trust the server.
var errNoCA = errors.New("https needs the cluster CA: pass --ca-cert FILE or --ca-fingerprint sha256:… (shoal cluster ca prints both)")

// Config returns a client TLS configuration that accepts a server
// certificate for serverName (a DNS name or an IP) issued by the cluster
// CA. With both CAFile and CAFingerprint set, both must hold.
func (o TLSOptions) Config(serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if o.Insecure {
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	if o.CAFile == "" && o.CAFingerprint == "" {
		return nil, errNoCA
	}
	if o.CAFile != "" {
		pool, err := loadCAFile(o.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if o.CAFingerprint != "" {
		pin, err := ParseCAFingerprint(o.CAFingerprint)
		if err != nil {
			return nil, err
		}
		// Without a CA file, the pinned certificate is the only root: skip
		// the default verification and verify in VerifyConnection. With
		// one, the default verification runs first, then the pin check.
		cfg.InsecureSkipVerify = cfg.RootCAs == nil
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyPinned(cs, pin, serverName)
		}
	}
	return cfg, nil
}

// verifyPinned checks that the server presented the pinned CA certificate
// and that its leaf is valid for serverName under that CA alone.
func verifyPinned(cs tls.ConnectionState, pin [32]byte, serverName string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server presented no certificate")
	}
	var ca *x509.Certificate
	for _, c := range cs.PeerCertificates {
		if sha256.Sum256(c.Raw) == pin {
			ca = c
			break
		}
	}
	if ca == nil {
		presented := sha256.Sum256(cs.PeerCertificates[len(cs.PeerCertificates)-1].Raw)
		return fmt.Errorf("server's CA fingerprint sha256:%x does not match the pinned sha256:%x", presented, pin)
	}
	if serverName == "" {
		serverName = cs.ServerName
	}
	if serverName == "" {
		return errors.New("no server name to verify the certificate against")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:     roots,
		DNSName:   serverName,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// loadCAFile returns a pool with the certificates of a PEM file.
func loadCAFile(name string) (*x509.CertPool, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ca cert %s: no such file", name)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("ca cert %s: %v", name, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca cert %s: %v", name, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("ca cert %s: no PEM certificate found", name)
	}
	return pool, nil
}

// ParseCAFingerprint parses a CA fingerprint: 64 hex digits, in either
// case, optionally prefixed with "sha256:" and optionally written as
// colon-separated pairs as openssl prints them.
func ParseCAFingerprint(s string) ([32]byte, error) {
	var fp [32]byte
	s = strings.TrimSpace(s)
	if len(s) >= 7 && strings.EqualFold(s[:7], "sha256:") {
		s = s[7:]
	} else if alg, _, ok := strings.Cut(s, ":"); ok && len(alg) != 2 {
		return fp, fmt.Errorf("ca fingerprint: only sha256 is supported, got %.20q", alg)
	}
	if strings.Contains(s, ":") {
		pairs := strings.Split(s, ":")
		for _, p := range pairs {
			if len(p) != 2 {
				return fp, errors.New("ca fingerprint: colon-separated hex needs two digits between colons")
			}
		}
		s = strings.Join(pairs, "")
	}
	if len(s) != 64 {
		return fp, fmt.Errorf("ca fingerprint: want sha256:<64 hex digits>, got %d characters", len(s))
	}
	if _, err := hex.Decode(fp[:], []byte(s)); err != nil {
		var ie hex.InvalidByteError
		if errors.As(err, &ie) {
			return fp, fmt.Errorf("ca fingerprint: %q is not a hex digit", string([]byte{byte(ie)}))
		}
		return fp, fmt.Errorf("ca fingerprint: %v", err)
	}
	return fp, nil
}
