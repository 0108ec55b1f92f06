package attest

import (
	"crypto/x509"
	"errors"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/validate"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
)

// verifySNP checks an SEV-SNP report: its signature up to AMD's root
// (go-sev-guest), the revocation of the chain, the binding to the
// certificate's key, the measurement and the policy.
func (n *Node) verifySNP(cert *x509.Certificate, ev *evidence, nonce []byte) error {
	if ev.tag != TagSEVSNP {
		return fail(WrongType, "the node presents an Intel quote, not an SEV-SNP report: check attestation.type")
	}
	report, err := abi.ReportToProto(ev.raw)
	if err != nil {
		return fail(Malformed, "the SEV-SNP report: %v", err)
	}
	att := &spb.Attestation{Report: report, CertificateChain: &spb.CertificateChain{Extras: map[string][]byte{}}}
	if ev.certTable != nil {
		var table abi.CertTable
		if err := table.Unmarshal(ev.certTable); err != nil {
			return fail(Malformed, "the SEV-SNP certificate table: %v", err)
		}
		att.CertificateChain = table.Proto()
	}
	v := n.v
	getter := v.opts.SNPGetter
	if getter == nil {
		getter = snpGetter{v.store}
	}
	opts := &verify.Options{Getter: getter, Now: v.now(), TrustedRoots: v.opts.SNPRoots}
	if err := verify.SnpAttestation(att, opts); err != nil {
		var rec *trust.AttestationRecreationErr
		var crl verify.CRLUnavailableErr
		if errors.As(err, &rec) || errors.As(err, &crl) {
			return wrap(Collateral, err)
		}
		return fail(Signature, "the SEV-SNP report does not verify up to AMD's root: %v", err)
	}
	if *v.set.CheckRevocations {
		if err := n.snpNotRevoked(att, getter); err != nil {
			return err
		}
	}
	if err := ev.checkBinding(cert, report.GetReportData(), nonce); err != nil {
		return err
	}
	if err := n.matchMeasurement(report.GetMeasurement()); err != nil {
		return err
	}
	return n.snpPolicy(att)
}

// snpNotRevoked checks the ASK and the VCEK against the CRL their ARK
// signs.
func (n *Node) snpNotRevoked(att *spb.Attestation, getter trust.HTTPSGetter) error {
	chain := att.GetCertificateChain()
	ark, err1 := x509.ParseCertificate(chain.GetArkCert())
	ask, err2 := x509.ParseCertificate(chain.GetAskCert())
	if err := errors.Join(err1, err2); err != nil {
		return fail(Malformed, "the AMD certificate chain: %v", err)
	}
	var endorsement *x509.Certificate
	if vcek := chain.GetVcekCert(); len(vcek) > 0 {
		endorsement, _ = x509.ParseCertificate(vcek)
	} else if vlek := chain.GetVlekCert(); len(vlek) > 0 {
		endorsement, _ = x509.ParseCertificate(vlek)
	}
	if len(ask.CRLDistributionPoints) == 0 {
		return fail(Collateral, "the ASK names no CRL to check revocation against")
	}
	var errs []error
	for _, url := range ask.CRLDistributionPoints {
		raw, err := getter.Get(url)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return checkCRL(raw, ark, n.v.now(), ask, endorsement)
	}
	return fail(Collateral, "the AMD CRL could not be had: %v", errors.Join(errs...))
}

func (n *Node) snpPolicy(att *spb.Attestation) error {
	p := n.spec.Policy
	opts := &validate.Options{
		GuestPolicy:               abi.SnpPolicy{SMT: true, CXLAllowed: true, Debug: p.AllowDebug},
		MinimumGuestSvn:           p.MinimumGuestSVN,
		PermitProvisionalFirmware: true,
	}
	if p.HostData != "" {
		opts.HostData = mustHex(p.HostData)
	}
	if err := validate.SnpAttestation(att, opts); err != nil {
		return fail(PolicyField, "the SEV-SNP report breaks the policy: %v", err)
	}
	if t := p.MinimumTCB; t != nil {
		opts.MinimumTCB = kds.TCBParts{BlSpl: t.Bootloader, TeeSpl: t.TEE, SnpSpl: t.SNP, UcodeSpl: t.Microcode}
		opts.MinimumLaunchTCB = opts.MinimumTCB
		if err := validate.SnpAttestation(att, opts); err != nil {
			return fail(TCB, "the SEV-SNP firmware is older than policy.minimum_tcb: %v", err)
		}
	}
	return nil
}
