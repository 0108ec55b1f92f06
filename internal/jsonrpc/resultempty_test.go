package jsonrpc

import "testing"

func TestResultEmpty(t *testing.T) {
	tests := []struct {
		answer string
		want   bool
	}{
		{`{"jsonrpc":"2.0","id":1,"result":null}`, true},
		{`{"jsonrpc":"2.0","id":1,"result": [ ]}`, true},
		{`{"id":1,"result":"0x"}`, true},
		{`{"id":1,"result":"0x0"}`, false},
		{`{"id":1,"result":[{"a":1}]}`, false},
		{`{"id":1,"result":{}}`, false},
		{`{"result":{"hash":"0x1"},"id":1}`, false},
		{`{"id":1,"result":false}`, false},
	}
	for _, tt := range tests {
		var s ResponseScan
		if o := s.Scan([]byte(tt.answer), true); o != Result {
			t.Fatalf("%s: scanned as %v", tt.answer, o)
		}
		if got := s.ResultEmpty([]byte(tt.answer)); got != tt.want {
			t.Errorf("ResultEmpty(%s) = %v, want %v", tt.answer, got, tt.want)
		}
	}
}
