package attest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-sev-guest/verify/trust"
	tdxtrust "github.com/google/go-tdx-guest/verify/trust"
)

// Options are hooks for tests: trusted roots and collateral sources other
// than AMD's and Intel's.
type Options struct {
	// Now replaces the clock.
	Now func() time.Time
	// SNPRoots are the AMD roots trusted, by product line. Default: the
	// roots go-sev-guest embeds.
	SNPRoots map[string][]*trust.AMDRootCerts
	// SNPGetter fetches SEV-SNP collateral. Default: AMD KDS through the
	// collateral store.
	SNPGetter trust.HTTPSGetter
	// TDXRoots is the Intel root trusted. Default: the one go-tdx-guest embeds.
	TDXRoots *x509.CertPool
	// TDXGetter fetches TDX collateral. Default: Intel PCS through the store.
	TDXGetter tdxtrust.HTTPSGetter
	// TDXNoCollateral skips Intel's TCB info, QE identity and CRLs (only
	// the quote's own certificate chain is checked).
	TDXNoCollateral bool
}

// Verifier checks attestation evidence for every attested node of a
// gateway; it holds the collateral store and the result cache.
type Verifier struct {
	set   Settings
	opts  Options
	now   func() time.Time
	store *store
	sgx   *qvsClient // nil: no SGX verifier configured

	mu    sync.Mutex // mu protects cache
	cache map[cacheKey]time.Time
}

type cacheKey struct {
	cert   [32]byte
	policy string
}

// maxCache bounds the result cache; when full, expired entries go first,
// then everything.
const maxCache = 4096

// New returns a verifier for a validated, defaulted Settings.
func New(set Settings, opts Options) (*Verifier, error) {
	v := &Verifier{set: set, opts: opts, now: opts.Now, cache: map[cacheKey]time.Time{}}
	if v.now == nil {
		v.now = time.Now
	}
	v.store = newStore(set)
	if err := v.loadRoots(); err != nil {
		return nil, err
	}
	if set.SGXVerifier.URL != "" {
		c, err := newQVSClient(set.SGXVerifier)
		if err != nil {
			return nil, err
		}
		v.sgx = c
	}
	return v, nil
}

// Node is one node's attestation check. It is safe for concurrent use.
type Node struct {
	v      *Verifier
	spec   Spec
	policy string   // identifies spec in the cache
	meas   [][]byte // decoded measurements

	last  atomic.Pointer[Result]
	fails [numReasons]atomic.Uint64
}

// Result is a node's last verification.
type Result struct {
	OK     bool
	Reason Reason
	Error  string
	At     time.Time
}

var reasonIndex = func() map[Reason]int {
	m := map[Reason]int{}
	for i, r := range Reasons {
		m[r] = i
	}
	return m
}()

// Node returns the check of one node; spec must have passed Validate.
func (v *Verifier) Node(spec Spec) (*Node, error) {
	if err := spec.Validate("attestation"); err != nil {
		return nil, err
	}
	n := &Node{v: v, spec: spec}
	for _, m := range spec.Measurements {
		n.meas = append(n.meas, mustHex(m))
	}
	id := sha256.Sum256([]byte(fmt.Sprintf("%#v", spec)))
	n.policy = string(id[:])
	return n, nil
}

// Spec returns the node's attestation settings.
func (n *Node) Spec() Spec { return n.spec }

// Last returns the node's last verification (nil before the first).
func (n *Node) Last() *Result { return n.last.Load() }

// Failures returns the count of failed verifications per reason.
func (n *Node) Failures() map[Reason]uint64 {
	out := make(map[Reason]uint64, len(Reasons))
	for i, r := range Reasons {
		out[r] = n.fails[i].Load()
	}
	return out
}

// nonceSuffix ends the TLS server name that carries a nonce: RFC 6761's
// .invalid, so it never names a real host.
const nonceSuffix = ".nonce.invalid"

// ClientConfig returns the TLS configuration for one new connection to the
// node. Its VerifyConnection checks the certificate the node presents (the
// usual X.509 verification is replaced by it: the node's key is trusted
// because the TEE vouches for it). With nonce, every call returns a config
// with a fresh nonce: use one per connection.
func (n *Node) ClientConfig() *tls.Config {
	var nonce []byte
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	if n.spec.Nonce {
		nonce = make([]byte, 16)
		_, _ = rand.Read(nonce)
		cfg.ServerName = hex.EncodeToString(nonce) + nonceSuffix
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return n.record(fail(NoEvidence, "the node presented no certificate"))
		}
		return n.Verify(cs.PeerCertificates[0], nonce)
	}
	return cfg
}

// NonceFromServerName returns the nonce a client sent as TLS server name,
// for node-side servers (nil when there is none).
func NonceFromServerName(name string) []byte {
	h, ok := strings.CutSuffix(name, nonceSuffix)
	if !ok {
		return nil
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil
	}
	return b
}

// Verify checks cert's attestation against the node's settings; nonce is
// the one sent for this connection (nil: none). The error is an *Error.
func (n *Node) Verify(cert *x509.Certificate, nonce []byte) error {
	return n.record(n.verify(cert, nonce))
}

func (n *Node) record(err error) error {
	r := &Result{OK: err == nil, At: n.v.now()}
	if err != nil {
		ae := wrap(Signature, err)
		err = ae
		r.Reason, r.Error = ae.Reason, ae.Error()
		n.fails[reasonIndex[ae.Reason]].Add(1)
	}
	n.last.Store(r)
	return err
}

func (n *Node) verify(cert *x509.Certificate, nonce []byte) error {
	now := n.v.now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return fail(Expired, "the node's certificate is valid from %s to %s, not now (%s)",
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	key := cacheKey{cert: sha256.Sum256(cert.Raw), policy: n.policy}
	if nonce == nil && n.v.cached(key, now) {
		return nil
	}
	ev, err := readEvidence(cert)
	if err != nil {
		return err
	}
	switch n.spec.Type {
	case SEVSNP:
		err = n.verifySNP(cert, ev, nonce)
	case TDX:
		err = n.verifyTDX(cert, ev, nonce)
	case SGX:
		err = n.verifySGX(cert, ev, nonce)
	default:
		err = fail(Unsupported, "attestation type %q", n.spec.Type)
	}
	if err != nil {
		return err
	}
	if nonce == nil {
		until := now.Add(n.v.set.CacheTTL.D())
		if cert.NotAfter.Before(until) {
			until = cert.NotAfter
		}
		n.v.remember(key, until, now)
	}
	return nil
}

// matchMeasurement reports whether got is one of the node's measurements.
func (n *Node) matchMeasurement(got []byte) error {
	for _, m := range n.meas {
		if string(m) == string(got) {
			return nil
		}
	}
	return fail(Measurement, "the %s is %x, not one of the %d configured", measurementName(n.spec.Type), got, len(n.meas))
}

func (v *Verifier) cached(k cacheKey, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	until, ok := v.cache[k]
	return ok && now.Before(until)
}

func (v *Verifier) remember(k cacheKey, until, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= maxCache {
		for ck, u := range v.cache {
			if !now.Before(u) {
				delete(v.cache, ck)
			}
		}
		if len(v.cache) >= maxCache {
			clear(v.cache)
		}
	}
	v.cache[k] = until
}

// errUnsupportedSGX explains what an SGX node needs.
var errUnsupportedSGX = errors.New("SGX quotes are checked by a quote verification service and none is configured: set attestation.sgx_verifier.url and signing_certificate")
