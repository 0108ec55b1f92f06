package attest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/certfile"
)

// SGX report body offsets (Intel SGX sgx_report_body_t), after the quote
// header.
const (
	sgxBodySize       = 384
	sgxAttributesOff  = 48
	sgxMrEnclaveOff   = 64
	sgxMrSignerOff    = 128
	sgxISVProdIDOff   = 256
	sgxISVSVNOff      = 258
	sgxReportDataOff  = 320
	sgxFlagDebug      = 0x02
	qvsReportPath     = "/attestation/sgx/dcap/v1/report"
	maxVerifierAnswer = 1 << 20
)

// verifySGX checks an SGX quote: the quote's signatures, PCK chain and TCB
// by the configured quote verification service, whose signed report is
// checked here, then the binding, MRENCLAVE and the policy locally.
func (n *Node) verifySGX(cert *x509.Certificate, ev *evidence, nonce []byte) error {
	if ev.tag != TagIntelQuote {
		return fail(WrongType, "the node presents an SEV-SNP report, not an SGX quote: check attestation.type")
	}
	version, tee, ok := quoteTEE(ev.raw)
	if !ok || len(ev.raw) < quoteHeaderSize+sgxBodySize {
		return fail(Malformed, "the SGX quote is %d bytes, shorter than its header and report body", len(ev.raw))
	}
	if (version != 3 && version != 4) || tee != teeTypeSGX {
		return fail(WrongType, "the quote is not an SGX quote (version %d, TEE type %#x): check attestation.type", version, tee)
	}
	if n.v.sgx == nil {
		return &Error{Reason: Unsupported, Err: errUnsupportedSGX}
	}
	if err := n.v.sgx.verify(ev.raw, n.spec.Policy.AllowedStatuses); err != nil {
		return err
	}
	body := ev.raw[quoteHeaderSize : quoteHeaderSize+sgxBodySize]
	if err := ev.checkBinding(cert, body[sgxReportDataOff:sgxReportDataOff+64], nonce); err != nil {
		return err
	}
	if err := n.matchMeasurement(body[sgxMrEnclaveOff : sgxMrEnclaveOff+32]); err != nil {
		return err
	}
	return n.sgxPolicy(body)
}

func (n *Node) sgxPolicy(body []byte) error {
	p := n.spec.Policy
	if body[sgxAttributesOff]&sgxFlagDebug != 0 && !p.AllowDebug {
		return fail(PolicyField, "the enclave is a debug enclave: its memory is readable by the host; set policy.allow_debug only for tests")
	}
	if p.MrSigner != "" && !bytes.Equal(mustHex(p.MrSigner), body[sgxMrSignerOff:sgxMrSignerOff+32]) {
		return fail(PolicyField, "MRSIGNER is %x, policy.mr_signer is %s", body[sgxMrSignerOff:sgxMrSignerOff+32], p.MrSigner)
	}
	if id := binary.LittleEndian.Uint16(body[sgxISVProdIDOff:]); p.ISVProdID != nil && id != *p.ISVProdID {
		return fail(PolicyField, "ISVPRODID is %d, policy.isv_prod_id is %d", id, *p.ISVProdID)
	}
	if svn := binary.LittleEndian.Uint16(body[sgxISVSVNOff:]); svn < p.MinimumISVSVN {
		return fail(TCB, "ISVSVN %d is below policy.minimum_isv_svn %d", svn, p.MinimumISVSVN)
	}
	return nil
}

// qvsClient talks to a quote verification service with Intel's QVS API.
type qvsClient struct {
	url     string
	signer  *x509.Certificate
	client  *http.Client
	timeout time.Duration
}

