package api

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsTestCA is a CA built the way the agents build the cluster CA.
type tlsTestCA struct {
	key  ed25519.PrivateKey
	cert *x509.Certificate
}

func newTLSTestCA(t *testing.T) *tlsTestCA {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test cluster CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsTestCA{key: key, cert: cert}
}

func (ca *tlsTestCA) fingerprint() string {
	sum := sha256.Sum256(ca.cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pemFile writes the CA certificate to a PEM file and returns its path.
func (ca *tlsTestCA) pemFile(t *testing.T) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// serve starts an HTTPS server with a leaf for localhost and 127.0.0.1,
// presenting [leaf, CA] or, without withCA, the leaf alone.
func (ca *tlsTestCA) serve(t *testing.T, withCA bool) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	chain := [][]byte{der}
	if withCA {
		chain = append(chain, ca.cert.Raw)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: key}}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// tlsGet fetches ts's root with the options, as serverName.
func tlsGet(t *testing.T, ts *httptest.Server, o TLSOptions, serverName string) error {
	t.Helper()
	cfg, err := o.Config(serverName)
	if err != nil {
		t.Fatalf("Config: %v", err)
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(ts.URL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); string(body) != "ok" {
		return fmt.Errorf("body %q", body)
	}
	return nil
}

// opensslForm writes a fingerprint as openssl does: uppercase pairs
// separated by colons, no prefix.
func opensslForm(sum [32]byte) string {
	pairs := make([]string, len(sum))
	for i, b := range sum {
		pairs[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(pairs, ":")
}

func TestClientTLSPinned(t *testing.T) {
	ca := newTLSTestCA(t)
	ts := ca.serve(t, true)
	if err := tlsGet(t, ts, TLSOptions{CAFingerprint: ca.fingerprint()}, "127.0.0.1"); err != nil {
		t.Fatalf("right pin: %v", err)
	}
	// openssl's form: uppercase, colon-separated, no prefix.
	if err := tlsGet(t, ts, TLSOptions{CAFingerprint: opensslForm(sha256.Sum256(ca.cert.Raw))}, "localhost"); err != nil {
		t.Fatalf("openssl-style pin: %v", err)
	}

	other := newTLSTestCA(t)
	err := tlsGet(t, ts, TLSOptions{CAFingerprint: other.fingerprint()}, "127.0.0.1")
	if err == nil || !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), ca.fingerprint()) {
		t.Fatalf("wrong pin: %v", err)
	}

	// A server that does not present the CA cannot satisfy the pin.
	bare := ca.serve(t, false)
	if err := tlsGet(t, bare, TLSOptions{CAFingerprint: ca.fingerprint()}, "127.0.0.1"); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("server without CA in chain: %v", err)
	}
}

func TestClientTLSCAFile(t *testing.T) {
	ca := newTLSTestCA(t)
	ts := ca.serve(t, true)
	file := ca.pemFile(t)
	if err := tlsGet(t, ts, TLSOptions{CAFile: file}, "127.0.0.1"); err != nil {
		t.Fatalf("CA file: %v", err)
	}
	if err := tlsGet(t, ca.serve(t, false), TLSOptions{CAFile: file}, "localhost"); err != nil {
		t.Fatalf("CA file, leaf-only server: %v", err)
	}
	if err := tlsGet(t, ts, TLSOptions{CAFile: file, CAFingerprint: ca.fingerprint()}, "127.0.0.1"); err != nil {
		t.Fatalf("CA file and pin: %v", err)
	}
	other := newTLSTestCA(t)
	if err := tlsGet(t, ts, TLSOptions{CAFile: file, CAFingerprint: other.fingerprint()}, "127.0.0.1"); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("CA file right, pin wrong: %v", err)
	}
	if err := tlsGet(t, ts, TLSOptions{CAFile: other.pemFile(t), CAFingerprint: ca.fingerprint()}, "127.0.0.1"); err == nil {
		t.Fatal("pin right, CA file wrong: connected")
	}
	if err := tlsGet(t, ts, TLSOptions{CAFile: other.pemFile(t)}, "127.0.0.1"); err == nil {
		t.Fatal("another CA's file: connected")
	}
}

