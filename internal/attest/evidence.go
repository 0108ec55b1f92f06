package attest

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"hash"

	"github.com/fxamacker/cbor/v2"
)

// Certificate extensions that carry evidence.
var (
	// OIDEvidence is tcg-dice-tagged-evidence, used by interoperable RA-TLS.
	OIDEvidence = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 9}
	// OIDEndorsements is tcg-dice-endorsement-manifest: certificates that
	// endorse the evidence (for SEV-SNP, the VCEK chain).
	OIDEndorsements = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 2}
	// OIDGramineQuote is Gramine's RA-TLS extension holding a raw SGX quote.
	OIDGramineQuote = asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 6}
)

// CBOR tags of interoperable RA-TLS evidence.
const (
	TagIntelQuote = 0x1a7501 // SGX or TDX ECDSA quote; the quote header names the TEE
	TagSEVSNP     = 0x1a7504 // SEV-SNP attestation report
)

// Claim names and hash algorithm ids (IANA Named Information registry).
const (
	claimPubkeyHash = "pubkey-hash"
	claimNonce      = "nonce"
	hashSHA256      = 1
	hashSHA384      = 7
	hashSHA512      = 8
)

// evidence is what a certificate carries.
type evidence struct {
	tag       uint64 // TagIntelQuote or TagSEVSNP
	raw       []byte // the report or quote
	claims    []byte // the claims buffer; nil for Gramine's format
	certTable []byte // SEV-SNP endorsements: the extended report's certificate table
}

var decMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF, MaxArrayElements: 16, MaxMapPairs: 16, MaxNestedLevels: 8}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

type taggedPair struct {
	_      struct{} `cbor:",toarray"`
	First  []byte
	Second []byte
}

// readEvidence finds and decodes the evidence extension of cert.
func readEvidence(cert *x509.Certificate) (*evidence, error) {
	var ev *evidence
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(OIDEvidence):
			var rt cbor.RawTag
			if err := decMode.Unmarshal(ext.Value, &rt); err != nil {
				return nil, fail(Malformed, "the evidence extension is not tagged CBOR: %v", err)
			}
			var p taggedPair
			if err := decMode.Unmarshal(rt.Content, &p); err != nil {
				return nil, fail(Malformed, "the evidence is not a [report, claims] pair: %v", err)
			}
			ev = &evidence{tag: rt.Number, raw: p.First, claims: p.Second}
		case ext.Id.Equal(OIDGramineQuote) && ev == nil:
			ev = &evidence{tag: TagIntelQuote, raw: ext.Value}
		}
	}
	if ev == nil {
		return nil, fail(NoEvidence, "the node's certificate carries no attestation (no extension %s or %s): is its TLS served from inside the TEE?", OIDEvidence, OIDGramineQuote)
	}
	if ev.tag != TagIntelQuote && ev.tag != TagSEVSNP {
		return nil, fail(Unsupported, "evidence CBOR tag %#x is not one evmgate verifies (%#x Intel quote, %#x SEV-SNP report)", ev.tag, TagIntelQuote, TagSEVSNP)
	}
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(OIDEndorsements) && ev.tag == TagSEVSNP {
			var rt cbor.RawTag
			var table []byte
			if decMode.Unmarshal(ext.Value, &rt) != nil || rt.Number != TagSEVSNP || decMode.Unmarshal(rt.Content, &table) != nil {
				return nil, fail(Malformed, "the endorsements extension is not a CBOR tag %#x over the SEV-SNP certificate table", TagSEVSNP)
			}
			ev.certTable = table
		}
	}
	return ev, nil
}

