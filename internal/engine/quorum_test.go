package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRuleRequired(t *testing.T) {
	t.Parallel()
	// executionbackup's documented counts for fcu_majority 0.6.
	eb := Rule{Majority: 0.6, MinAgree: 1}
	for answers, want := range map[int]int{0: 1, 1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 4, 7: 4} {
		if got := eb.Required(answers); got != want {
			t.Errorf("Required(%d) = %d, want %d", answers, got, want)
		}
	}
	floor := Rule{Majority: 0.6, MinAgree: 2}
	if got := floor.Required(1); got != 2 {
		t.Errorf("min_agree 2: Required(1) = %d, want 2", got)
	}
	if got := (Rule{Majority: 1}).Required(3); got != 3 {
		t.Errorf("majority 1: Required(3) = %d, want 3", got)
	}
}

func v(node int, s Status, lvh string) Vote { return Vote{Node: node, Status: s, LVH: lvh} }

const (
	h1 = "0x01"
	h2 = "0x02"
)

func TestRuleDecide(t *testing.T) {
	t.Parallel()
	eb := Rule{Majority: 0.6, MinAgree: 1}
	tests := []struct {
		name    string
		rule    Rule
		votes   []Vote
		want    Status
		lvh     string
		members []int // nil: the gateway's own SYNCING
	}{
		{"no answers", eb, nil, StatusSyncing, "", nil},
		{"1 of 1 valid", eb, []Vote{v(0, StatusValid, h1)}, StatusValid, h1, []int{0}},
		{"1 of 2 answered (other timed out)", eb, []Vote{v(1, StatusValid, h1)}, StatusValid, h1, []int{1}},
		{"2 of 2 valid", eb, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h1)}, StatusValid, h1, []int{0, 1}},
		{"2 of 3 valid, third syncing", eb, []Vote{v(0, StatusValid, h1), v(1, StatusSyncing, ""), v(2, StatusValid, h1)}, StatusValid, h1, []int{0, 2}},
		{"1 of 3 valid, 2 syncing", eb, []Vote{v(0, StatusValid, h1), v(1, StatusSyncing, ""), v(2, StatusSyncing, "")}, StatusSyncing, "", []int{1, 2}},
		{"3 distinct answers of 3", eb, []Vote{v(0, StatusValid, h1), v(1, StatusAccepted, ""), v(2, StatusSyncing, "")}, StatusSyncing, "", nil},
		{"2 of 4 valid", eb, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h1), v(2, StatusSyncing, ""), v(3, StatusAccepted, "")}, StatusValid, h1, []int{0, 1}},
		{"2 of 4 vs 2 of 4 tie goes to syncing", eb, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h1), v(2, StatusSyncing, ""), v(3, StatusSyncing, "")}, StatusSyncing, "", []int{2, 3}},
		{"3 of 5 valid", eb, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h1), v(2, StatusValid, h1), v(3, StatusSyncing, ""), v(4, StatusSyncing, "")}, StatusValid, h1, []int{0, 1, 2}},
		{"2 of 5 valid is too few", eb, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h1), v(2, StatusSyncing, ""), v(3, StatusAccepted, ""), v(4, StatusValid, h2)}, StatusSyncing, "", nil},
		{"1-1 valid/syncing tie", eb, []Vote{v(0, StatusValid, h1), v(1, StatusSyncing, "")}, StatusSyncing, "", []int{1}},
		{"1-1 valid/accepted tie", eb, []Vote{v(0, StatusValid, h1), v(1, StatusAccepted, "")}, StatusAccepted, "", []int{1}},
		{"same status, different lvh tie is ambiguous", eb, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h2)}, StatusSyncing, "", nil},
		{"majority invalid returned as is", eb, []Vote{v(0, StatusInvalid, h1), v(1, StatusInvalid, h1), v(2, StatusValid, h2)}, StatusInvalid, h1, []int{0, 1}},
		{"majority invalid_block_hash returned as is", eb, []Vote{v(0, StatusInvalidBlockHash, ""), v(1, StatusInvalidBlockHash, ""), v(2, StatusSyncing, "")}, StatusInvalidBlockHash, "", []int{0, 1}},
		{"single invalid vetoes a valid majority", eb, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h1), v(2, StatusInvalid, h2)}, StatusSyncing, "", nil},
		{"single invalid_block_hash vetoes", eb, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h1), v(2, StatusInvalidBlockHash, "")}, StatusSyncing, "", nil},
		{"1-1 valid/invalid tie ends in syncing", eb, []Vote{v(0, StatusInvalid, h2), v(1, StatusValid, h1)}, StatusSyncing, "", nil},
		{"invalid with different lvh split", eb, []Vote{v(0, StatusInvalid, h1), v(1, StatusInvalid, h2), v(2, StatusInvalid, h1)}, StatusInvalid, h1, []int{0, 2}},
		{"accepted majority", eb, []Vote{v(0, StatusAccepted, ""), v(1, StatusAccepted, ""), v(2, StatusSyncing, "")}, StatusAccepted, "", []int{0, 1}},
		{"min_agree 2 refuses a lone valid", Rule{Majority: 0.6, MinAgree: 2}, []Vote{v(0, StatusValid, h1)}, StatusSyncing, "", nil},
		{"min_agree 2 accepts two", Rule{Majority: 0.6, MinAgree: 2}, []Vote{v(0, StatusValid, h1), v(2, StatusValid, h1)}, StatusValid, h1, []int{0, 2}},
		{"majority 1 needs everyone", Rule{Majority: 1, MinAgree: 1}, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h1), v(2, StatusSyncing, "")}, StatusSyncing, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.rule.Decide(tc.votes)
			if d.Status != tc.want || d.LVH != tc.lvh || !slices.Equal(d.Members, tc.members) {
				t.Fatalf("Decide = %s lvh=%q members=%v fallback=%v, want %s lvh=%q members=%v",
					d.Status, d.LVH, d.Members, d.Fallback, tc.want, tc.lvh, tc.members)
			}
			if d.Fallback != (tc.members == nil) {
				t.Fatalf("Fallback = %v with members %v", d.Fallback, d.Members)
			}
			// The answer never depends on the order the votes came in.
			for range 20 {
				shuffled := slices.Clone(tc.votes)
				rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				if e := tc.rule.Decide(shuffled); e.Status != d.Status || e.LVH != d.LVH || !slices.Equal(e.Members, d.Members) {
					t.Fatalf("order %v gives %s/%s/%v, order %v gives %s/%s/%v", tc.votes, d.Status, d.LVH, d.Members, shuffled, e.Status, e.LVH, e.Members)
				}
			}
		})
	}
}

