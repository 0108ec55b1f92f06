package attest

import (
	"errors"
	"fmt"
)

// Reason is why a node failed attestation: a short fixed word, usable as a
// metric label.
type Reason string

// Reasons, each with the operator's next step in Error's text.
const (
	NoEvidence  Reason = "no_evidence" // the certificate carries no attestation
	Malformed   Reason = "malformed"   // the evidence cannot be parsed
	WrongType   Reason = "wrong_type"  // evidence of another TEE than configured
	KeyBinding  Reason = "key_binding" // the report is not bound to the certificate's key
	Nonce       Reason = "nonce"       // the report answers another nonce, or none
	Measurement Reason = "measurement" // the measurement is not one of the configured
	Signature   Reason = "signature"   // a signature or certificate chain does not verify
	Revoked     Reason = "revoked"     // a key of the chain is revoked
	Expired     Reason = "expired"     // the node's certificate is expired or not yet valid
	TCB         Reason = "tcb"         // firmware/TCB level below the policy
	PolicyField Reason = "policy"      // a policy field (debug, SVN, signer, ...) does not match
	Collateral  Reason = "collateral"  // certificates, CRLs or TCB info could not be had
	Unsupported Reason = "unsupported" // this gateway cannot verify the node's TEE
)

// numReasons is len(Reasons).
const numReasons = 13

// Reasons lists every reason, for metrics.
var Reasons = [numReasons]Reason{NoEvidence, Malformed, WrongType, KeyBinding, Nonce, Measurement, Signature, Revoked,
	Expired, TCB, PolicyField, Collateral, Unsupported}

// Error is a failed attestation.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string {
	return "attestation failed: " + string(e.Reason) + ": " + e.Err.Error()
}
func (e *Error) Unwrap() error { return e.Err }

func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Err: fmt.Errorf(format, args...)}
}

func wrap(r Reason, err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	return &Error{Reason: r, Err: err}
}

// ReasonOf returns the reason of an attestation failure in err's chain.
func ReasonOf(err error) (Reason, bool) {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Reason, true
	}
	return "", false
}
