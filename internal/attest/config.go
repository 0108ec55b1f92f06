package attest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/yamlvalue"
)

// Type is a trusted execution environment.
type Type string

// The TEEs a node may run in.
const (
	SEVSNP Type = "sev-snp"
	TDX    Type = "tdx"
	SGX    Type = "sgx"
)

// Types lists the accepted values of attestation.type.
var Types = []Type{SEVSNP, TDX, SGX}

// measurementSize is the size of the measurement each TEE reports: the
// SEV-SNP launch MEASUREMENT, the TDX MRTD, the SGX MRENCLAVE.
func (t Type) measurementSize() int {
	if t == SGX {
		return 32
	}
	return 48
}

// Spec is a node's attestation: the attestation: key of a node, or what a
// prio-load-balancer URI (SEV_..., SGX_...@host) carries.
type Spec struct {
	// Type is sev-snp, tdx or sgx.
	Type Type `yaml:"type" json:"type"`
	// Measurements are the accepted measurements in hex: SEV-SNP launch
	// MEASUREMENT or TDX MRTD (48 bytes), SGX MRENCLAVE (32 bytes). The
	// node passes when its measurement is any one of them.
	Measurements []string `yaml:"measurements" json:"measurements"`
	// Nonce asks for a fresh report on every connection: the gateway sends
	// a random nonce as the TLS server name and the node's certificate must
	// carry it. Off by default (the node's certificate may then be static,
	// as Gramine's RA-TLS ones are).
	Nonce bool `yaml:"nonce" json:"nonce,omitempty"`
	// Policy constrains the report's other fields.
	Policy Policy `yaml:"policy" json:"policy,omitzero"`
}

// Policy holds the checks beyond the measurement. Keys that do not apply
// to the node's type are refused.
type Policy struct {
	// AllowDebug accepts a TEE launched in debug mode (its memory can be
	// read by the host). Default false. All types.
	AllowDebug bool `yaml:"allow_debug" json:"allow_debug,omitempty"`

	// MinimumTCB is the lowest SEV-SNP reported TCB, per component.
	MinimumTCB *SNPTCB `yaml:"minimum_tcb" json:"minimum_tcb,omitempty"`
	// MinimumGuestSVN is the lowest SEV-SNP guest SVN.
	MinimumGuestSVN uint32 `yaml:"minimum_guest_svn" json:"minimum_guest_svn,omitempty"`
	// HostData is the SEV-SNP HOST_DATA (32 bytes hex) the node must report.
	HostData string `yaml:"host_data" json:"host_data,omitempty"`

	// RTMRs are the TDX runtime measurement registers 0-3 (48 bytes hex
	// each); an empty entry is not checked.
	RTMRs []string `yaml:"rtmrs" json:"rtmrs,omitempty"`
	// MrConfigID and MrOwner are the TDX MRCONFIGID and MROWNER (48 bytes hex).
	MrConfigID string `yaml:"mr_config_id" json:"mr_config_id,omitempty"`
	MrOwner    string `yaml:"mr_owner" json:"mr_owner,omitempty"`
	// MinimumTeeTCBSVN is the lowest TDX TEE_TCB_SVN (16 bytes hex), per byte.
	MinimumTeeTCBSVN string `yaml:"minimum_tee_tcb_svn" json:"minimum_tee_tcb_svn,omitempty"`

	// MrSigner is the SGX MRSIGNER (32 bytes hex) the enclave must be signed by.
	MrSigner string `yaml:"mr_signer" json:"mr_signer,omitempty"`
	// ISVProdID is the SGX ISVPRODID the enclave must have (when set).
	ISVProdID *uint16 `yaml:"isv_prod_id" json:"isv_prod_id,omitempty"`
	// MinimumISVSVN is the lowest SGX ISVSVN.
	MinimumISVSVN uint16 `yaml:"minimum_isv_svn" json:"minimum_isv_svn,omitempty"`
	// AllowedStatuses are the SGX verifier statuses accepted besides OK,
	// e.g. SW_HARDENING_NEEDED.
	AllowedStatuses []string `yaml:"allowed_statuses" json:"allowed_statuses,omitempty"`
}

// SNPTCB is an SEV-SNP TCB version, per component.
type SNPTCB struct {
	Bootloader uint8 `yaml:"bootloader" json:"bootloader"`
	TEE        uint8 `yaml:"tee" json:"tee"`
	SNP        uint8 `yaml:"snp" json:"snp"`
	Microcode  uint8 `yaml:"microcode" json:"microcode"`
}

