package sched

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/evmgate/evmgate/internal/nodeurl"
)

// WorkersParam is the query argument prio-load-balancer reads from a node
// URL to set that node's number of workers (calls in flight).
const WorkersParam = "_workers"

// ParseWorkers removes the _workers=N query argument from a node URL and
// returns the URL the gateway should use, and N (0 when absent: use the
// configured default). Other query arguments keep their text and order;
// the rest of the URL is returned byte for byte.
func ParseWorkers(rawURL string) (cleanURL string, workers int, err error) {
	if _, err := url.Parse(rawURL); err != nil {
		return "", 0, fmt.Errorf("the node URL does not parse: %v", nodeurl.Cause(err))
	}
	base, fragment, hasFragment := strings.Cut(rawURL, "#")
	base, query, hasQuery := strings.Cut(base, "?")
	if !hasQuery {
		return rawURL, 0, nil
	}
	kept := make([]string, 0, strings.Count(query, "&")+1)
	found := false
	for _, arg := range strings.Split(query, "&") {
		key, value, _ := strings.Cut(arg, "=")
		if k, err := url.QueryUnescape(key); err != nil || k != WorkersParam {
			kept = append(kept, arg)
			continue
		}
		if found {
			return "", 0, fmt.Errorf("%s is given twice: keep one", WorkersParam)
		}
		found = true
		if workers, err = parseWorkerCount(value); err != nil {
			return "", 0, err
		}
	}
	if !found {
		return rawURL, 0, nil
	}
	clean := base
	if len(kept) > 0 {
		clean += "?" + strings.Join(kept, "&")
	}
	if hasFragment {
		clean += "#" + fragment
	}
	return clean, workers, nil
}

func parseWorkerCount(value string) (int, error) {
	v, err := url.QueryUnescape(value)
	if err == nil {
		var n int
		if n, err = strconv.Atoi(v); err == nil && n >= 1 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s=%q is not a number of workers: write a whole number of 1 or more, e.g. ?%s=8", WorkersParam, value, WorkersParam)
}
