package jsonrpc

import (
	"encoding/binary"
	"errors"
)

// MaxDepth is the deepest nesting of arrays and objects the scanner accepts
// (a batch is one level, a call object another). Deeper bodies are refused
// as invalid requests rather than walked.
const MaxDepth = 64

var (
	// errSyntax: the bytes are not JSON.
	errSyntax = errors.New("invalid JSON")
	// errEOF: the bytes end inside a value; more may make it valid.
	errEOF = errors.New("unexpected end of JSON")
	// errDepth: nesting is deeper than MaxDepth.
	errDepth = errors.New("JSON nested too deeply")
)

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"'.
// Escapes are checked as RFC 8259 defines them; other bytes from 0x20 up pass
// as they are (as encoding/json's scanner, invalid UTF-8 is not an error).
func skipString(b []byte, i int) (int, error) {
	i++
	// Eight bytes at a time while none of them needs a look: long hex
	// strings (calldata, hashes) are most of a request's bytes.
	for i+8 <= len(b) && plainWord(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i++
			if i >= len(b) {
				return 0, errEOF
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 0; k < 4; k++ {
					i++
					if i >= len(b) {
						return 0, errEOF
					}
					if !isHex(b[i]) {
						return 0, errSyntax
					}
				}
			default:
				return 0, errSyntax
			}
		case c < 0x20:
			return 0, errSyntax
		}
	}
	return 0, errEOF
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainWord reports whether none of the eight bytes of w is a quote, a
// backslash or a control character (below 0x20), using the classic
// bit tricks for "has a zero byte" and "has a byte less than n".
func plainWord(w uint64) bool {
	quote := w ^ (ones * '"')
	slash := w ^ (ones * '\\')
	special := (quote-ones) & ^quote | (slash-ones) & ^slash | (w-ones*0x20) & ^w
	return special&highs == 0
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipNumber returns the index just past the number starting at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, errEOF
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return 0, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		var err error
		if i, err = skipDigits(b, i+1); err != nil {
			return 0, err
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		var err error
		if i, err = skipDigits(b, i); err != nil {
			return 0, err
		}
	}
	return i, nil
}

// skipDigits skips one or more digits.
func skipDigits(b []byte, i int) (int, error) {
	switch {
	case i >= len(b):
		return 0, errEOF
	case !isDigit(b[i]):
		return 0, errSyntax
	}
	for i++; i < len(b) && isDigit(b[i]); i++ {
	}
	return i, nil
}

// skipValue returns the index just past the JSON value starting at b[i]. It
// checks the value's syntax fully, so a body it accepts is one that
// encoding/json accepts too; it builds nothing.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errEOF
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		return skipNested(b, i, MaxDepth)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || isDigit(c):
		return skipNumber(b, i)
	}
	return 0, errSyntax
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	rest := b[i:]
	if len(rest) < len(lit) {
		if string(rest) == lit[:len(rest)] {
			return 0, errEOF
		}
		return 0, errSyntax
	}
	if string(rest[:len(lit)]) != lit {
		return 0, errSyntax
	}
	return i + len(lit), nil
}

// skipWithin is skipValue for a value that may nest at most max levels
// (the levels around it already count against MaxDepth).
func skipWithin(b []byte, i, max int) (int, error) {
	if i < len(b) && (b[i] == '{' || b[i] == '[') {
		return skipNested(b, i, max)
	}
	return skipValue(b, i)
}

// skipNested skips an object or array nesting at most max (up to
// MaxDepth) levels, without recursion: a small stack of closing brackets
// tracks the nesting.
func skipNested(b []byte, i, max int) (int, error) {
	var stack [MaxDepth]byte
	depth := 0
	for {
		// b[i] opens an object or array.
		if depth == max {
			return 0, errDepth
		}
		closer := byte(']')
		if b[i] == '{' {
			closer = '}'
		}
		stack[depth] = closer
		depth++
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			i++
			depth--
		} else {
			var nested bool
			var err error
			if i, nested, err = skipMember(b, i, closer); err != nil {
				return 0, err
			}
			if nested {
				continue // descend
			}
		}
		// A value just ended: close every container that ends here.
		for {
			if depth == 0 {
				return i, nil
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, errEOF
			}
			if b[i] == stack[depth-1] {
				i++
				depth--
				continue
			}
			if b[i] != ',' {
				return 0, errSyntax
			}
			var nested bool
			var err error
			if i, nested, err = skipMember(b, skipSpace(b, i+1), stack[depth-1]); err != nil {
				return 0, err
			}
			if nested {
				break // descend
			}
		}
	}
}

// skipMember reads one member of a container whose closer is given: for an
// object the key and colon, then the value. A scalar value is skipped and
// the index past it returned; for a nested value the index of its opening
// bracket is returned with nested set, so the caller descends.
func skipMember(b []byte, i int, closer byte) (next int, nested bool, err error) {
	if closer == '}' {
		if i >= len(b) {
			return 0, false, errEOF
		}
		if b[i] != '"' {
			return 0, false, errSyntax
		}
		if i, err = skipString(b, i); err != nil {
			return 0, false, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false, errEOF
		}
		if b[i] != ':' {
			return 0, false, errSyntax
		}
		i = skipSpace(b, i+1)
	}
	if i < len(b) && (b[i] == '{' || b[i] == '[') {
		return i, true, nil
	}
	i, err = skipValue(b, i)
	return i, false, err
}
