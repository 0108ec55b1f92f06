package config

import (
	"strings"

	"github.com/evmgate/evmgate/internal/attest"
)

// AttestationOf returns a node's attestation, from its attestation: key or
// from a prio-load-balancer URI (SEV_...@ or SGX_...@ in rpc_endpoint or
// ws_endpoint), with the URLs to dial (without that user info). spec is nil
// for a node that is not attested.
func (nd *Node) AttestationOf() (spec *attest.Spec, rpcURL, wsURL string, err error) {
	rpcURL, fromRPC, err := attest.FromURI(nd.RPCEndpoint)
	if err != nil {
		return nil, "", "", errorString("rpc_endpoint: " + err.Error())
	}
	wsURL, fromWS, err := attest.FromURI(nd.WSEndpoint)
	if err != nil {
		return nil, "", "", errorString("ws_endpoint: " + err.Error())
	}
	n := 0
	for _, s := range []*attest.Spec{nd.Attestation, fromRPC, fromWS} {
		if s != nil {
			spec = s
			n++
		}
	}
	if n > 1 {
		return nil, "", "", errorString("the attestation is given more than once (attestation:, SEV_/SGX_ in rpc_endpoint or ws_endpoint): keep one")
	}
	return spec, rpcURL, wsURL, nil
}

// validateAttestation checks an attested node: its attestation, and that
// its endpoints are TLS ones.
func (nd *Node) validateAttestation(path string, p *problems) {
	spec, rpcURL, wsURL, err := nd.AttestationOf()
	if err != nil {
		p.add(path, "%v", err)
		return
	}
	if spec == nil {
		return
	}
	if err := spec.Validate(path + ".attestation"); err != nil {
		*p = append(*p, strings.Split(err.Error(), "\n")...)
	}
	if !strings.HasPrefix(rpcURL, "https://") {
		p.add(path+".rpc_endpoint", "an attested node is reached over TLS, whose certificate carries the attestation: write https://")
	}
	if wsURL != "" && !strings.HasPrefix(wsURL, "wss://") {
		p.add(path+".ws_endpoint", "an attested node is reached over TLS: write wss://")
	}
}