func TestClientTLSWrongHost(t *testing.T) {
	ca := newTLSTestCA(t)
	ts := ca.serve(t, true)
	for _, o := range []TLSOptions{{CAFingerprint: ca.fingerprint()}, {CAFile: ca.pemFile(t)}} {
		for _, name := range []string{"other.example", "10.9.9.9"} {
			err := tlsGet(t, ts, o, name)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%+v as %s: %v", o, name, err)
			}
		}
	}
}

func TestClientTLSInsecure(t *testing.T) {
	ts := newTLSTestCA(t).serve(t, true)
	if err := tlsGet(t, ts, TLSOptions{Insecure: true, CAFingerprint: newTLSTestCA(t).fingerprint()}, "other.example"); err != nil {
		t.Fatalf("insecure: %v", err)
	}
}

func TestClientTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a certificate\n"), 0o600)
	key := filepath.Join(dir, "key.pem")
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), 0o600)
	garbled := filepath.Join(dir, "garbled.pem")
	os.WriteFile(garbled, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}}), 0o600)
	missing := filepath.Join(dir, "missing.pem")

	for _, tc := range []struct {
		o    TLSOptions
		want string
	}{
		{TLSOptions{}, "https needs the cluster CA: pass --ca-cert FILE or --ca-fingerprint sha256:… (shoal cluster ca prints both)"},
		{TLSOptions{CAFile: missing}, "ca cert " + missing + ": no such file"},
		{TLSOptions{CAFile: bad}, "ca cert " + bad + ": no PEM certificate found"},
		{TLSOptions{CAFile: key}, "ca cert " + key + ": no PEM certificate found"},
		{TLSOptions{CAFile: dir}, "ca cert " + dir + ": is a directory"},
		{TLSOptions{CAFile: garbled}, "ca cert " + garbled + ": x509:"},
		{TLSOptions{CAFingerprint: "sha256:0123456789ab"}, "ca fingerprint: want sha256:<64 hex digits>, got 12 characters"},
		{TLSOptions{CAFingerprint: "sha1:0123"}, `ca fingerprint: only sha256 is supported, got "sha1"`},
		{TLSOptions{CAFingerprint: strings.Repeat("g", 64)}, `ca fingerprint: "g" is not a hex digit`},
		{TLSOptions{CAFingerprint: "ab:cde:f0"}, "ca fingerprint: colon-separated hex needs two digits between colons"},
	} {
		cfg, err := tc.o.Config("127.0.0.1")
		if err == nil || cfg != nil {
			t.Errorf("%+v: config %v, err %v", tc.o, cfg, err)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%+v: error %q, want %q", tc.o, msg, tc.want)
		}
	}
}

func TestClientTLSParseCAFingerprint(t *testing.T) {
	want := sha256.Sum256([]byte("ca"))
	h := hex.EncodeToString(want[:])
	for _, s := range []string{h, "sha256:" + h, "SHA256:" + strings.ToUpper(h), " sha256:" + h + "\n", opensslForm(want), "sha256:" + opensslForm(want)} {
		got, err := ParseCAFingerprint(s)
		if err != nil || got != want {
			t.Errorf("%q: %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "sha256:", h[:63], h + "0", ":" + h, h[:62] + ":" + h[62:], "sha256:" + h + ":"} {
		if _, err := ParseCAFingerprint(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func FuzzParseCAFingerprint(f *testing.F) {
	sum := sha256.Sum256(nil)
	f.Add("sha256:" + hex.EncodeToString(sum[:]))
	f.Add("AB:CD")
	f.Add("sha1:00")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := ParseCAFingerprint(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		again, err := ParseCAFingerprint("sha256:" + hex.EncodeToString(fp[:]))
		if err != nil || again != fp {
			t.Fatalf("%q: re-parse gives %x, %v", s, again, err)
		}
	})
}
