package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"strings"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"
)

// Quote header fields shared by SGX (version 3) and TDX/SGX (version 4)
// quotes: the version at offset 0, the TEE type at offset 4 (reserved,
// zero, in version 3).
const (
	quoteHeaderSize = 48
	teeTypeSGX      = 0x00
	teeTypeTDX      = 0x81
)

func quoteTEE(raw []byte) (version uint16, tee uint32, ok bool) {
	if len(raw) < quoteHeaderSize {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint16(raw[0:]), binary.LittleEndian.Uint32(raw[4:]), true
}

// verifyTDX checks a TDX quote: the PCK chain to Intel's root, the quote
// and QE report signatures and Intel's collateral (go-tdx-guest), then the
// binding, MRTD and the policy.
func (n *Node) verifyTDX(cert *x509.Certificate, ev *evidence, nonce []byte) error {
	if ev.tag != TagIntelQuote {
		return fail(WrongType, "the node presents an SEV-SNP report, not a TDX quote: check attestation.type")
	}
	if _, tee, ok := quoteTEE(ev.raw); !ok || tee != teeTypeTDX {
		return fail(WrongType, "the quote is not a TDX quote (TEE type %#x): check attestation.type", tee)
	}
	q, err := abi.QuoteToProto(ev.raw)
	if err != nil {
		return fail(Malformed, "the TDX quote: %v", err)
	}
	quote, ok := q.(*pb.QuoteV4)
	if !ok {
		return fail(Unsupported, "TDX quote format %T is not supported (version 4 is)", q)
	}
	v := n.v
	opts := &verify.Options{Now: v.now(), TrustedRoots: v.opts.TDXRoots, Getter: v.opts.TDXGetter}
	if opts.Getter == nil {
		opts.Getter = tdxGetter{v.store}
	}
	if !v.opts.TDXNoCollateral {
		opts.GetCollateral = true
		opts.CheckRevocations = *v.set.CheckRevocations
	}
	if err := verify.TdxQuote(quote, opts); err != nil {
		return wrap(tdxReason(err), err)
	}
	body := quote.GetTdQuoteBody()
	if err := ev.checkBinding(cert, body.GetReportData(), nonce); err != nil {
		return err
	}
	if err := n.matchMeasurement(body.GetMrTd()); err != nil {
		return err
	}
	return n.tdxPolicy(body)
}

// tdxReason sorts go-tdx-guest's errors, which are plain text.
func tdxReason(err error) Reason {
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "revoked"):
		return Revoked
	case strings.Contains(msg, "could not receive") || strings.Contains(msg, "unable to receive") ||
		strings.Contains(msg, "collateral") || strings.Contains(msg, "crl has expired") || strings.Contains(msg, "has expired"):
		return Collateral
	case strings.Contains(msg, "tcb"):
		return TCB
	}
	return Signature
}

func (n *Node) tdxPolicy(body *pb.TDQuoteBody) error {
	p := n.spec.Policy
	if attrs := body.GetTdAttributes(); len(attrs) > 0 && attrs[0]&0x01 != 0 && !p.AllowDebug {
		return fail(PolicyField, "the TD runs in debug mode (TD_ATTRIBUTES.DEBUG): its memory is readable by the host; set policy.allow_debug only for tests")
	}
	if p.MinimumTeeTCBSVN != "" {
		min, got := mustHex(p.MinimumTeeTCBSVN), body.GetTeeTcbSvn()
		for i := range min {
			if i >= len(got) || got[i] < min[i] {
				return fail(TCB, "TEE_TCB_SVN %x is below policy.minimum_tee_tcb_svn %x", got, min)
			}
		}
	}
	for _, f := range []struct {
		name, want string
		got        []byte
	}{{"mr_config_id", p.MrConfigID, body.GetMrConfigId()}, {"mr_owner", p.MrOwner, body.GetMrOwner()}} {
		if f.want != "" && !bytes.Equal(mustHex(f.want), f.got) {
			return fail(PolicyField, "%s is %x, policy.%s is %s", strings.ToUpper(f.name), f.got, f.name, f.want)
		}
	}
	rtmrs := body.GetRtmrs()
	for i, want := range p.RTMRs {
		if want == "" {
			continue
		}
		if i >= len(rtmrs) || !bytes.Equal(mustHex(want), rtmrs[i]) {
			return fail(Measurement, "RTMR%d differs from policy.rtmrs[%d]", i, i)
		}
	}
	return nil
}
