package deploy_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// The binary built with -tags nodemo has no demo: `evmgate demo` exits 1
// and says how to get one, building nothing.
func TestNodemoBinaryDemoExplains(t *testing.T) {
	out, err := exec.Command(evmgateBinary(t), "demo").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("evmgate demo from the nodemo binary: %v\n%s", err, out)
	}
	for _, want := range []string{"built with -tags nodemo", "go run ./cmd/evmgate demo", "go build -tags demo ./cmd/evmgate"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the error does not say %q:\n%s", want, out)
		}
	}
}
