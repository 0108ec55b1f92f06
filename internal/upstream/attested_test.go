package upstream_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/attest/attesttest"
	"github.com/evmgate/evmgate/internal/upstream"
)

// TestAttestedTransport: an attested node is called only over a verified
// TLS connection; when its certificate stops verifying, the call fails in
// the handshake with KindAttestation and the node sees no request.
func TestAttestedTransport(t *testing.T) {
	snp := attesttest.NewSNP(t)
	good, bad := bytes.Repeat([]byte{0x11}, 48), bytes.Repeat([]byte{0x22}, 48)
	var requests atomic.Int64
	srv := attesttest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`))
	}), snp.Maker(t, good))
	dir := t.TempDir()
	attesttest.WriteCollateral(t, dir, snp.CRLURL(), snp.CRL(t))
	set := attest.Settings{CollateralDir: dir, Offline: true}
	set.Default()
	v, err := attest.New(set, attest.Options{SNPRoots: snp.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	check, err := v.Node(attest.Spec{Type: attest.SEVSNP, Measurements: []string{hex.EncodeToString(good)}, Nonce: true})
	if err != nil {
		t.Fatal(err)
	}
	n := upstream.New(upstream.Spec{Name: "tee", URL: srv.URL, Timeout: 5 * time.Second, Attest: check})
	defer n.Close()
	ctx := context.Background()
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)
	if _, err := n.Call(ctx, body); err != nil {
		t.Fatal(err)
	}
	srv.Restart(snp.Maker(t, bad))
	// A call may first meet the kept-alive connection the restart closed
	// (a transport error, as with any node restart); the next dial checks
	// the new certificate.
	var ue *upstream.Error
	for range 3 {
		_, err = n.Call(ctx, body)
		if !errors.As(err, &ue) || ue.Kind != upstream.KindTransport {
			break
		}
	}
	if !errors.As(err, &ue) || ue.Kind != upstream.KindAttestation {
		t.Fatalf("call after the certificate changed: %v, want an attestation failure", err)
	}
	if r, _ := attest.ReasonOf(err); r != attest.Measurement {
		t.Fatalf("reason %q, want measurement (%v)", r, err)
	}
	if got := requests.Load(); got != 1 {
		t.Fatalf("the node saw %d requests, want only the one made while attested", got)
	}
}
