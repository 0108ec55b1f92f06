package deploy_test

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// objects are the resources of one set of manifests, decoded strictly into
// the Kubernetes API types.
type objects struct {
	name            string
	deployments     []appsv1.Deployment
	statefulSets    []appsv1.StatefulSet
	daemonSets      []appsv1.DaemonSet
	services        []corev1.Service
	configMaps      []corev1.ConfigMap
	secrets         []corev1.Secret
	hpas            []autoscalingv2.HorizontalPodAutoscaler
	pdbs            []policyv1.PodDisruptionBudget
	networkPolicies []networkingv1.NetworkPolicy
	serviceMonitors []serviceMonitor
}

// serviceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the
// checks read; the schema checks the rest.
type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
			Scheme        string `json:"scheme"`
			TLSConfig     any    `json:"tlsConfig"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// workload is a pod template with the object that holds it.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
	replicas   *int32
	pod        corev1.PodTemplateSpec
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func parseObjects(t *testing.T, name string, stream []byte) *objects {
	t.Helper()
	o := &objects{name: name}
	for i, doc := range docSeparator.Split(string(stream), -1) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s: document %d: %v", name, i, err)
		}
		if tm.Kind == "" {
			continue // only comments
		}
		var err error
		switch tm.Kind {
		case "Deployment":
			o.deployments, err = decode(doc, o.deployments)
		case "StatefulSet":
			o.statefulSets, err = decode(doc, o.statefulSets)
		case "DaemonSet":
			o.daemonSets, err = decode(doc, o.daemonSets)
		case "Service":
			o.services, err = decode(doc, o.services)
		case "ConfigMap":
			o.configMaps, err = decode(doc, o.configMaps)
		case "Secret":
			o.secrets, err = decode(doc, o.secrets)
		case "HorizontalPodAutoscaler":
			o.hpas, err = decode(doc, o.hpas)
		case "PodDisruptionBudget":
			o.pdbs, err = decode(doc, o.pdbs)
		case "NetworkPolicy":
			o.networkPolicies, err = decode(doc, o.networkPolicies)
		case "ServiceMonitor":
			o.serviceMonitors, err = decode(doc, o.serviceMonitors)
		default:
			t.Fatalf("%s: document %d: kind %s is not checked here: add it to the checks and to schemaRoots", name, i, tm.Kind)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", name, tm.Kind, err)
		}
	}
	return o
}

func decode[T any](doc string, list []T) ([]T, error) {
	var v T
	if err := yaml.UnmarshalStrict([]byte(doc), &v); err != nil {
		return list, err
	}
	return append(list, v), nil
}

func (o *objects) workloads() []workload {
	var ws []workload
	for _, d := range o.deployments {
		ws = append(ws, workload{"Deployment", d.Name, d.Spec.Selector, d.Spec.Replicas, d.Spec.Template})
	}
	for _, s := range o.statefulSets {
		ws = append(ws, workload{"StatefulSet", s.Name, s.Spec.Selector, s.Spec.Replicas, s.Spec.Template})
	}
	for _, d := range o.daemonSets {
		ws = append(ws, workload{"DaemonSet", d.Name, d.Spec.Selector, nil, d.Spec.Template})
	}
	return ws
}

func (o *objects) configMap(name string) *corev1.ConfigMap {
	for i := range o.configMaps {
		if o.configMaps[i].Name == name {
			return &o.configMaps[i]
		}
	}
	return nil
}

// selects reports whether sel picks an object with these labels. Only
// matchLabels is used by these manifests; matchExpressions is refused.
func selects(sel *metav1.LabelSelector, labels map[string]string) bool {
	if sel == nil || len(sel.MatchLabels) == 0 || len(sel.MatchExpressions) > 0 {
		return false
	}
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// podsSelectedBy returns the workloads whose pods the selector picks.
func (o *objects) podsSelectedBy(sel *metav1.LabelSelector) []workload {
	var out []workload
	for _, w := range o.workloads() {
		if selects(sel, w.pod.Labels) {
			out = append(out, w)
		}
	}
	return out
}

func containers(spec corev1.PodSpec) []corev1.Container {
	return append(slices.Clone(spec.InitContainers), spec.Containers...)
}

// checkWorkloads checks every pod template: its selector, the security
// settings and the resources of every container.
func checkWorkloads(t *testing.T, o *objects) {
	t.Helper()
	for _, w := range o.workloads() {
		where := fmt.Sprintf("%s: %s %s", o.name, w.kind, w.name)
		if !selects(w.selector, w.pod.Labels) {
			t.Errorf("%s: its selector %v does not pick its own pods %v", where, w.selector, w.pod.Labels)
		}
		spec := w.pod.Spec
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken must be false: nothing here talks to the API server", where)
		}
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("%s: the pod needs securityContext.runAsNonRoot and a non-zero runAsUser", where)
		} else if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: the pod needs seccompProfile RuntimeDefault", where)
		}
		for _, c := range containers(spec) {
			checkContainer(t, where+" container "+c.Name, c)
		}
	}
}

func checkContainer(t *testing.T, where string, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Errorf("%s: no securityContext", where)
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Errorf("%s: securityContext.runAsNonRoot must be true", where)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Errorf("%s: securityContext.allowPrivilegeEscalation must be false", where)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Errorf("%s: securityContext.readOnlyRootFilesystem must be true", where)
	case sc.Privileged != nil && *sc.Privileged:
		t.Errorf("%s: privileged", where)
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("%s: capabilities must drop ALL and add none", where)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("%s: needs cpu and memory requests", where)
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: needs a memory limit", where)
	}
}

// checkReferences checks that what refers to something finds it: Services,
// disruption budgets and network policies pick pods, ServiceMonitors pick
// Services, autoscalers name a Deployment that leaves its replicas to them,
// and named ports exist.
func checkReferences(t *testing.T, o *objects) {
	t.Helper()
	checkServices(t, o)
	checkPolicies(t, o)
	checkServiceMonitors(t, o)
	checkAutoscalers(t, o)
}

func checkServices(t *testing.T, o *objects) {
	t.Helper()
	for _, s := range o.services {
		sel := &metav1.LabelSelector{MatchLabels: s.Spec.Selector}
		ws := o.podsSelectedBy(sel)
		if len(ws) == 0 {
			t.Errorf("%s: Service %s selects no pods", o.name, s.Name)
			continue
		}
		for _, p := range s.Spec.Ports {
			if !hasPort(ws, p.TargetPort.String()) {
				t.Errorf("%s: Service %s port %s: no container port %s in %s %s", o.name, s.Name, p.Name, p.TargetPort.String(), ws[0].kind, ws[0].name)
			}
		}
	}
}

// checkPolicies checks the disruption budgets and network policies.
func checkPolicies(t *testing.T, o *objects) {
	t.Helper()
	for _, p := range o.pdbs {
		if len(o.podsSelectedBy(p.Spec.Selector)) == 0 {
			t.Errorf("%s: PodDisruptionBudget %s selects no pods", o.name, p.Name)
		}
	}
	for _, np := range o.networkPolicies {
		targets := o.podsSelectedBy(&np.Spec.PodSelector)
		if len(targets) == 0 {
			t.Errorf("%s: NetworkPolicy %s applies to no pods", o.name, np.Name)
		}
		for _, in := range np.Spec.Ingress {
			for _, from := range in.From {
				if from.PodSelector == nil || len(o.podsSelectedBy(from.PodSelector)) == 0 {
					t.Errorf("%s: NetworkPolicy %s admits traffic from no pod of these manifests", o.name, np.Name)
				}
			}
			for _, p := range in.Ports {
				if p.Port == nil || !hasPort(targets, p.Port.String()) {
					t.Errorf("%s: NetworkPolicy %s: port %v is not a port of its pods", o.name, np.Name, p.Port)
				}
			}
		}
	}
}

func checkServiceMonitors(t *testing.T, o *objects) {
	t.Helper()
	for _, m := range o.serviceMonitors {
		var picked []corev1.Service
		for _, s := range o.services {
			if selects(&m.Spec.Selector, s.Labels) {
				picked = append(picked, s)
			}
		}
		if len(picked) != 1 {
			t.Errorf("%s: ServiceMonitor %s picks %d Services, want 1", o.name, m.Metadata.Name, len(picked))
			continue
		}
		for _, e := range m.Spec.Endpoints {
			if !slices.ContainsFunc(picked[0].Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == e.Port }) {
				t.Errorf("%s: ServiceMonitor %s: Service %s has no port %q", o.name, m.Metadata.Name, picked[0].Name, e.Port)
			}
			if e.Path != "/metrics" {
				t.Errorf("%s: ServiceMonitor %s scrapes %q, want /metrics", o.name, m.Metadata.Name, e.Path)
			}
		}
	}
}

func checkAutoscalers(t *testing.T, o *objects) {
	t.Helper()
	for _, h := range o.hpas {
		ref := h.Spec.ScaleTargetRef
		i := slices.IndexFunc(o.deployments, func(d appsv1.Deployment) bool { return d.Name == ref.Name })
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || i < 0 {
			t.Errorf("%s: HorizontalPodAutoscaler %s scales %s %s, which is not here", o.name, h.Name, ref.Kind, ref.Name)
			continue
		}
		if o.deployments[i].Spec.Replicas != nil {
			t.Errorf("%s: Deployment %s sets replicas, which every apply would reset under its HorizontalPodAutoscaler", o.name, ref.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
			t.Errorf("%s: HorizontalPodAutoscaler %s: minReplicas under 2 leaves one pod", o.name, h.Name)
		}
	}
}

// hasPort reports whether a container of the workloads has the port, by
// name or number.
func hasPort(ws []workload, port string) bool {
	for _, w := range ws {
		for _, c := range containers(w.pod.Spec) {
			for _, p := range c.Ports {
				if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
					return true
				}
			}
		}
	}
	return false
}

// counts is how many objects of each kind there are.
func (o *objects) counts() map[string]int {
	all := map[string]int{
		"Deployment": len(o.deployments), "StatefulSet": len(o.statefulSets), "DaemonSet": len(o.daemonSets),
		"Service": len(o.services), "ConfigMap": len(o.configMaps), "Secret": len(o.secrets),
		"HorizontalPodAutoscaler": len(o.hpas), "PodDisruptionBudget": len(o.pdbs),
		"NetworkPolicy": len(o.networkPolicies), "ServiceMonitor": len(o.serviceMonitors),
	}
	maps.DeleteFunc(all, func(_ string, n int) bool { return n == 0 })
	return all
}

// kinds lists the kinds present, for the test log.
func (o *objects) kinds() string {
	count := o.counts()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(count)) {
		parts = append(parts, fmt.Sprintf("%d %s", count[k], k))
	}
	return strings.Join(parts, ", ")
}
