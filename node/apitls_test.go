package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func apiTLSTestKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

var apiTLSCreated = time.Date(2025, 3, 4, 5, 6, 7, 890, time.UTC)

func TestAPITLSClusterCADeterministic(t *testing.T) {
	ca1, der1, err := clusterCA(apiTLSTestKey(1), "c1", apiTLSCreated)
	if err != nil {
		t.Fatal(err)
	}
	// The same instant in another zone gives the same bytes.
	_, der2, err := clusterCA(apiTLSTestKey(1), "c1", apiTLSCreated.In(time.FixedZone("x", 3600)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(der1, der2) {
		t.Fatal("two builds from the same inputs differ")
	}
	if !ca1.IsCA || !ca1.MaxPathLenZero || ca1.Subject.CommonName != "Shoal cluster CA c1" {
		t.Fatalf("CA fields: IsCA=%v MaxPathLenZero=%v CN=%q", ca1.IsCA, ca1.MaxPathLenZero, ca1.Subject.CommonName)
	}
	if want := time.Date(2025, 3, 4, 4, 6, 7, 0, time.UTC); !ca1.NotBefore.Equal(want) || !ca1.NotAfter.Equal(want.Add(caValidity)) {
		t.Fatalf("validity %v..%v", ca1.NotBefore, ca1.NotAfter)
	}
	if err := ca1.CheckSignatureFrom(ca1); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	_, der3, err := clusterCA(apiTLSTestKey(2), "c1", apiTLSCreated)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(der1, der3) || caFingerprint(der1) == caFingerprint(der3) {
		t.Fatal("different keys give the same CA")
	}
	if fp := caFingerprint(der1); !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+64 || strings.ToLower(fp) != fp {
		t.Fatalf("fingerprint %q", fp)
	}
	if _, _, err := clusterCA(ed25519.PrivateKey("short"), "c1", apiTLSCreated); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestAPITLSServerCertVerifies(t *testing.T) {
	key := apiTLSTestKey(1)
	ca, _, err := clusterCA(key, "c1", apiTLSCreated)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ips := []net.IP{net.ParseIP("10.0.0.7"), net.ParseIP("fd00::7")}
	cert, err := newServerCert(key, ca, []string{"n1.example", "localhost"}, ips, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 2 || !bytes.Equal(cert.Certificate[1], ca.Raw) {
		t.Fatal("chain is not [leaf, CA]")
	}
	if cert.Leaf.NotAfter.After(ca.NotAfter) || cert.Leaf.NotAfter.Sub(now) > serverCertValidity {
		t.Fatalf("leaf NotAfter %v", cert.Leaf.NotAfter)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"n1.example", "localhost", "10.0.0.7", "fd00::7"} {
		opts := x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := cert.Leaf.Verify(opts); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"other.example", "10.0.0.8"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err == nil {
			t.Errorf("%s verified", name)
		}
	}
	// A CA from another key does not vouch for it.
	other, _, _ := clusterCA(apiTLSTestKey(2), "c1", apiTLSCreated)
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other)
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: otherRoots, DNSName: "localhost"}); err == nil {
		t.Error("verified against another cluster's CA")
	}
	// Near the CA's end, the leaf is clamped to it.
	late, err := newServerCert(key, ca, nil, ips, ca.NotAfter.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !late.Leaf.NotAfter.Equal(ca.NotAfter) {
		t.Fatalf("late leaf NotAfter %v, CA %v", late.Leaf.NotAfter, ca.NotAfter)
	}
}

// apiTLSTestCluster is a settable cluster record for apiCertSource.
type apiTLSTestCluster struct {
	mu  sync.Mutex
	key ed25519.PrivateKey
}

func (c *apiTLSTestCluster) set(key ed25519.PrivateKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.key = key
}

func (c *apiTLSTestCluster) get() (ed25519.PrivateKey, string, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.key, "c1", apiTLSCreated, c.key != nil
}

func apiTLSTestNames() ([]string, []net.IP) {
	return []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
}

func TestAPITLSHandshake(t *testing.T) {
	cl := &apiTLSTestCluster{key: apiTLSTestKey(1)}
	src := newAPICertSource(cl.get, apiTLSTestNames, nil)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", apiTLSConfig(src))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.Proto)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	der, fp, err := src.CA()
	if err != nil {
		t.Fatal(err)
	}
	if fp != caFingerprint(der) {
		t.Fatalf("CA() fingerprint %s, want %s", fp, caFingerprint(der))
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok HTTP/1.1" {
		t.Fatalf("body %q", body)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) != 2 || !bytes.Equal(resp.TLS.PeerCertificates[1].Raw, der) {
		t.Fatal("server did not present [leaf, CA]")
	}

	// A client trusting another CA is refused.
	other, _, _ := clusterCA(apiTLSTestKey(2), "c1", apiTLSCreated)
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other)
	tr2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: otherRoots}}
	defer tr2.CloseIdleConnections()
	if _, err := (&http.Client{Transport: tr2, Timeout: 10 * time.Second}).Get("https://" + ln.Addr().String() + "/"); err == nil {
		t.Fatal("client trusting another CA connected")
	}
}

func TestAPITLSNotSynced(t *testing.T) {
	cl := &apiTLSTestCluster{}
	src := newAPICertSource(cl.get, apiTLSTestNames, nil)
	if _, err := src.GetCertificate(nil); !errors.Is(err, errNotSynced) || err.Error() != "this node has not synced the cluster state yet" {
		t.Fatalf("GetCertificate: %v", err)
	}
	if _, _, err := src.CA(); !errors.Is(err, errNotSynced) {
		t.Fatalf("CA: %v", err)
	}
	cl.set(apiTLSTestKey(1))
	if _, err := src.GetCertificate(nil); err != nil {
		t.Fatal(err)
	}
}

func TestAPITLSRebuild(t *testing.T) {
	cl := &apiTLSTestCluster{key: apiTLSTestKey(1)}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	src := newAPICertSource(cl.get, apiTLSTestNames, clock)

	// Concurrent first use builds one certificate.
	certs := make([]*tls.Certificate, 8)
	var wg sync.WaitGroup
	for i := range certs {
		wg.Go(func() {
			c, err := src.GetCertificate(nil)
			if err != nil {
				t.Error(err)
			}
			certs[i] = c
		})
	}
	wg.Wait()
	first := certs[0]
	for _, c := range certs {
		if c != first {
			t.Fatal("concurrent calls built different certificates")
		}
	}
	if again, _ := src.GetCertificate(nil); again != first {
		t.Fatal("certificate not cached")
	}
	der1, _, _ := src.CA()

	// Near expiry, the leaf is replaced under the same CA.
	mu.Lock()
	now = now.Add(serverCertValidity - serverCertRenewBefore + time.Minute)
	mu.Unlock()
	renewed, err := src.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if renewed == first || !bytes.Equal(renewed.Certificate[1], der1) {
		t.Fatal("leaf not renewed under the same CA")
	}

	// A new signing key gives a new CA and leaf.
	cl.set(apiTLSTestKey(2))
	rotated, err := src.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	der2, _, _ := src.CA()
	if bytes.Equal(der1, der2) || !bytes.Equal(rotated.Certificate[1], der2) {
		t.Fatal("CA not rebuilt after key change")
	}
	ca2, _ := x509.ParseCertificate(der2)
	if err := rotated.Leaf.CheckSignatureFrom(ca2); err != nil {
		t.Fatalf("leaf not signed by the new CA: %v", err)
	}
}
