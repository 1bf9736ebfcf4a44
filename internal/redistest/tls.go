package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// StartTLS runs a redis-server that accepts only TLS on a free loopback
// port, with a certificate for 127.0.0.1 signed by a CA made for the test.
// It returns the server and the PEM of that CA, for a client's trust store.
func StartTLS(t testing.TB) (*Server, []byte) {
	t.Helper()
	return startTLS(t, func() int { return FreePort(t) })
}

// startTLS is StartTLS with the ports to try coming from nextPort.
func startTLS(t testing.TB, nextPort func() int) (*Server, []byte) {
	t.Helper()
	dir := t.TempDir()
	caPEM, certPEM, keyPEM := makeCerts(t)
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, b := range map[string][]byte{ca: caPEM, cert: certPEM, key: keyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ready := func(s *Server, exitedC <-chan struct{}, logName string) error {
		deadline := time.Now().Add(10 * time.Second)
		for {
			select {
			case <-exitedC:
				return exited(s.Addr, logName)
			default:
			}
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 200 * time.Millisecond}, "tcp", s.Addr, &tls.Config{RootCAs: pool})
			if err == nil {
				c.Close()
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("TLS redis-server on %s did not accept: %w", s.Addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The TLS port is the server's address; the plain port is turned off.
	s := start(t, nextPort, ready, func(port int) []string {
		return []string{"--port", "0", "--tls-port", strconv.Itoa(port), "--tls-cert-file", cert,
			"--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"}
	})
	return s, caPEM
}

func makeCerts(t testing.TB) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fila test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}
