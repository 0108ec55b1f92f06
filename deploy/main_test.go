package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// testTmp is a directory shared by the tests of this package, removed when
// they end.
var testTmp string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "evmgate-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testTmp = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var binary struct {
	once sync.Once
	path string
	err  error
}

// evmgateBinary builds the lean binary (-tags nodemo) once for the tests.
func evmgateBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		binary.path = filepath.Join(testTmp, "evmgate")
		cmd := exec.Command("go", "build", "-tags", "nodemo", "-o", binary.path, "../cmd/evmgate")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build -tags nodemo ./cmd/evmgate: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}
