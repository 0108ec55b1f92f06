// Package attesttest makes attested TLS certificates for tests: SEV-SNP
// reports signed by a test-only AMD key chain (go-sev-guest's fake
// signer), TDX quotes signed by a test-only Intel PCK chain, SGX quotes
// and a quote verification service that judges them, and TLS servers on
// 127.0.0.1 that present such certificates. Nothing here is trusted by a
// verifier unless a test passes the matching attest.Options.
package attesttest