// Validate checks a node's attestation; path is its key path for messages.
func (s *Spec) Validate(path string) error {
	var errs []string
	add := func(key, format string, args ...any) {
		errs = append(errs, path+"."+key+": "+fmt.Sprintf(format, args...))
	}
	if !slices.Contains(Types, s.Type) {
		add("type", "%q is not a TEE: use sev-snp, tdx or sgx", s.Type)
		return errors.New(strings.Join(errs, "\n"))
	}
	if len(s.Measurements) == 0 {
		add("measurements", "list at least one %d-byte hex measurement (%s)", s.Type.measurementSize(), measurementName(s.Type))
	}
	for i, m := range s.Measurements {
		if err := checkHex(m, s.Type.measurementSize()); err != nil {
			add(fmt.Sprintf("measurements[%d]", i), "%v: a %s is %d bytes, %d hex digits", err, measurementName(s.Type), s.Type.measurementSize(), 2*s.Type.measurementSize())
		}
	}
	s.Policy.validate(s.Type, func(key, format string, args ...any) { add("policy."+key, format, args...) })
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "\n"))
}

func measurementName(t Type) string {
	switch t {
	case SEVSNP:
		return "SEV-SNP launch measurement"
	case TDX:
		return "TDX MRTD"
	}
	return "SGX MRENCLAVE"
}

func (p *Policy) validate(t Type, add func(key, format string, args ...any)) {
	only := func(key string, set bool, want Type) {
		if set && t != want {
			add(key, "applies to %s nodes only, this node is %s: remove it", want, t)
		}
	}
	only("minimum_tcb", p.MinimumTCB != nil, SEVSNP)
	only("minimum_guest_svn", p.MinimumGuestSVN != 0, SEVSNP)
	only("host_data", p.HostData != "", SEVSNP)
	only("rtmrs", len(p.RTMRs) > 0, TDX)
	only("mr_config_id", p.MrConfigID != "", TDX)
	only("mr_owner", p.MrOwner != "", TDX)
	only("minimum_tee_tcb_svn", p.MinimumTeeTCBSVN != "", TDX)
	only("mr_signer", p.MrSigner != "", SGX)
	only("isv_prod_id", p.ISVProdID != nil, SGX)
	only("minimum_isv_svn", p.MinimumISVSVN != 0, SGX)
	only("allowed_statuses", len(p.AllowedStatuses) > 0, SGX)
	for _, f := range []struct {
		key, v string
		size   int
	}{{"host_data", p.HostData, 32}, {"mr_config_id", p.MrConfigID, 48}, {"mr_owner", p.MrOwner, 48},
		{"minimum_tee_tcb_svn", p.MinimumTeeTCBSVN, 16}, {"mr_signer", p.MrSigner, 32}} {
		if f.v == "" {
			continue
		}
		if err := checkHex(f.v, f.size); err != nil {
			add(f.key, "%v: write %d hex digits", err, 2*f.size)
		}
	}
	if len(p.RTMRs) > 4 {
		add("rtmrs", "TDX has 4 RTMRs, %d are listed", len(p.RTMRs))
	}
	for i, r := range p.RTMRs {
		if r == "" {
			continue
		}
		if err := checkHex(r, 48); err != nil {
			add(fmt.Sprintf("rtmrs[%d]", i), "%v: write 96 hex digits, or \"\" to leave it unchecked", err)
		}
	}
	for i, s := range p.AllowedStatuses {
		if s == "" || strings.ToUpper(s) != s {
			add(fmt.Sprintf("allowed_statuses[%d]", i), "%q is not a verifier status: write it in capitals, e.g. SW_HARDENING_NEEDED", s)
		}
	}
}

func checkHex(s string, size int) error {
	b, err := decodeHex(s)
	if err != nil {
		return fmt.Errorf("%q is not hex", short(s))
	}
	if len(b) != size {
		return fmt.Errorf("%q is %d bytes, not %d", short(s), len(b), size)
	}
	return nil
}

func decodeHex(s string) ([]byte, error) {
	return hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
}

func mustHex(s string) []byte {
	b, _ := decodeHex(s)
	return b
}

func short(s string) string {
	if len(s) > 24 {
		return s[:20] + "…"
	}
	return s
}

