#!/bin/sh
# Builds the evmgate container image from this checkout: a static binary
# without the demo (go build -tags nodemo), the host's CA bundle and a
# non-root user, on an empty base image (deploy/Containerfile).
#
#   deploy/build-image.sh [IMAGE]      default IMAGE: evmgate:$VERSION
#
# Environment:
#   VERSION         version stamped into the binary and the image label
#                   (default: git describe, else "dev")
#   CONTAINER_TOOL  podman or docker (default: podman if installed, else docker)
#   CA_BUNDLE       CA certificates file (default: /etc/ssl/certs/ca-certificates.crt)
#   GOARCH          target architecture (default: the host's), e.g. arm64
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
version=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
image=${1:-evmgate:$version}
tool=${CONTAINER_TOOL:-$(command -v podman || command -v docker || true)}
bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if [ -z "$tool" ]; then
	echo "build-image.sh: neither podman nor docker is installed (apt-get install podman)" >&2
	exit 1
fi
if [ ! -r "$bundle" ]; then
	echo "build-image.sh: no CA bundle at $bundle: install ca-certificates or set CA_BUNDLE" >&2
	exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT INT TERM

CGO_ENABLED=0 GOOS=linux go build -C "$root" -tags nodemo -trimpath \
	-ldflags "-s -w -X main.version=$version" -o "$ctx/evmgate" ./cmd/evmgate
cp "$bundle" "$ctx/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\nevmgate:x:65532:65532:evmgate:/nonexistent:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\nevmgate:x:65532:\n' >"$ctx/group"
chmod 0644 "$ctx/ca-certificates.crt" "$ctx/passwd" "$ctx/group"
chmod 0755 "$ctx/evmgate"

platform=
if [ -n "${GOARCH:-}" ]; then
	platform="--platform=linux/$GOARCH"
fi
# shellcheck disable=SC2086 # $platform is one word or none
"$tool" build $platform -f "$root/deploy/Containerfile" -t "$image" \
	--label "org.opencontainers.image.title=evmgate" \
	--label "org.opencontainers.image.version=$version" \
	"$ctx"
echo "built $image"
