package engine

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// Status is a PayloadStatusV1 status (execution-apis paris.md).
type Status string

// The statuses an execution client may answer.
const (
	StatusValid            Status = "VALID"
	StatusInvalid          Status = "INVALID"
	StatusSyncing          Status = "SYNCING"
	StatusAccepted         Status = "ACCEPTED"
	StatusInvalidBlockHash Status = "INVALID_BLOCK_HASH"
)

// invalid reports whether s says the block is bad.
func (s Status) invalid() bool { return s == StatusInvalid || s == StatusInvalidBlockHash }

// tieRank orders statuses for breaking a tie between equally large groups:
// the lower rank wins. SYNCING commits the consensus client to nothing, so it
// comes first; VALID ranks above the INVALID kinds so that a VALID/INVALID
// tie ends in the INVALID veto below, i.e. SYNCING, never in a verdict either
// way.
func (s Status) tieRank() int {
	switch s {
	case StatusSyncing:
		return 0
	case StatusAccepted:
		return 1
	case StatusValid:
		return 2
	case StatusInvalidBlockHash:
		return 3
	case StatusInvalid:
		return 4
	}
	return 5
}

// Vote is one voting node's parsed answer.
type Vote struct {
	Node   int    // index of the node in configuration order
	Status Status // the answer's status
	LVH    string // latestValidHash, lower-case hex; "" for null
}

// Rule is the quorum rule for newPayload and forkchoiceUpdated:
//
//  1. Answers are grouped by (status, latestValidHash); a node that timed
//     out, failed or answered garbage casts no vote.
//  2. required = round(answers × Majority), and at least MinAgree (and 1).
//  3. The largest group wins. Ties go to the safer status (see tieRank); a
//     tie between two groups of the same status but different
//     latestValidHash is ambiguous and gives SYNCING.
//  4. If the winner has fewer than required votes (or nobody answered):
//     SYNCING.
//  5. A winning INVALID or INVALID_BLOCK_HASH is returned as is.
//  6. Otherwise any single INVALID/INVALID_BLOCK_HASH vote turns the answer
//     into SYNCING: the consensus client goes optimistic, which cannot get a
//     validator slashed, instead of trusting a block some node rejects.
//  7. Otherwise the winner (VALID, ACCEPTED or SYNCING) is returned.
type Rule struct {
	Majority float64
	MinAgree int
}

// Decision is the outcome of Rule.Decide.
type Decision struct {
	Status Status
	LVH    string
	// Members are the nodes of the winning group in configuration order; nil
	// when the answer is the gateway's own SYNCING (Fallback).
	Members  []int
	Fallback bool
	Required int // votes the winner needed
	Groups   int // distinct (status, latestValidHash) groups among the votes
}

// Required returns the number of agreeing votes needed out of answers.
func (r Rule) Required(answers int) int {
	req := int(math.Round(float64(answers) * r.Majority))
	return max(req, r.MinAgree, 1)
}

type group struct {
	status  Status
	lvh     string
	members []int
}

// Decide applies the rule to a set of votes. It is deterministic: the order
// of votes does not matter.
func (r Rule) Decide(votes []Vote) Decision {
	groups := groupVotes(votes)
	d := Decision{Status: StatusSyncing, Fallback: true, Required: r.Required(len(votes)), Groups: len(groups)}
	if len(groups) == 0 {
		return d
	}
	top := groups[0]
	if len(groups) > 1 && len(groups[1].members) == len(top.members) && groups[1].status == top.status {
		return d
	}
	if len(top.members) < d.Required {
		return d
	}
	if !top.status.invalid() && slices.ContainsFunc(votes, func(v Vote) bool { return v.Status.invalid() }) {
		return d
	}
	d.Status, d.LVH, d.Members, d.Fallback = top.status, top.lvh, top.members, false
	return d
}

// groupVotes groups votes by (status, lvh) and sorts the groups: larger first,
// then by tieRank, then by lvh and first member (only to fix the order).
func groupVotes(votes []Vote) []group {
	var groups []group
	for _, v := range votes {
		i := slices.IndexFunc(groups, func(g group) bool { return g.status == v.Status && g.lvh == v.LVH })
		if i < 0 {
			groups = append(groups, group{status: v.Status, lvh: v.LVH})
			i = len(groups) - 1
		}
		groups[i].members = append(groups[i].members, v.Node)
	}
	for _, g := range groups {
		slices.Sort(g.members)
	}
	slices.SortFunc(groups, func(a, b group) int {
		if n := len(b.members) - len(a.members); n != 0 {
			return n
		}
		if n := a.status.tieRank() - b.status.tieRank(); n != 0 {
			return n
		}
		if n := strings.Compare(a.lvh, b.lvh); n != 0 {
			return n
		}
		return a.members[0] - b.members[0]
	})
	return groups
}

// outcome identifies a decision for Settled: every SYNCING is the same
// answer to the consensus client; anything else is its (status, lvh) group.
func (d Decision) outcome() string {
	if d.Status == StatusSyncing {
		return string(StatusSyncing)
	}
	return string(d.Status) + "/" + d.LVH
}

// maxSettleSearch caps the pending voters Settled explores; with more, the
// caller simply waits for more answers.
const maxSettleSearch = 4

// freshStatuses are the new groups a pending voter may start; SYNCING comes
// twice, with a null and with a non-null latestValidHash.
var freshStatuses = []Status{StatusSyncing, StatusSyncing, StatusValid, StatusInvalid, StatusAccepted, StatusInvalidBlockHash}

// Settled reports whether the decision on votes can no longer change,
// whatever the pending voters answer (any status, any latestValidHash, or
// nothing at all). It explores every completion, so it is exact up to
// maxSettleSearch pending voters and conservative (false) beyond.
func (r Rule) Settled(votes []Vote, pending int) bool {
	if pending == 0 {
		return true
	}
	if pending > maxSettleSearch {
		return false
	}
	base := r.Decide(votes)
	if base.Status == StatusValid || base.Status == StatusAccepted {
		return false // one more INVALID vote would veto it
	}
	want := base.outcome()
	buf := make([]Vote, len(votes), len(votes)+pending)
	copy(buf, votes)
	fresh := 0
	var all func(vs []Vote, left int) bool
	all = func(vs []Vote, left int) bool {
		if left == 0 {
			return r.Decide(vs).outcome() == want
		}
		node := 1<<20 + left
		if !all(vs, left-1) { // this voter never answers
			return false
		}
		for _, g := range groupVotes(vs) { // it joins an existing group
			if !all(append(vs, Vote{Node: node, Status: g.status, LVH: g.lvh}), left-1) {
				return false
			}
		}
		for i, s := range freshStatuses { // it starts a group of its own
			fresh++
			lvh := "fresh:" + strconv.Itoa(fresh)
			if i == 0 {
				lvh = "" // SYNCING with a null latestValidHash, as the spec wants
			}
			if !all(append(vs, Vote{Node: node, Status: s, LVH: lvh}), left-1) {
				return false
			}
		}
		return true
	}
	return all(buf, pending)
}
