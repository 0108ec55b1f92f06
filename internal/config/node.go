package config

import "strings"

// Check validates a single node as the configuration would, for nodes added
// at run time.
func (nd *Node) Check() error {
	var p problems
	nd.validate("node", &p)
	if len(p) == 0 {
		return nil
	}
	return errorString(strings.Join(p, "; "))
}

type errorString string

func (e errorString) Error() string { return string(e) }
