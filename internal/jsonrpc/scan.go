package jsonrpc

import "errors"

var errSyntax = errors.New("invalid JSON")

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		default:
			if b[i] < 0x20 {
				return 0, errSyntax
			}
		}
	}
	return 0, errSyntax
}

// skipValue returns the index just past the JSON value starting at b[i]. It
// checks structure (brackets, strings, literals) but not number syntax in
// depth: it is a router, not a validator.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		return skipNested(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		if c == '-' && j == i+1 {
			return 0, errSyntax
		}
		return j, nil
	}
	return 0, errSyntax
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errSyntax
	}
	return i + len(lit), nil
}

// skipNested skips an object or array, checking that brackets match, that
// members are separated by commas and that object keys are strings.
func skipNested(b []byte, i int) (int, error) {
	var stack [64]byte
	depth := 0
	for {
		open := b[i]
		if depth == len(stack) {
			return 0, errSyntax
		}
		closer := byte(']')
		if open == '{' {
			closer = '}'
		}
		stack[depth] = closer
		depth++
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			i++
			goto closed
		}
	member:
		if closer == '}' {
			if i >= len(b) || b[i] != '"' {
				return 0, errSyntax
			}
			var err error
			if i, err = skipString(b, i); err != nil {
				return 0, err
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return 0, errSyntax
			}
			i = skipSpace(b, i+1)
		}
		if i < len(b) && (b[i] == '{' || b[i] == '[') {
			continue // descend
		}
		{
			var err error
			if i, err = skipValue(b, i); err != nil {
				return 0, err
			}
		}
	after:
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errSyntax
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
			closer = stack[depth-1]
			goto member
		case stack[depth-1]:
			i++
			goto closed
		default:
			return 0, errSyntax
		}
	closed:
		depth--
		if depth == 0 {
			return i, nil
		}
		goto after
	}
}