// Settings is the attestation: section of the configuration: where
// collateral comes from and how results are kept.
type Settings struct {
	// CollateralDir keeps collateral (VCEK and PCK certificates, CRLs, TCB
	// info) on disk: read from it first when offline, written to it after
	// each fetch otherwise. Empty: memory only.
	CollateralDir string `yaml:"collateral_dir"`
	// Offline never fetches collateral from AMD or Intel: it must be in
	// collateral_dir (or, for SEV-SNP, in the node's certificate).
	Offline bool `yaml:"offline"`
	// CheckRevocations checks the CRLs of the certificate chains. Default true.
	CheckRevocations *bool `yaml:"check_revocations"`
	// CacheTTL is how long a successful verification of one certificate is
	// trusted before it is done again. Default 1h.
	CacheTTL yamlvalue.Duration `yaml:"cache_ttl"`
	// FetchTimeout bounds one collateral download. Default 20s.
	FetchTimeout yamlvalue.Duration `yaml:"fetch_timeout"`
	// AMDKDSURL and IntelPCSURL replace AMD's and Intel's collateral
	// services (e.g. a caching proxy). Default: the vendors' own.
	AMDKDSURL   string `yaml:"amd_kds_url"`
	IntelPCSURL string `yaml:"intel_pcs_url"`
	// AMDRoots is a PEM file holding an ASK then its ARK (AMD KDS's
	// cert_chain format), trusted instead of the AMD roots built in (e.g.
	// to pin one product line). Empty: AMD's Milan, Genoa and Turin roots.
	AMDRoots string `yaml:"amd_roots"`
	// IntelRoot is a PEM file of the Intel SGX root CA trusted instead of
	// the one built in.
	IntelRoot string `yaml:"intel_root"`
	// SGXVerifier is the quote verification service that checks SGX quotes.
	SGXVerifier SGXVerifier `yaml:"sgx_verifier"`
}

// SGXVerifier is a remote SGX DCAP quote verifier speaking Intel's Quote
// Verification Service API (POST /attestation/sgx/dcap/v1/report).
type SGXVerifier struct {
	// URL is the service's base URL, e.g. https://qvs.internal:8799.
	URL string `yaml:"url"`
	// SigningCertificate is the PEM file of the certificate whose key signs
	// the service's reports (X-IASReport-Signature). Required with url.
	SigningCertificate string `yaml:"signing_certificate"`
	// CAFile is a PEM file of CAs for the service's TLS certificate.
	// Default: the system's.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds one verification. Default 10s.
	Timeout yamlvalue.Duration `yaml:"timeout"`
}

// Defaults.
const (
	DefaultCacheTTL       = time.Hour
	DefaultFetchTimeout   = 20 * time.Second
	DefaultVerifierTimout = 10 * time.Second
)

// Default fills unset keys.
func (s *Settings) Default() {
	if s.CheckRevocations == nil {
		t := true
		s.CheckRevocations = &t
	}
	if s.CacheTTL == 0 {
		s.CacheTTL = yamlvalue.Duration(DefaultCacheTTL)
	}
	if s.FetchTimeout == 0 {
		s.FetchTimeout = yamlvalue.Duration(DefaultFetchTimeout)
	}
	if s.SGXVerifier.Timeout == 0 {
		s.SGXVerifier.Timeout = yamlvalue.Duration(DefaultVerifierTimout)
	}
}

// Validate checks a defaulted section and reads its files as at start, so
// a check refuses what starting would refuse, with the same message.
func (s *Settings) Validate() error {
	if err := s.ValidateKeys(); err != nil {
		return err
	}
	_, err := New(*s, Options{})
	return err
}

// ValidateKeys checks a defaulted section without reading the files it
// names.
func (s *Settings) ValidateKeys() error {
	var errs []string
	if s.Offline && s.CollateralDir == "" {
		errs = append(errs, "attestation.offline: needs attestation.collateral_dir, the directory holding the collateral")
	}
	if s.CacheTTL < 0 {
		errs = append(errs, "attestation.cache_ttl: must not be negative; 0 means the default 1h")
	}
	if s.FetchTimeout < 0 {
		errs = append(errs, "attestation.fetch_timeout: must not be negative")
	}
	for key, u := range map[string]string{"amd_kds_url": s.AMDKDSURL, "intel_pcs_url": s.IntelPCSURL, "sgx_verifier.url": s.SGXVerifier.URL} {
		if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			errs = append(errs, fmt.Sprintf("attestation.%s: %q is not an http(s) URL", key, u))
		}
	}
	if s.SGXVerifier.URL != "" && s.SGXVerifier.SigningCertificate == "" {
		errs = append(errs, "attestation.sgx_verifier.signing_certificate: required with sgx_verifier.url: the PEM certificate whose key signs the verifier's reports")
	}
	slices.Sort(errs)
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "\n"))
}
