package registry

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		msg  string // "" means valid
	}{
		{"off", Config{}, ""},
		{"loopback without token", Config{AdminListen: "127.0.0.1:9102"}, ""},
		{"localhost without token", Config{AdminListen: "localhost:9102"}, ""},
		{"bare port is loopback", Config{AdminListen: ":9102"}, ""},
		{"ipv6 loopback", Config{AdminListen: "[::1]:9102"}, ""},
		{"public without token", Config{AdminListen: "0.0.0.0:9102"}, `admin.token: required because admin.listen "0.0.0.0:9102" is not a loopback address`},
		{"public with token", Config{AdminListen: "0.0.0.0:9102", AdminToken: testToken}, ""},
		{"short token", Config{AdminToken: "short"}, "admin.token: must be at least 16 characters"},
		{"not host:port", Config{AdminListen: "9102"}, `admin.listen: "9102" is not host:port`},
		{"bad redis url", Config{RedisURL: "http://127.0.0.1:6379"}, "admin.redis_url:"},
		{"redis url", Config{RedisURL: "redis://:pw@127.0.0.1:6379/2"}, ""},
		{"bad resync", Config{ResyncInterval: "soon"}, `admin.resync_interval: "soon" is not a positive duration`},
		{"negative resync", Config{ResyncInterval: "-1s"}, "admin.resync_interval"},
		{"prefix with space", Config{RedisPrefix: "a b"}, "admin.redis_prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Default()
			err := tc.cfg.Validate()
			if tc.msg == "" && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("Validate: %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestConfigDefault(t *testing.T) {
	c := Config{AdminListen: ":9102"}
	c.Default()
	if c.AdminListen != "127.0.0.1:9102" || c.RedisPrefix != "evmgate:" || c.ResyncInterval != "5s" {
		t.Fatalf("Default: %+v", c)
	}
}
