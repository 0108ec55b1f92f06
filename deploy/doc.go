// Package deploy holds what runs evmgate in production, and the tests that
// check it: the container image (Containerfile, build-image.sh), the plain
// Kubernetes manifests (kubernetes/, with the Engine API multiplexer in
// kubernetes/engine/) and the Helm chart (helm/evmgate/).
//
// The tests validate every manifest and every rendering of the chart against
// the Kubernetes API schemas with kubeconform in strict mode, offline: the
// schemas are generated at test time from testdata/kubernetes-swagger.json,
// the part of k8s.io/kubernetes' api/openapi-spec/swagger.json that the
// manifests use, plus a ServiceMonitor schema written from the Prometheus
// Operator's CRD. The configuration each ConfigMap holds is loaded by
// evmgate's own loader and by the evmgate binary. The image is built with
// podman and run against local nodes.
//
// Nothing outside the tests imports this package; the Helm and Kubernetes
// libraries stay out of the evmgate binary.
package deploy

//go:generate go test -run TestKubernetesSwaggerSubset . -update-swagger
