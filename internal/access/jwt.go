package access

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/certfile"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/golang-jwt/jwt/v5"
)

// verifier checks tokens against the configured keys. It is built with
// the access configuration (at start and on every reload, which reads the
// key files again) and holds everything a token is checked with: the
// parser with its options and, per algorithm, the key or key set to try,
// ready to hand to the parser as they are.
type verifier struct {
	hmac   []byte
	public []crypto.PublicKey          // from PEM files: tried in turn
	byKID  map[string]crypto.PublicKey // from the JWKS file
	parser *jwt.Parser
	leeway time.Duration

	hs256 any // the HMAC secret; nil without one
	rs256 any // the RS256 keys as a jwt.VerificationKeySet; nil: none
	es256 any // the ES256 keys, the same
}

// claims are a token's settings: the same as a key's.
type claims struct {
	jwt.RegisteredClaims
	Name        string         `json:"name"`
	Networks    []string       `json:"networks"`
	Methods     MethodPolicy   `json:"methods"`
	Class       string         `json:"class"`
	Limit       Limit          `json:"limit"`
	DailyQuota  int64          `json:"daily_quota"`
	Costs       map[string]int `json:"costs"`
	CORSOrigins []string       `json:"cors_origins"`
}

func newVerifier(c JWTConfig) (*verifier, error) {
	v := &verifier{byKID: map[string]crypto.PublicKey{}}
	var methods []string
	if c.HMACSecretFile != "" {
		b, err := certfile.ReadFile("access.jwt.hmac_secret_file", c.HMACSecretFile)
		if err != nil {
			return nil, err
		}
		v.hmac = []byte(strings.TrimSpace(string(b)))
		if len(v.hmac) < 32 {
			return nil, fmt.Errorf("access.jwt.hmac_secret_file: the secret is %d bytes: use at least 32 (e.g. openssl rand -hex 32)", len(v.hmac))
		}
		methods = append(methods, "HS256")
	}
	for i, f := range c.PublicKeyFiles {
		key := fmt.Sprintf("access.jwt.public_key_files[%d]", i)
		b, err := certfile.ReadFile(key, f)
		if err != nil {
			return nil, err
		}
		k, err := parsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		v.public = append(v.public, k)
	}
	if c.JWKSFile != "" {
		b, err := certfile.ReadFile("access.jwt.jwks_file", c.JWKSFile)
		if err != nil {
			return nil, err
		}
		if v.byKID, err = parseJWKS(b); err != nil {
			return nil, fmt.Errorf("access.jwt.jwks_file: %w", err)
		}
	}
	if len(v.public) > 0 || len(v.byKID) > 0 {
		methods = append(methods, "RS256", "ES256")
	}
	leeway, _ := time.ParseDuration(c.Leeway)
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithLeeway(leeway), jwt.WithExpirationRequired()}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	if c.Audience != "" {
		opts = append(opts, jwt.WithAudience(c.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	v.leeway = leeway
	if v.hmac != nil {
		v.hs256 = v.hmac
	}
	v.rs256, v.es256 = v.keySet("RS256"), v.keySet("ES256")
	return v, nil
}

// keySet gathers the keys tried for a token of alg that names no known
// kid: the PEM keys of its kind, else the JWKS keys of its kind (in kid
// order). nil when there are none.
func (v *verifier) keySet(alg string) any {
	var set jwt.VerificationKeySet
	for _, k := range v.public {
		if keyFits(alg, k) {
			set.Keys = append(set.Keys, k)
		}
	}
	if len(set.Keys) == 0 {
		for _, kid := range slices.Sorted(maps.Keys(v.byKID)) {
			if k := v.byKID[kid]; keyFits(alg, k) {
				set.Keys = append(set.Keys, k)
			}
		}
	}
	if len(set.Keys) == 0 {
		return nil
	}
	return set
}

func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }

// verify checks a token and returns the key its claims describe.
func (v *verifier) verify(token string) (*Key, *jsonrpc.Error) {
	var cl claims
	_, err := v.parser.ParseWithClaims(token, &cl, v.keyFor)
	if err != nil {
		return nil, tokenError(err)
	}
	name := cl.Name
	if name == "" {
		name = cl.Subject
	}
	if name == "" {
		return nil, jsonrpc.NewError(jsonrpc.CodeUnauthorized, errBadToken+"it has neither sub nor name")
	}
	spec := KeySpec{Name: name, Networks: cl.Networks, Methods: cl.Methods, Class: cl.Class,
		Limit: cl.Limit, DailyQuota: cl.DailyQuota, Costs: cl.Costs, CORSOrigins: cl.CORSOrigins}
	if e := spec.Limit.validate(); e != "" {
		return nil, jsonrpc.NewError(jsonrpc.CodeUnauthorized, errBadToken+"claim limit: "+e)
	}
	k, err := compile(spec, "t:")
	if err != nil {
		return nil, jsonrpc.NewError(jsonrpc.CodeUnauthorized, errBadToken+"claim class: use fast_track, high or low")
	}
	if cl.ExpiresAt != nil { // required: the parser refuses a token without
		k.expires = cl.ExpiresAt.Add(v.leeway) // when a connection it opened stops
	}
	return k, nil
}

// keyFor picks the verification key for a token's algorithm and kid.
func (v *verifier) keyFor(t *jwt.Token) (any, error) {
	var set any
	switch t.Method.Alg() {
	case "HS256":
		return v.hs256, nil
	case "RS256":
		set = v.rs256
	case "ES256":
		set = v.es256
	}
	if kid, _ := t.Header["kid"].(string); kid != "" {
		if k, ok := v.byKID[kid]; ok {
			return k, nil
		}
	}
	if set == nil {
		return nil, errNoJWTKey
	}
	return set, nil
}

var errNoJWTKey = errors.New("no key for the token's algorithm")

func keyFits(alg string, k crypto.PublicKey) bool {
	switch k.(type) {
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256"
	}
	return false
}

// tokenError names what is wrong with a token, never the token.
func tokenError(err error) *jsonrpc.Error {
	why := "it does not verify"
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		why = "it is malformed"
	case errors.Is(err, jwt.ErrTokenExpired):
		why = "it expired (exp)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		why = "it has no exp claim"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		why = "it is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		why = "its audience (aud) is not this gateway's"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		why = "its issuer (iss) is not the expected one"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		why = "its signature does not verify with the configured keys (algorithms HS256, RS256, ES256)"
	}
	return jsonrpc.NewError(jsonrpc.CodeUnauthorized, errBadToken+why)
}

