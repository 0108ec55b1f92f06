package jsonrpc

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestPlainWord checks the eight-bytes-at-a-time test of skipString against
// a byte-by-byte one: every byte value at every position, and random words.
func TestPlainWord(t *testing.T) {
	plain := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	var buf [8]byte
	for fill := range 256 {
		for pos := range 8 {
			for v := range 256 {
				for i := range buf {
					buf[i] = byte(fill)
				}
				buf[pos] = byte(v)
				if got, want := plainWord(binary.LittleEndian.Uint64(buf[:])), plain(buf[:]); got != want {
					t.Fatalf("%q: plainWord = %v, want %v", buf, got, want)
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		w := rng.Uint64()
		binary.LittleEndian.PutUint64(buf[:], w)
		if plainWord(w) != plain(buf[:]) {
			t.Fatalf("%q: plainWord = %v", buf, plainWord(w))
		}
	}
}

// TestSkipStringLong: strings longer than a word, with the byte that ends
// or breaks them at every offset.
func TestSkipStringLong(t *testing.T) {
	for n := range 40 {
		s := []byte(`"`)
		for i := range n {
			s = append(s, 'a'+byte(i%26))
		}
		if end, err := skipString(append(s, '"', ','), 0); err != nil || end != n+2 {
			t.Fatalf("length %d: end %d err %v", n, end, err)
		}
		if _, err := skipString(s, 0); err != errEOF {
			t.Fatalf("length %d unterminated: %v", n, err)
		}
		bad := append(append([]byte{}, s...), '\n', 'x', '"')
		if _, err := skipString(bad, 0); err != errSyntax {
			t.Fatalf("length %d with a newline: %v", n, err)
		}
		esc := append(append([]byte{}, s...), '\\', '"', 'x', '"')
		if end, err := skipString(esc, 0); err != nil || end != len(esc) {
			t.Fatalf("length %d with an escaped quote: end %d err %v", n, end, err)
		}
	}
}