func newQVSClient(c SGXVerifier) (*qvsClient, error) {
	signer, err := readCertificate("attestation.sgx_verifier.signing_certificate", c.SigningCertificate)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.CAFile != "" {
		pem, err := certfile.ReadFile("attestation.sgx_verifier.ca_file", c.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("attestation.sgx_verifier.ca_file: %s holds no PEM certificate", c.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &qvsClient{url: strings.TrimSuffix(c.URL, "/") + qvsReportPath, signer: signer,
		client: &http.Client{Transport: tr}, timeout: c.Timeout.D()}, nil
}

// readCertificate reads the PEM certificate in the file that key names.
func readCertificate(key, path string) (*x509.Certificate, error) {
	raw, err := certfile.ReadFile(key, path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: %s holds no PEM CERTIFICATE", key, path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", key, path, err)
	}
	return c, nil
}

// qvsReport is the part of the verifier's answer evmgate reads.
type qvsReport struct {
	Status string `json:"isvQuoteStatus"`
	Body   string `json:"isvQuoteBody"`
	Nonce  string `json:"nonce"`
}

// verify sends the quote to the service and checks its signed answer: the
// signature by the pinned certificate, the echoed nonce and quote body,
// and the status.
func (c *qvsClient) verify(quote []byte, allowed []string) error {
	nonceBytes := make([]byte, 16)
	_, _ = rand.Read(nonceBytes)
	nonce := hex.EncodeToString(nonceBytes)
	reqBody, _ := json.Marshal(map[string]string{"isvQuote": base64.StdEncoding.EncodeToString(quote), "nonce": nonce})
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(reqBody))
	if err != nil {
		return fail(Collateral, "SGX verifier: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fail(Collateral, "SGX verifier unreachable: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxVerifierAnswer))
	if err != nil {
		return fail(Collateral, "SGX verifier: reading its answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fail(Collateral, "SGX verifier answered HTTP %d: %s", resp.StatusCode, short(string(raw)))
	}
	sig, err := base64.StdEncoding.DecodeString(resp.Header.Get("X-IASReport-Signature"))
	if err != nil || len(sig) == 0 {
		return fail(Signature, "SGX verifier's answer has no base64 X-IASReport-Signature")
	}
	if err := checkReportSignature(c.signer, raw, sig); err != nil {
		return fail(Signature, "SGX verifier's answer is not signed by attestation.sgx_verifier.signing_certificate: %v", err)
	}
	var rep qvsReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fail(Malformed, "SGX verifier's answer is not its JSON report: %v", err)
	}
	body, err := base64.StdEncoding.DecodeString(rep.Body)
	if err != nil || !bytes.Equal(body, quote[:quoteHeaderSize+sgxBodySize]) {
		return fail(Signature, "SGX verifier's report is about another quote")
	}
	if rep.Nonce != nonce {
		return fail(Nonce, "SGX verifier's report answers another request (nonce %q, sent %q)", rep.Nonce, nonce)
	}
	return qvsStatus(rep.Status, allowed)
}

func qvsStatus(status string, allowed []string) error {
	if status == "OK" || slices.Contains(allowed, status) {
		return nil
	}
	switch {
	case status == "REVOKED" || strings.Contains(status, "REVOKED"):
		return fail(Revoked, "SGX verifier: quote status %s", status)
	case strings.Contains(status, "OUT_OF_DATE") || strings.Contains(status, "CONFIGURATION") || strings.Contains(status, "HARDENING"):
		return fail(TCB, "SGX verifier: quote status %s (add it to policy.allowed_statuses to accept it)", status)
	}
	return fail(Signature, "SGX verifier: quote status %s", status)
}

// checkReportSignature verifies the verifier's signature over its answer
// with the pinned certificate's key, by the algorithms QVS deployments use.
func checkReportSignature(cert *x509.Certificate, body, sig []byte) error {
	var algs []x509.SignatureAlgorithm
	switch cert.PublicKeyAlgorithm {
	case x509.RSA:
		algs = []x509.SignatureAlgorithm{x509.SHA384WithRSA, x509.SHA256WithRSA, x509.SHA512WithRSA}
	case x509.ECDSA:
		algs = []x509.SignatureAlgorithm{x509.ECDSAWithSHA384, x509.ECDSAWithSHA256, x509.ECDSAWithSHA512}
	default:
		return fmt.Errorf("key type %s is not supported", cert.PublicKeyAlgorithm)
	}
	var errs []error
	for _, a := range algs {
		err := cert.CheckSignature(a, body, sig)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