func parsePublicKey(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block: give a PEM public key (-----BEGIN PUBLIC KEY-----)")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		if rk, err2 := x509.ParsePKCS1PublicKey(blk.Bytes); err2 == nil {
			return rk, nil
		}
		return nil, fmt.Errorf("not a public key: %w", err)
	}
	if !keyFits("RS256", k) && !keyFits("ES256", k) {
		return nil, errors.New("not an RSA or ECDSA key")
	}
	return k, nil
}

// jwk is one key of a JWKS.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads the RSA and P-256 keys of a JSON Web Key Set by kid.
func parseJWKS(b []byte) (map[string]crypto.PublicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	out := map[string]crypto.PublicKey{}
	for i, k := range set.Keys {
		pk, err := k.public()
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		if pk == nil {
			continue // another kind of key: not ours to use
		}
		kid := k.Kid
		if kid == "" {
			kid = fmt.Sprintf("#%d", i)
		}
		out[kid] = pk
	}
	if len(out) == 0 {
		return nil, errors.New("holds no RSA or P-256 key")
	}
	return out, nil
}

func (k *jwk) public() (crypto.PublicKey, error) {
	dec := base64.RawURLEncoding.DecodeString
	switch k.Kty {
	case "RSA":
		n, err1 := dec(k.N)
		e, err2 := dec(k.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("RSA key with a bad n or e")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, nil
		}
		x, err1 := dec(k.X)
		y, err2 := dec(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("P-256 key with a bad x or y")
		}
		raw := append(append([]byte{4}, x...), y...)
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, errors.New("P-256 key whose point is not on the curve")
		}
		return pk, nil
	}
	return nil, nil
}