// checkBinding checks that reportData binds the report to cert's public
// key, and to nonce when one was sent.
func (ev *evidence) checkBinding(cert *x509.Certificate, reportData []byte, nonce []byte) error {
	spki := cert.RawSubjectPublicKeyInfo
	if ev.claims == nil { // Gramine: SHA-256 of the public key in the first half
		want := sha256.Sum256(spki)
		if len(reportData) < 32 || subtle.ConstantTimeCompare(reportData[:32], want[:]) != 1 {
			return fail(KeyBinding, "the report data is not SHA-256 of the certificate's public key: the report belongs to another key")
		}
		if nonce != nil {
			return fail(Nonce, "the certificate carries no nonce claim (Gramine RA-TLS certificates are static): set attestation.nonce: false for this node")
		}
		return nil
	}
	sum := sha256.Sum256(ev.claims)
	if len(reportData) < 32 || subtle.ConstantTimeCompare(reportData[:32], sum[:]) != 1 {
		return fail(KeyBinding, "the report data is not SHA-256 of the certificate's claims: the report was made for other claims")
	}
	var claims map[string][]byte
	if err := decMode.Unmarshal(ev.claims, &claims); err != nil {
		return fail(Malformed, "the claims are not a CBOR map of byte strings: %v", err)
	}
	ph, ok := claims[claimPubkeyHash]
	if !ok {
		return fail(KeyBinding, "the claims hold no %q", claimPubkeyHash)
	}
	var entry struct {
		_    struct{} `cbor:",toarray"`
		Alg  uint64
		Hash []byte
	}
	if err := decMode.Unmarshal(ph, &entry); err != nil {
		return fail(Malformed, "the %q claim is not a [alg, hash] pair: %v", claimPubkeyHash, err)
	}
	h := hashOf(entry.Alg)
	if h == nil {
		return fail(Unsupported, "the %q claim uses hash algorithm %d: sha-256 (1), sha-384 (7) and sha-512 (8) are supported", claimPubkeyHash, entry.Alg)
	}
	h.Write(spki)
	if subtle.ConstantTimeCompare(h.Sum(nil), entry.Hash) != 1 {
		return fail(KeyBinding, "the %q claim is not the hash of the certificate's public key: the report belongs to another key", claimPubkeyHash)
	}
	if nonce != nil {
		got, ok := claims[claimNonce]
		switch {
		case !ok:
			return fail(Nonce, "the certificate carries no nonce: the node does not answer the nonce sent as TLS server name")
		case !bytes.Equal(got, nonce):
			return fail(Nonce, "the report was made for another nonce (%x, sent %x): a replayed or stale certificate", got, nonce)
		}
	}
	return nil
}

func hashOf(alg uint64) hash.Hash {
	switch alg {
	case hashSHA256:
		return sha256.New()
	case hashSHA384:
		return sha512.New384()
	case hashSHA512:
		return sha512.New()
	}
	return nil
}

// Claims returns the claims buffer of interoperable RA-TLS for a public key
// (DER SubjectPublicKeyInfo) and an optional nonce, and the 64-byte report
// data that binds a report to them. A node builds its certificate with it.
func Claims(spki, nonce []byte) (claims []byte, reportData [64]byte, err error) {
	sum := sha256.Sum256(spki)
	ph, err := cbor.Marshal([]any{uint64(hashSHA256), sum[:]})
	if err != nil {
		return nil, reportData, err
	}
	m := map[string][]byte{claimPubkeyHash: ph}
	if nonce != nil {
		m[claimNonce] = nonce
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, reportData, err
	}
	claims, err = em.Marshal(m)
	if err != nil {
		return nil, reportData, err
	}
	rd := sha256.Sum256(claims)
	copy(reportData[:], rd[:])
	return claims, reportData, nil
}

// EvidenceExtensionValue encodes the evidence extension's value:
// tag([report, claims]).
func EvidenceExtensionValue(tag uint64, report, claims []byte) ([]byte, error) {
	return cbor.Marshal(cbor.Tag{Number: tag, Content: []any{report, claims}})
}

// EndorsementsExtensionValue encodes the SEV-SNP endorsements extension's
// value: tag(certificate table).
func EndorsementsExtensionValue(certTable []byte) ([]byte, error) {
	return cbor.Marshal(cbor.Tag{Number: TagSEVSNP, Content: certTable})
}
