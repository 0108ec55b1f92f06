//go:build !nodemo

package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
)

// The gateway's log goes to a file in the directory of its certificates
// and configuration (evmgate -config dir/evmgate.yaml 2> dir/gw.log): the
// log lines and other files written there reload no certificate, and a
// new certificate is put in force and logged once, for its listener only.
func TestTLSLogBesideCertificatesAsProcess(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "evmgate test ca")
	certFile, keyFile := ca.Server(t, "first").Write(t, dir, "tls")
	adminCert, adminKey := ca.Server(t, "admin").Write(t, dir, "admin")
	node := fakeNodes(t, 1, 1)[0]
	rpcPort, metricsPort, adminPort := freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+fmt.Sprintf(`log_level: DEBUG
tls:
  cert_file: %q
  key_file: %q
admin:
  listen: %q
  tls:
    cert_file: %q
    key_file: %q
networks:
  - name: n
    local_nodes:
      - rpc_endpoint: %q
`, certFile, keyFile, addr(adminPort), adminCert, adminKey, node.URL()))
	logFile, err := os.Create(filepath.Join(dir, "gw.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	p := startProcTee(t, nil, logFile, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	reloaded := func(listener string) int {
		return strings.Count(p.stderr.String(), `msg="certificate reloaded" component=tls listener=`+listener+" ")
	}
	roots := &tls.Config{RootCAs: ca.Pool()}
	// Each reload of the certificate used to log a line into the watched
	// directory, which started the next one, about five a second. There is
	// no event to wait for when nothing should happen: for 3 s the log and
	// another file in the directory are written, each write a quiet period
	// of its own.
	for i := range 12 {
		writeFile(t, filepath.Join(dir, "notes.txt"), fmt.Sprintf("note %d\n", i))
		if cn := serverCN(t, addr(rpcPort), roots); cn != "first" {
			t.Fatalf("serving %q before any change, want first", cn)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if n := reloaded("tls") + reloaded("admin.tls"); n != 0 {
		t.Fatalf("%d certificate reloads logged while only the log and another file changed, want 0:\n%s",
			n, grepLines(p.stderr.String(), "certificate"))
	}

	ca.Server(t, "second").Write(t, dir, "tls")
	eventually(t, 30*time.Second, "a handshake with the new certificate", func() bool {
		return serverCN(t, addr(rpcPort), roots) == "second"
	})
	p.waitOutput(p.stderr, `msg="certificate reloaded" component=tls listener=tls `, 30*time.Second)
	// Its own log line, and a reading of the key alone if it came in a
	// quiet period of its own, must not reload it again.
	time.Sleep(2 * time.Second)
	if n, m := reloaded("tls"), reloaded("admin.tls"); n != 1 || m != 0 {
		t.Fatalf("after one new certificate: %d reloads of tls and %d of admin.tls logged, want 1 and 0:\n%s",
			n, m, grepLines(p.stderr.String(), "certificate"))
	}
	written, err := os.ReadFile(logFile.Name())
	if err != nil || !strings.Contains(string(written), `msg="certificate reloaded"`) {
		t.Fatalf("the log file in the certificates' directory lacks the reload (%v):\n%s", err, written)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}
