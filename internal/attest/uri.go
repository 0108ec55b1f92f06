package attest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// prio-load-balancer's node URIs name the TEE in the URL's user name:
//
//	https://SGX_<hex MRENCLAVE>@host:port
//	https://SEV_<base64url(gzip(JSON measurements))>@host:port
//
// The user name is never sent to the node: it is configuration, not a
// credential.
const (
	sgxPrefix = "SGX_"
	sevPrefix = "SEV_"
	// maxMeasurementsJSON bounds the decompressed SEV_ document.
	maxMeasurementsJSON = 64 << 10
)

// FromURI reads the attestation a prio-load-balancer node URI carries. It
// returns the URI without its user info (the URL to dial), and nil when the
// URI names no TEE.
func FromURI(raw string) (clean string, spec *Spec, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw, nil, nil
	}
	name := u.User.Username()
	if !strings.HasPrefix(name, sgxPrefix) && !strings.HasPrefix(name, sevPrefix) {
		return raw, nil, nil
	}
	if _, has := u.User.Password(); has {
		return "", nil, errors.New("an attested node URI (SEV_...@ or SGX_...@) takes no password after the user name")
	}
	if u.Scheme != "https" && u.Scheme != "wss" {
		return "", nil, fmt.Errorf("an attested node is reached over TLS: write https://%s...@%s", name[:4], u.Host)
	}
	if strings.HasPrefix(name, sgxPrefix) {
		spec, err = sgxFromUserinfo(strings.TrimPrefix(name, sgxPrefix))
	} else {
		spec, err = sevFromUserinfo(strings.TrimPrefix(name, sevPrefix))
	}
	if err != nil {
		return "", nil, err
	}
	return stripUserinfo(raw), spec, nil
}

// stripUserinfo removes "user@" from a URL's authority, leaving every other
// byte as written.
func stripUserinfo(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	return scheme + "://" + rest[at+1:]
}

func sgxFromUserinfo(h string) (*Spec, error) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return nil, errors.New("SGX_…@: after SGX_ comes the enclave's MRENCLAVE, 64 hex digits")
	}
	return &Spec{Type: SGX, Measurements: []string{hex.EncodeToString(b)}}, nil
}

// sevFromUserinfo decodes base64url (padded as prio-load-balancer writes
// it, or unpadded), then gzip, then the JSON document.
func sevFromUserinfo(enc string) (*Spec, error) {
	gz, err := base64.URLEncoding.DecodeString(enc)
	if err != nil {
		gz, err = base64.RawURLEncoding.DecodeString(enc)
	}
	if err != nil {
		return nil, fmt.Errorf("SEV_…@: after SEV_ comes base64url of the gzipped JSON measurements: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("SEV_…@: the base64url value is not gzip data: %v", err)
	}
	doc, err := io.ReadAll(io.LimitReader(zr, maxMeasurementsJSON+1))
	if err != nil {
		return nil, fmt.Errorf("SEV_…@: reading the gzip data: %v", err)
	}
	if len(doc) > maxMeasurementsJSON {
		return nil, fmt.Errorf("SEV_…@: the measurements document is over %d bytes", maxMeasurementsJSON)
	}
	return sevFromJSON(doc)
}

// sevFromJSON reads the SEV_ document: a list of launch measurements, or
// an object like the attestation: key (measurements, nonce, policy).
func sevFromJSON(doc []byte) (*Spec, error) {
	doc = bytes.TrimSpace(doc)
	var list []string
	if err := json.Unmarshal(doc, &list); err == nil {
		return &Spec{Type: SEVSNP, Measurements: list}, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(doc, &probe); err != nil {
		return nil, fmt.Errorf("SEV_ measurements: the JSON is neither a list of hex measurements nor an object: %v", err)
	}
	if _, ok := probe["measurements"]; !ok {
		if pcrMap(probe) {
			return nil, errors.New("SEV_ measurements: this JSON maps vTPM PCR indexes to values (an Azure confidential VM's measurements); " +
				"evmgate checks the SEV-SNP launch measurement itself: encode [\"<96 hex digits>\"] instead, or use the node's attestation: key")
		}
		return nil, errors.New("SEV_ measurements: the JSON object has no \"measurements\" list")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("SEV_ measurements: %v", err)
	}
	if s.Type != "" && s.Type != SEVSNP {
		return nil, fmt.Errorf("SEV_ measurements: type is %q, SEV_ means sev-snp", s.Type)
	}
	s.Type = SEVSNP
	return &s, nil
}

// pcrMap reports whether every key of a JSON object is a register index.
func pcrMap(m map[string]json.RawMessage) bool {
	for k := range m {
		if k == "" || strings.Trim(k, "0123456789") != "" {
			return false
		}
	}
	return len(m) > 0
}

// SEVUserinfo encodes a document for prio-load-balancer's SEV_ user name:
// base64url (padded) of gzip of the JSON. doc is a list of hex launch
// measurements or a Spec.
func SEVUserinfo(doc any) (string, error) {
	js, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(js); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return sevPrefix + base64.URLEncoding.EncodeToString(buf.Bytes()), nil
}
