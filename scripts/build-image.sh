#!/usr/bin/env bash
# Builds the controller image from Dockerfile with buildah (daemonless, Debian's package) and runs its
# entry point once (`canary --help`, `canary controller --help`) as the image's non-root user.
#
# Docker Hub may be out of reach (it is on the CI machines), so `python:3.11-slim` is replaced by a
# stand-in built from Debian's own packages: bookworm's python3 (3.11) and pip by debootstrap, cached
# in buildah's storage as localhost/canary-debian-python:bookworm. The image's layers are cached too
# (`--layers`): an unchanged tree rebuilds in seconds. Without buildah or debootstrap it says so and
# exits 0 (apt-get install buildah debootstrap to enable it). Needs root, like scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=localhost/canary-debian-python:bookworm
IMAGE="${CANARY_IMAGE:-localhost/canary:test}"

for tool in buildah debootstrap; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-image: skipped: $tool is not installed (apt-get install buildah debootstrap)"
    exit 0
  fi
done

# chroot isolation: no OCI runtime, so no cgroup setup (crun refuses hybrid cgroup hierarchies).
BUILDAH_RUN=(--isolation chroot)

if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
  mirrors="$(sed -n 's/^URIs: *//p; s/^deb \(http[^ ]*\) .*/\1/p' /etc/apt/sources.list.d/* /etc/apt/sources.list 2>/dev/null || true)"
  mirror="${mirrors%%[[:space:]]*}"  # the first mirror apt uses
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  echo "build-image: base image from Debian packages (${mirror:-http://deb.debian.org/debian}, about a minute)"
  debootstrap --variant=minbase --include=python3,python3-pip bookworm "$rootfs" \
    "${mirror:-http://deb.debian.org/debian}" >/dev/null
  # python:3.11-slim's pip installs into the system Python; Debian's refuses without this (PEP 668).
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  # This machine's trust store, so pip inside the build reaches PyPI as pip outside does.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  ctr="$(buildah from scratch)"
  cp -a "$rootfs/." "$(buildah mount "$ctr")/"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  buildah commit -q "$ctr" "$BASE" >/dev/null
  buildah rm "$ctr" >/dev/null
fi

echo "build-image: buildah bud -t $IMAGE (BASE=$BASE)"
buildah bud -q "${BUILDAH_RUN[@]}" --network host --layers --build-arg "BASE=$BASE" -t "$IMAGE" . >/dev/null

entrypoint="$(buildah inspect --type image --format '{{.OCIv1.Config.Entrypoint}} {{.OCIv1.Config.User}}' "$IMAGE")"
if [[ "$entrypoint" != "[canary] 65532:65532" ]]; then
  echo "build-image: unexpected entry point and user: $entrypoint" >&2
  exit 1
fi
ctr="$(buildah from "$IMAGE")"
trap 'buildah rm "$ctr" >/dev/null' EXIT
buildah run "${BUILDAH_RUN[@]}" "$ctr" -- canary --help >/dev/null
help="$(buildah run "${BUILDAH_RUN[@]}" "$ctr" -- canary controller --help)"
if [[ "$help" != *--namespaced* ]]; then
  echo "build-image: the image's canary is not this tree's (no --namespaced in controller --help)" >&2
  exit 1
fi
echo "build-image: $IMAGE built; its entry point runs (canary --help, canary controller --help as $(buildah run "${BUILDAH_RUN[@]}" "$ctr" -- id -u))"
