package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// parsedStatus is one node's newPayload or forkchoiceUpdated result.
type parsedStatus struct {
	status        Status
	lvh           string          // lower-case, "" for null
	raw           json.RawMessage // the whole result, as sent
	payloadStatus json.RawMessage // fcU: the payloadStatus object, as sent
	payloadID     json.RawMessage // fcU: the payloadId, as sent ("null" or absent when none)
}

func (p parsedStatus) hasPayloadID() bool {
	return len(p.payloadID) > 0 && !bytes.Equal(p.payloadID, []byte("null"))
}

type wireStatus struct {
	Status          string  `json:"status"`
	LatestValidHash *string `json:"latestValidHash"`
}

type wireForkchoice struct {
	PayloadStatus json.RawMessage `json:"payloadStatus"`
	PayloadID     json.RawMessage `json:"payloadId"`
}

// parseStatus reads a result of the given method kind. Anything that is not a
// well-formed status allowed for that method is an error: the node casts no
// vote (forkchoiceUpdated may only answer VALID, INVALID or SYNCING).
func parseStatus(kind methodClass, raw json.RawMessage) (parsedStatus, error) {
	p := parsedStatus{raw: raw}
	statusRaw := raw
	if kind == kindForkchoice {
		var fc wireForkchoice
		if err := json.Unmarshal(raw, &fc); err != nil {
			return p, fmt.Errorf("parsing forkchoice result: %w", err)
		}
		if fc.PayloadStatus == nil {
			return p, errors.New("parsing forkchoice result: no payloadStatus")
		}
		if fc.PayloadID != nil && !bytes.Equal(fc.PayloadID, []byte("null")) {
			var id string
			if err := json.Unmarshal(fc.PayloadID, &id); err != nil || !isHexData(id) {
				return p, fmt.Errorf("parsing forkchoice result: payloadId %s is not hex data", clip(fc.PayloadID))
			}
		}
		p.payloadStatus, p.payloadID, statusRaw = fc.PayloadStatus, fc.PayloadID, fc.PayloadStatus
	}
	var ws wireStatus
	if err := json.Unmarshal(statusRaw, &ws); err != nil {
		return p, fmt.Errorf("parsing payload status: %w", err)
	}
	p.status = Status(ws.Status)
	if !allowed(kind, p.status) {
		return p, fmt.Errorf("parsing payload status: %q is not a status this method may answer", clip([]byte(ws.Status)))
	}
	if ws.LatestValidHash != nil {
		if !isHexData(*ws.LatestValidHash) {
			return p, fmt.Errorf("parsing payload status: latestValidHash %q is not hex", clip([]byte(*ws.LatestValidHash)))
		}
		p.lvh = strings.ToLower(*ws.LatestValidHash)
	}
	return p, nil
}

func allowed(kind methodClass, s Status) bool {
	switch s {
	case StatusValid, StatusInvalid, StatusSyncing:
		return true
	case StatusAccepted, StatusInvalidBlockHash:
		return kind == kindNewPayload
	}
	return false
}

func isHexData(s string) bool {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || len(h) > 128 {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// clip shortens node-provided text for error messages.
func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}
