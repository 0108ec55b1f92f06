package attest

import (
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/evmgate/evmgate/internal/certfile"
	"github.com/google/go-sev-guest/verify/trust"
)

// loadRoots reads attestation.amd_roots and intel_root, unless the options
// already set roots.
func (v *Verifier) loadRoots() error {
	if v.set.AMDRoots != "" && v.opts.SNPRoots == nil {
		raw, err := certfile.ReadFile("attestation.amd_roots", v.set.AMDRoots)
		if err != nil {
			return err
		}
		pc := &trust.ProductCerts{}
		if err := pc.FromKDSCertBytes(raw); err != nil {
			return fmt.Errorf("attestation.amd_roots: %s is not an ASK and ARK in PEM (AMD's cert_chain): %w", v.set.AMDRoots, err)
		}
		line, ok := strings.CutPrefix(pc.Ark.Subject.CommonName, "ARK-")
		if !ok {
			return fmt.Errorf("attestation.amd_roots: the ARK's common name %q does not name a product line (ARK-Milan, ARK-Genoa, ...)", pc.Ark.Subject.CommonName)
		}
		r := trust.AMDRootCertsProduct(line)
		r.ProductCerts = pc
		v.opts.SNPRoots = map[string][]*trust.AMDRootCerts{line: {r}}
	}
	if v.set.IntelRoot != "" && v.opts.TDXRoots == nil {
		raw, err := certfile.ReadFile("attestation.intel_root", v.set.IntelRoot)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(raw) {
			return fmt.Errorf("attestation.intel_root: %s holds no PEM certificate", v.set.IntelRoot)
		}
		v.opts.TDXRoots = pool
	}
	if v.opts.TDXRoots == nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(intelSGXRootCA))
		v.opts.TDXRoots = pool
	}
	return nil
}
