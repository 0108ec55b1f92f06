package cache

import "strconv"

// appendKey appends a call's cache key: network, chain id, method and the
// params after a cheap canonicalisation, so that calls meaning the same
// thing share a key without the params ever being decoded. Whitespace
// outside strings is dropped; a string holding only 0x-prefixed hex digits
// is lower-cased (an address in checksum case, a hash in upper case, a
// quantity "0xA"). Other strings are kept as they are. The chain id is in
// decimal, as net_version writes it, so a key read in Redis names it.
func appendKey(dst []byte, network string, chain uint64, method string, params []byte) []byte {
	dst = append(dst, network...)
	dst = append(dst, 0)
	dst = strconv.AppendUint(dst, chain, 10)
	dst = append(dst, 0)
	dst = append(dst, method...)
	dst = append(dst, 0)
	return appendCanonical(dst, params)
}

func appendCanonical(dst, params []byte) []byte {
	for i := 0; i < len(params); {
		c := params[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			end := stringEnd(params, i)
			dst = appendString(dst, params[i:end])
			i = end
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// stringEnd returns the index just past the JSON string starting at b[i]
// (the params were validated by the parser, so the string is closed; an
// unclosed one ends at len(b)).
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// appendString appends the quoted string s, lower-cased when it is hex.
func appendString(dst, s []byte) []byte {
	if !isHexString(s) {
		return append(dst, s...)
	}
	dst = append(dst, '"', '0', 'x')
	for _, c := range s[3 : len(s)-1] {
		if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// isHexString reports whether the quoted s is "0x" followed by hex digits.
func isHexString(s []byte) bool {
	if len(s) < 4 || s[1] != '0' || (s[2] != 'x' && s[2] != 'X') || s[len(s)-1] != '"' {
		return false
	}
	for _, c := range s[3 : len(s)-1] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
