package deploy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
)

// tlsAccessSecrets stands in for the Secrets of a gateway with TLS and
// client access: cert-manager's kubernetes.io/tls Secrets (tls.crt, tls.key,
// ca.crt) for the JSON-RPC and admin listeners, the admin clients' CA, the
// JWT verification keys, and the environment Secret named env.
func tlsAccessSecrets(t *testing.T, env string) secretData {
	t.Helper()
	ca := certtest.NewCA(t, "evmgate test ca")
	rpc, admin := ca.Server(t, "evmgate.example"), ca.Server(t, "evmgate-admin")
	clients := certtest.NewCA(t, "evmgate admin clients")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "test-1", "alg": "ES256", "use": "sig",
		"x": b64(key.X.FillBytes(make([]byte, 32))), "y": b64(key.Y.FillBytes(make([]byte, 32))),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return secretData{
		"evmgate-tls":           {"tls.crt": string(rpc.CertPEM), "tls.key": string(rpc.KeyPEM), "ca.crt": string(ca.CertPEM)},
		"evmgate-admin-tls":     {"tls.crt": string(admin.CertPEM), "tls.key": string(admin.KeyPEM), "ca.crt": string(ca.CertPEM)},
		"evmgate-admin-clients": {"ca.crt": string(clients.CertPEM)},
		"evmgate-jwt": {
			"jwks.json":  string(jwks),
			"issuer.pem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		},
		env: {
			"PARTNER_A_KEY":       "test-partner-a-key-0123456789",
			"EVMGATE_ADMIN_TOKEN": "test-admin-token-0123456789abcdef",
			"REDIS_PASSWORD":      "test-redis-password",
		},
	}
}

// checkHTTPSScrapes checks that every ServiceMonitor scrapes over HTTPS with
// a tlsConfig, as the metrics port serves TLS when tls: is set.
func checkHTTPSScrapes(t *testing.T, o *objects) {
	t.Helper()
	for _, m := range o.serviceMonitors {
		for _, e := range m.Spec.Endpoints {
			if e.Scheme != "https" || e.TLSConfig == nil {
				t.Errorf("%s: ServiceMonitor %s endpoint %s: scheme %q, want https with a tlsConfig", o.name, m.Metadata.Name, e.Port, e.Scheme)
			}
		}
	}
}
