package deploy_test

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/certfile"
	"github.com/evmgate/evmgate/internal/config"
)

// secretData is the content of the Secrets a set of manifests refers to:
// secret name, then key, then value.
type secretData map[string]map[string]string

// withRendered adds the Secrets the manifests create themselves.
func (s secretData) withRendered(o *objects) secretData {
	out := secretData{}
	for k, v := range s {
		out[k] = v
	}
	for _, sec := range o.secrets {
		data := map[string]string{}
		for k, v := range sec.StringData {
			data[k] = v
		}
		for k, v := range sec.Data {
			data[k] = string(v)
		}
		out[sec.Name] = data
	}
	return out
}

// evmgateContainer is one container running evmgate, with the pod around it.
type evmgateContainer struct {
	where string
	w     workload
	c     corev1.Container
}

func (o *objects) evmgateContainers() []evmgateContainer {
	var out []evmgateContainer
	for _, w := range o.workloads() {
		for _, c := range containers(w.pod.Spec) {
			if strings.Contains(c.Image, "evmgate") {
				out = append(out, evmgateContainer{fmt.Sprintf("%s: %s %s container %s", o.name, w.kind, w.name, c.Name), w, c})
			}
		}
	}
	return out
}

// checkConfigs loads the configuration of every evmgate container as the
// container would see it: its ConfigMap and Secrets mounted where its volume
// mounts put them, its environment made from its env and envFrom. Both
// evmgate's loader and `evmgate validate` run as a process must accept it,
// and the pod around it must fit it (probes, ports, grace period, Redis).
// It returns the number of configurations checked.
func checkConfigs(t *testing.T, o *objects, secrets secretData) int {
	t.Helper()
	n := 0
	for _, ec := range o.evmgateContainers() {
		if len(ec.c.Args) != 2 || ec.c.Args[0] != "-config" || !path.IsAbs(ec.c.Args[1]) {
			t.Errorf("%s: args %q, want -config /absolute/path", ec.where, ec.c.Args)
			continue
		}
		root, err := os.MkdirTemp(testTmp, "pod-")
		if err != nil {
			t.Fatal(err)
		}
		rewrite, err := mountVolumes(o, ec, secrets, root)
		if err != nil {
			t.Errorf("%s: %v", ec.where, err)
			continue
		}
		env, err := containerEnv(ec.c, secrets)
		if err != nil {
			t.Errorf("%s: %v", ec.where, err)
			continue
		}
		file := rewrite(ec.c.Args[1])
		text, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%s: -config %s is not in a mounted ConfigMap: %v", ec.where, ec.c.Args[1], err)
			continue
		}
		// Paths inside the file (engine.jwt_secret) point into the mounts too.
		if err := os.WriteFile(file, []byte(rewrite(string(text))), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse([]byte(rewrite(string(text))), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Errorf("%s: its configuration does not load:\n%v", ec.where, err)
			continue
		}
		validateProcess(t, ec.where, file, env)
		checkMountedFiles(t, ec.where, cfg)
		checkPodFitsConfig(t, o, ec, cfg)
		n++
	}
	return n
}

