package alerts

import (
	"context"
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
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// selfSigned returns a server certificate for 127.0.0.1 and the path of
// its PEM (the CA a client must trust).
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemPath := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemPath
}

// TestKafkaTLS: the sink verifies the broker against tls_ca; without the
// CA the handshake fails and alerts are spooled, not lost.
func TestKafkaTLS(t *testing.T) {
	cert, caPath := selfSigned(t)
	port := freePort(t)
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "alerts"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	s, err := ParseSink(fmt.Sprintf("kafka://127.0.0.1:%d/alerts?tls_ca=%s&spool=%s", port, caPath, t.TempDir()), SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher([]Sink{s}, DispatcherOptions{})
	for i := 0; i < 20; i++ {
		d.EmitAlert(testAlert(i))
	}
	closeCtx(t, d)
	if st := d.Stats()[0]; st.Delivered != 20 || st.Spooled != 0 {
		t.Fatalf("with the CA: %+v", st)
	}

	// tls=true alone: the system roots do not know this CA.
	s, err = ParseSink(fmt.Sprintf("kafka://127.0.0.1:%d/alerts?tls=true&write_timeout=2s&spool=%s", port, t.TempDir()), SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d = NewDispatcher([]Sink{s}, DispatcherOptions{})
	d.EmitAlert(testAlert(0))
	waitFor(t, "spooled after the handshake failed", 20*time.Second, func() bool { return d.Stats()[0].Spooled == 1 })
	if st := d.Stats()[0]; st.Delivered != 0 {
		t.Fatalf("untrusted broker got alerts: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	d.Close(ctx) // reports the alert left in the spool
}
