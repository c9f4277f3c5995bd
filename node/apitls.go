package node

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// API TLS: the agent's TCP API serves HTTPS with a leaf certificate signed
// by the cluster CA, a CA certificate every node derives from the cluster
// signing key. Clients trust the CA by file or by its fingerprint.

const (
	// caValidity is how long the cluster CA certificate is valid.
	caValidity = 20 * 365 * 24 * time.Hour
	// serverCertValidity is how long a server certificate is valid.
	serverCertValidity = 365 * 24 * time.Hour
	// serverCertRenewBefore is how long before expiry a server certificate
	// is replaced.
	serverCertRenewBefore = 30 * 24 * time.Hour
)

// errNotSynced is returned while the node does not know the cluster record.
var errNotSynced = errors.New("this node has not synced the cluster state yet")

// noRand fails every read: building the CA certificate must use no
// randomness, so that every node derives the same bytes.
type noRand struct{}

func (noRand) Read([]byte) (int, error) {
	return 0, errors.New("cluster CA: unexpected use of randomness")
}

// clusterCA returns the self-signed cluster CA certificate, parsed and as
// DER, whose key is the cluster signing key. It is deterministic: every
// node builds byte-identical DER from the same inputs.
func clusterCA(signingKey ed25519.PrivateKey, clusterID string, createdAt time.Time) (*x509.Certificate, []byte, error) {
	if len(signingKey) != ed25519.PrivateKeySize {
		return nil, nil, fmt.Errorf("cluster CA: signing key is %d bytes, want %d", len(signingKey), ed25519.PrivateKeySize)
	}
	pub := signingKey.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	notBefore := createdAt.UTC().Truncate(time.Second).Add(-time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(sum[:16]),
		Subject:               pkix.Name{CommonName: "Shoal cluster CA " + clusterID},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:          sum[:20],
	}
	der, err := x509.CreateCertificate(noRand{}, tmpl, tmpl, pub, signingKey)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster CA: %w", err)
	}
	return ca, der, nil
}

// caFingerprint returns "sha256:" and the lowercase hex SHA-256 of a
// certificate's DER.
func caFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// newServerCert returns a server certificate for the given names, with a
// fresh ECDSA P-256 key held only in memory, signed by the CA. Its chain
// includes the CA certificate so that a client pinning the CA sees it.
func newServerCert(caKey ed25519.PrivateKey, ca *x509.Certificate, dnsNames []string, ips []net.IP, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	serial := make([]byte, 16)
	if _, err := rand.Read(serial); err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	notAfter := now.Add(serverCertValidity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(serial),
		Subject:      pkix.Name{CommonName: "Shoal agent"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// apiCertSource hands the API's TLS server its certificate. It builds the
// CA and server certificate the first time the cluster is known, and
// rebuilds them when the CA inputs change or the server certificate nears
// expiry. It is safe for concurrent use.
type apiCertSource struct {
	cluster func() (key ed25519.PrivateKey, id string, created time.Time, ok bool)
	names   func() ([]string, []net.IP)
	now     func() time.Time

	mu      sync.Mutex
	key     ed25519.PrivateKey // the inputs the cached CA was built from
	id      string
	created time.Time
	ca      *x509.Certificate
	cert    *tls.Certificate
}

// newAPICertSource returns a certificate source. cluster reports the
// cluster record (ok is false until the node has it), names the DNS names
// and IPs the certificate is for, and now the time (nil means time.Now).
func newAPICertSource(cluster func() (key ed25519.PrivateKey, id string, created time.Time, ok bool), names func() ([]string, []net.IP), now func() time.Time) *apiCertSource {
	if now == nil {
		now = time.Now
	}
	return &apiCertSource{cluster: cluster, names: names, now: now}
}

// GetCertificate returns the current server certificate, building it if
// needed. It fits tls.Config.GetCertificate.
func (s *apiCertSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load()
}

// CA returns the current cluster CA certificate's DER and fingerprint.
func (s *apiCertSource) CA() (der []byte, fingerprint string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.load(); err != nil {
		return nil, "", err
	}
	return s.ca.Raw, caFingerprint(s.ca.Raw), nil
}

// load returns the cached server certificate, rebuilding the CA and the
// certificate as needed. s.mu must be held.
func (s *apiCertSource) load() (*tls.Certificate, error) {
	key, id, created, ok := s.cluster()
	if !ok {
		return nil, errNotSynced
	}
	if s.ca == nil || !bytes.Equal(key, s.key) || id != s.id || !created.Equal(s.created) {
		ca, _, err := clusterCA(key, id, created)
		if err != nil {
			return nil, err
		}
		s.key, s.id, s.created, s.ca, s.cert = bytes.Clone(key), id, created, ca, nil
	}
	now := s.now()
	if s.cert == nil || now.After(s.cert.Leaf.NotAfter.Add(-serverCertRenewBefore)) {
		dnsNames, ips := s.names()
		cert, err := newServerCert(s.key, s.ca, dnsNames, ips, now)
		if err != nil {
			return nil, err
		}
		s.cert = &cert
	}
	return s.cert, nil
}

// apiTLSConfig returns the API server's TLS configuration, with
// certificates from src. It offers HTTP/1.1 only, so the negotiated
// protocol never depends on how the http.Server is set up for HTTP/2.
func apiTLSConfig(src *apiCertSource) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: src.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}
}
