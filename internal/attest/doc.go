// Package attest verifies that an upstream node runs inside a trusted
// execution environment (AMD SEV-SNP, Intel TDX or Intel SGX) before a byte
// of a call is sent to it.
//
// It sits in the node's TLS handshake: package upstream (HTTP) and package
// ws (WebSocket) dial attested nodes with the tls.Config that Node.ClientConfig
// returns, whose VerifyConnection hook reads the attestation evidence from
// the certificate the node presents and checks it. The conventions are
// those of attested TLS (RA-TLS):
//
//   - The evidence is an X.509 extension of the node's leaf certificate:
//     either interoperable RA-TLS (OID 2.23.133.5.4.9, a CBOR-tagged array
//     of the hardware report and a claims map holding the hash of the
//     certificate's public key and an optional nonce; the report's data
//     field holds SHA-256 of the claims), or Gramine's RA-TLS for SGX
//     (OID 1.2.840.113741.1337.6, the raw quote; the report data holds
//     SHA-256 of the public key).
//   - With nonce, each connection sends a fresh random nonce as the TLS
//     server name "<32 hex digits>.nonce.invalid" and the node must answer
//     with a certificate whose claims carry that nonce.
//
// SEV-SNP reports are checked with github.com/google/go-sev-guest (VCEK/VLEK
// chain to AMD's roots, the report signature, policy and TCB), TDX quotes
// with github.com/google/go-tdx-guest (PCK chain to Intel's root, the quote
// and QE report signatures, and Intel's collateral), SGX quotes by a remote
// quote verification service (Intel QVS API) whose signed answer is checked
// here. Collateral (VCEK, CRLs, TCB info) comes from AMD's and Intel's
// services or from a directory on disk. Successful verifications are cached
// per certificate and policy.
package attest
