package proxy

import "strconv"

// smallLengths holds the Content-Length header values of short answers, so
// that most answers set the header without allocating.
var smallLengths = func() []string {
	s := make([]string, 4<<10)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// contentLength returns a Content-Length header value; callers must not
// append to it.
func contentLength(n int64) []string {
	if n < int64(len(smallLengths)) {
		return smallLengths[n : n+1 : n+1]
	}
	return []string{strconv.FormatInt(n, 10)}
}
