package notify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/notify"
)

func TestParseSMTPURL(t *testing.T) {
	good := map[string]string{
		"smtp://u:p@mail.example.nhs.uk":           "smtp://u:redacted@mail.example.nhs.uk:587?tls=starttls",
		"smtp://mail.example.nhs.uk:2525?tls=none": "smtp://mail.example.nhs.uk:2525?tls=none",
		"smtps://u:p@mail.example.nhs.uk":          "smtp://u:redacted@mail.example.nhs.uk:465?tls=tls",
		"smtp://relay?tls=none":                    "smtp://relay:25?tls=none",
		"smtp://u:p%40ss@h:587?tls=tls":            "smtp://u:redacted@h:587?tls=tls",
	}
	for in, want := range good {
		c, err := notify.ParseSMTPURL(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if c.String() != want {
			t.Errorf("%s: %s, want %s", in, c, want)
		}
	}
	if c, _ := notify.ParseSMTPURL("smtp://u:p%40ss@h"); c.Password != "p@ss" {
		t.Errorf("password %q, want p@ss", c.Password)
	}
	for _, bad := range []string{"http://h", "smtp://", "smtp://h?tls=maybe", "smtp://h:99999", "smtp://h?port=1",
		"smtp://user:topsecret@h:notaport", "::"} {
		_, err := notify.ParseSMTPURL(bad)
		if err == nil {
			t.Errorf("%s: accepted", bad)
		} else if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%s: error repeats the password: %v", bad, err)
		}
	}
	if _, err := notify.NewSMTP(notify.SMTPConfig{Host: "h", Port: 25, From: "not an address"}); err == nil {
		t.Errorf("a bad sender address was accepted")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a
// TLS configuration that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, cfg *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
