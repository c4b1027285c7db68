#!/usr/bin/env bash
# Builds the prow-rs image with podman or buildah when one of them can run here, prints its size,
# and checks that the binary inside answers /healthz. Prints SKIP (exit 0) when no builder works.
#   bench/image-size.sh [image-tag]
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/prow-rs:dev}

builder=""
if command -v podman >/dev/null && podman info >/dev/null 2>&1; then
  builder=podman
elif command -v buildah >/dev/null && buildah info >/dev/null 2>&1; then
  builder=buildah
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  builder=docker
fi
if [[ -z $builder ]]; then
  echo "SKIP: no working podman, buildah or docker engine here; image not built (expected size: ~10 MB, see docs/deploy.md)"
  exit 0
fi

echo "building $tag with $builder (release build from scratch takes several minutes)"
if [[ $builder == buildah ]]; then
  buildah bud -t "$tag" -f Containerfile .
else
  "$builder" build -t "$tag" -f Containerfile .
fi

runner=$builder
[[ $runner == buildah ]] && { command -v podman >/dev/null && runner=podman || runner=""; }
size=$("${runner:-podman}" image inspect "$tag" --format '{{.Size}}' 2>/dev/null || echo "?")
echo "image $tag: $size bytes ($(( ${size/\?/0} / 1024 / 1024 )) MiB)"

if [[ -z $runner ]]; then
  echo "SKIP: buildah built the image but nothing here can run it; /healthz not checked"
  exit 0
fi
secret_dir=$(mktemp -d)
trap 'rm -rf "$secret_dir"; "$runner" rm -f prow-rs-image-check >/dev/null 2>&1 || true' EXIT
echo -n "image-check-secret" > "$secret_dir/hmac"
chmod 0755 "$secret_dir"; chmod 0644 "$secret_dir/hmac"
port=18080
"$runner" run -d --name prow-rs-image-check -p "127.0.0.1:$port:8080" \
  -v "$secret_dir:/etc/webhook:ro" -e HMAC_SECRET_FILE=/etc/webhook/hmac -e DRY_RUN=true \
  --read-only "$tag" serve hook >/dev/null
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
    echo "OK: prow serve hook inside $tag answers /healthz"
    exit 0
  fi
  sleep 0.1
done
echo "FAIL: /healthz never answered; container logs:" >&2
"$runner" logs prow-rs-image-check >&2 || true
exit 1
