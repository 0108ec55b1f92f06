package attest

import (
	"crypto/x509"
	"time"
)

// checkCRL verifies a DER CRL against its issuer and looks for the given
// certificates in it.
func checkCRL(raw []byte, issuer *x509.Certificate, now time.Time, certs ...*x509.Certificate) error {
	crl, err := x509.ParseRevocationList(raw)
	if err != nil {
		return fail(Collateral, "the CRL does not parse: %v", err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return fail(Signature, "the CRL is not signed by %s: %v", issuer.Subject.CommonName, err)
	}
	if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
		return fail(Collateral, "the CRL of %s expired at %s: fetch a fresh one", issuer.Subject.CommonName, crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	for _, c := range certs {
		if c == nil {
			continue
		}
		for _, bad := range crl.RevokedCertificateEntries {
			if bad.SerialNumber.Cmp(c.SerialNumber) == 0 {
				return fail(Revoked, "%s (serial %s) was revoked at %s", c.Subject.CommonName, c.SerialNumber, bad.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}