func TestRuleSettled(t *testing.T) {
	t.Parallel()
	eb := Rule{Majority: 0.6, MinAgree: 1}
	tests := []struct {
		name    string
		rule    Rule
		votes   []Vote
		pending int
		want    bool
	}{
		{"everyone answered", eb, []Vote{v(0, StatusValid, h1)}, 0, true},
		{"nobody answered yet", eb, nil, 3, false},
		{"valid is never settled while a voter could still say invalid", eb, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h1)}, 1, false},
		{"4 of 5 valid still waits for the fifth", eb, []Vote{v(0, StatusValid, h1), v(1, StatusValid, h1), v(2, StatusValid, h1), v(3, StatusValid, h1)}, 1, false},
		{"2 of 3 invalid settles", eb, []Vote{v(0, StatusInvalid, h1), v(1, StatusInvalid, h1)}, 1, true},
		{"3 of 5 invalid settles", eb, []Vote{v(0, StatusInvalid, h1), v(1, StatusInvalid, h1), v(2, StatusInvalid, h1)}, 2, true},
		{"2 of 5 invalid does not", eb, []Vote{v(0, StatusInvalid, h1), v(1, StatusInvalid, h1)}, 3, false},
		{"invalid plus valid is syncing unless invalid can still win", eb, []Vote{v(0, StatusInvalid, h1), v(1, StatusValid, h2)}, 1, false},
		{"veto settles once invalid cannot win", eb, []Vote{v(0, StatusInvalid, h1), v(1, StatusValid, h2), v(2, StatusValid, h2)}, 1, true},
		{"syncing majority of 3 settles", eb, []Vote{v(0, StatusSyncing, ""), v(1, StatusSyncing, "")}, 1, true},
		{"syncing of 2 settles: a tie goes to syncing", eb, []Vote{v(0, StatusSyncing, "")}, 1, true},
		{"lone valid of 2 does not", eb, []Vote{v(0, StatusValid, h1)}, 1, false},
		{"min_agree beyond reach is always syncing", Rule{Majority: 0.6, MinAgree: 4}, nil, 3, true},
		{"too many pending to explore", eb, []Vote{v(0, StatusInvalid, h1), v(1, StatusInvalid, h1), v(2, StatusInvalid, h1),
			v(3, StatusInvalid, h1), v(4, StatusInvalid, h1), v(5, StatusInvalid, h1), v(6, StatusInvalid, h1)}, 5, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.rule.Settled(tc.votes, tc.pending); got != tc.want {
				t.Fatalf("Settled(%v, %d) = %v, want %v", tc.votes, tc.pending, got, tc.want)
			}
		})
	}
}

// TestRuleSettledNeverLies checks Settled against random completions: once
// it says settled, no completion may change the answer.
func TestRuleSettledNeverLies(t *testing.T) {
	t.Parallel()
	statuses := []Status{StatusValid, StatusInvalid, StatusSyncing, StatusAccepted, StatusInvalidBlockHash}
	hashes := []string{"", h1, h2}
	randVote := func(r *rand.Rand, node int) Vote {
		return v(node, statuses[r.IntN(len(statuses))], hashes[r.IntN(len(hashes))])
	}
	r := rand.New(rand.NewPCG(1, 2))
	rules := []Rule{{0.6, 1}, {0.5, 1}, {1, 1}, {0.6, 2}}
	settled := 0
	for range 3000 {
		rule := rules[r.IntN(len(rules))]
		n := 1 + r.IntN(5)
		answered := r.IntN(n + 1)
		var votes []Vote
		for i := range answered {
			votes = append(votes, randVote(r, i))
		}
		if !rule.Settled(votes, n-answered) {
			continue
		}
		settled++
		want := rule.Decide(votes).outcome()
		for range 30 {
			all := slices.Clone(votes)
			for i := answered; i < n; i++ {
				if r.IntN(3) > 0 {
					all = append(all, randVote(r, i))
				}
			}
			if got := rule.Decide(all).outcome(); got != want {
				t.Fatalf("rule %+v: Settled(%v, %d) but completion %v gives %s, not %s", rule, votes, n-answered, all, got, want)
			}
		}
	}
	if settled < 100 {
		t.Fatalf("only %d settled samples", settled)
	}
}