// mountVolumes writes the container's ConfigMap and Secret volumes under root
// and returns a function that maps a path in the container to the file.
func mountVolumes(o *objects, ec evmgateContainer, secrets secretData, root string) (func(string) string, error) {
	type mount struct{ in, out string }
	var mounts []mount
	for i, vm := range ec.c.VolumeMounts {
		vi := slices.IndexFunc(ec.w.pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name })
		if vi < 0 {
			return nil, fmt.Errorf("volume mount %s names no volume", vm.Name)
		}
		vol := ec.w.pod.Spec.Volumes[vi]
		var files map[string]string
		var items []corev1.KeyToPath
		switch {
		case vol.ConfigMap != nil:
			cm := o.configMap(vol.ConfigMap.Name)
			if cm == nil {
				return nil, fmt.Errorf("volume %s: no ConfigMap %s", vol.Name, vol.ConfigMap.Name)
			}
			files, items = cm.Data, vol.ConfigMap.Items
		case vol.Secret != nil:
			data, ok := secrets[vol.Secret.SecretName]
			if !ok {
				return nil, fmt.Errorf("volume %s: no Secret %s", vol.Name, vol.Secret.SecretName)
			}
			files, items = data, vol.Secret.Items
		default:
			continue
		}
		if !vm.ReadOnly {
			return nil, fmt.Errorf("volume mount %s: mount ConfigMaps and Secrets readOnly", vm.Name)
		}
		dir := filepath.Join(root, fmt.Sprint(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if len(items) == 0 {
			for k := range files {
				items = append(items, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		for _, it := range items {
			v, ok := files[it.Key]
			if !ok {
				return nil, fmt.Errorf("volume %s: no key %s", vol.Name, it.Key)
			}
			if err := os.WriteFile(filepath.Join(dir, it.Path), []byte(v), 0o600); err != nil {
				return nil, err
			}
		}
		mounts = append(mounts, mount{strings.TrimSuffix(vm.MountPath, "/") + "/", dir + "/"})
	}
	// Longest mount path first, as the kernel resolves nested mounts.
	slices.SortFunc(mounts, func(a, b mount) int { return len(b.in) - len(a.in) })
	return func(s string) string {
		for _, m := range mounts {
			s = strings.ReplaceAll(s, m.in, m.out)
		}
		return s
	}, nil
}

// containerEnv is the container's environment as the kubelet would set it.
func containerEnv(c corev1.Container, secrets secretData) (map[string]string, error) {
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.SecretRef == nil {
			return nil, fmt.Errorf("envFrom: only secretRef is used here")
		}
		data, ok := secrets[from.SecretRef.Name]
		if !ok {
			return nil, fmt.Errorf("envFrom: no Secret %s", from.SecretRef.Name)
		}
		for k, v := range data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secrets[ref.Name][ref.Key]
			if !ok {
				return nil, fmt.Errorf("env %s: no key %s in Secret %s", e.Name, ref.Key, ref.Name)
			}
			env[e.Name] = v
		case e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory":
			q, ok := c.Resources.Limits[corev1.ResourceMemory]
			if !ok {
				return nil, fmt.Errorf("env %s: the container has no memory limit", e.Name)
			}
			env[e.Name] = fmt.Sprint(q.Value())
		default:
			return nil, fmt.Errorf("env %s: a source these checks do not know", e.Name)
		}
	}
	return env, nil
}

// validateProcess runs `evmgate validate -config file` with only the
// container's environment.
func validateProcess(t *testing.T, where, file string, env map[string]string) {
	t.Helper()
	cmd := exec.Command(evmgateBinary(t), "validate", "-config", file)
	cmd.Env = []string{}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is valid") {
		t.Errorf("%s: evmgate validate: %v\n%s", where, err, out)
	}
}

// checkPodFitsConfig checks the pod against the configuration it runs.
func checkPodFitsConfig(t *testing.T, o *objects, ec evmgateContainer, cfg *config.Config) {
	t.Helper()
	if cfg.Engine.Enabled {
		if host, _, _ := net.SplitHostPort(cfg.Engine.ListenAddr); !net.ParseIP(host).IsLoopback() {
			t.Errorf("%s: engine.listen_addr %s: keep the Engine API on loopback", ec.where, cfg.Engine.ListenAddr)
		}
	}
	if cfg.Admin.AdminListen != "" && (!cfg.Admin.Loopback() || cfg.Admin.AdminToken == "") {
		t.Errorf("%s: admin.listen %s: keep the admin API on loopback and behind a token", ec.where, cfg.Admin.AdminListen)
	}
	if len(cfg.Networks) == 0 {
		return
	}
	port := func(name string) int32 {
		for _, p := range ec.c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
		return 0
	}
	if got := port("rpc"); got != int32(cfg.Port) {
		t.Errorf("%s: container port rpc is %d, the configuration's port %d", ec.where, got, cfg.Port)
	}
	if got := port("metrics"); got != int32(cfg.MetricsPort) {
		t.Errorf("%s: container port metrics is %d, the configuration's metrics_port %d", ec.where, got, cfg.MetricsPort)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readinessProbe", ec.c.ReadinessProbe, "/ready"}, {"livenessProbe", ec.c.LivenessProbe, "/health"}} {
		scheme := corev1.URISchemeHTTP
		if cfg.TLS.Enabled() {
			scheme = corev1.URISchemeHTTPS // the kubelet does not verify the certificate
		}
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "rpc" ||
			cmp.Or(p.probe.HTTPGet.Scheme, corev1.URISchemeHTTP) != scheme {
			t.Errorf("%s: %s must be GET %s on port rpc over %s", ec.where, p.name, p.path, scheme)
		}
	}
	grace := ec.w.pod.Spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second <= cfg.RequestTimeout.D() {
		t.Errorf("%s: terminationGracePeriodSeconds must be longer than request_timeout %s, so calls in flight finish", ec.where, cfg.RequestTimeout.D())
	}
	if cfg.RedisURL != "" {
		checkRedisTarget(t, o, ec.where, cfg.RedisURL)
	}
}

// checkRedisTarget checks that an in-cluster redis_url names a Service of
// these manifests that leads to Redis.
func checkRedisTarget(t *testing.T, o *objects, where, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Errorf("%s: redis_url: %v", where, err)
		return
	}
	if strings.Contains(u.Hostname(), ".") {
		return // a Redis outside these manifests
	}
	for _, s := range o.services {
		if s.Name != u.Hostname() {
			continue
		}
		if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return fmt.Sprint(p.Port) == u.Port() }) {
			t.Errorf("%s: redis_url port %s is not a port of Service %s", where, u.Port(), s.Name)
		}
		for _, w := range o.podsSelectedBy(&metav1.LabelSelector{MatchLabels: s.Spec.Selector}) {
			if !slices.ContainsFunc(w.pod.Spec.Containers, func(c corev1.Container) bool { return strings.Contains(c.Image, "redis") }) {
				t.Errorf("%s: redis_url leads to %s %s, which runs no Redis", where, w.kind, w.name)
			}
		}
		return
	}
	t.Errorf("%s: redis_url host %s is no Service of these manifests", where, u.Hostname())
}

// checkMountedFiles reads what the gateway reads at start-up beside its
// configuration and `evmgate validate` does not: the certificates of every
// tls: section and the JWT keys, from where the volume mounts put them.
func checkMountedFiles(t *testing.T, where string, cfg *config.Config) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	for _, l := range []struct {
		c      certfile.Config
		prefix string
	}{{cfg.TLS, "tls"}, {cfg.Admin.TLS, "admin.tls"}, {cfg.Engine.TLS, "engine.tls"}} {
		if !l.c.Enabled() {
			continue
		}
		if _, err := certfile.New(l.c, l.prefix, log); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
	if _, err := access.New(cfg.Access, access.Options{}, log, prometheus.NewRegistry()); err != nil {
		t.Errorf("%s: %v", where, err)
	}
}
