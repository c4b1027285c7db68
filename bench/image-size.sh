#!/usr/bin/env bash
# Builds the prow-rs image, prints its size, and checks that `prow serve hook` inside answers
# /healthz with `ok`. Prints SKIP (exit 0) when no container engine can build or run here.
#   bench/image-size.sh [image-tag]
# Which recipe:
#   Containerfile        multi-stage musl build; needs docker.io and gcr.io. Used when both base
#                        images can be pulled.
#   Containerfile.local  FROM scratch around a static glibc `prow` built here by cargo (crates.io
#                        only). Used when a base image cannot be pulled (this machine and CI).
# IMAGE_SOURCE=registry|local forces one; PROW_BIN=<path> reuses an already built binary (static,
# or dynamic with its shared libraries copied in, as CI does with its debug build); otherwise a
# static release build: ~8 min from clean on 2 cores; CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/prow-rs:dev}
started=$SECONDS
elapsed() { echo "$(( SECONDS - started )) s"; }

builder=""
why_no_builder=""
if command -v podman >/dev/null; then
  if podman info >/dev/null 2>&1; then builder=podman
  else why_no_builder="podman info failed: $(podman info 2>&1 | grep -m1 -i error || true)"; fi
fi
if [[ -z $builder ]] && command -v buildah >/dev/null && buildah info >/dev/null 2>&1; then
  builder=buildah
fi
if [[ -z $builder ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  builder=docker
fi
if [[ -z $builder ]]; then
  echo "SKIP: no working podman, buildah or docker engine here${why_no_builder:+ ($why_no_builder)};" \
    "image not built (apt-get install podman runc; measured size: see docs/deploy.md)"
  exit 0
fi
# buildah builds but cannot run; podman reads the same storage (containers-storage).
runner=$builder
if [[ $runner == buildah ]]; then
  if command -v podman >/dev/null; then runner=podman; else runner=""; fi
fi

build() { # build <containerfile> <context>; an engine that cannot build here is a SKIP
  local err
  if [[ $builder == buildah ]]; then
    err=$(buildah bud -q -t "$tag" -f "$1" "$2" 2>&1 >/dev/null) && return 0
  else
    err=$("$builder" build -q -t "$tag" -f "$1" "$2" 2>&1 >/dev/null) && return 0
  fi
  echo "SKIP: $builder cannot build images here: ${err##*$'\n'}"
  exit 0
}

# Base images of the multi-stage Containerfile (FROM lines naming an earlier stage left out).
registry_bases() {
  awk 'toupper($1) == "FROM" { image[++n] = $2; for (i = 3; i < NF; i++) if (toupper($i) == "AS") stage[$(i + 1)] = 1 }
       END { for (i = 1; i <= n; i++) if (!(image[i] in stage)) print image[i] }' Containerfile
}

source=${IMAGE_SOURCE:-}
if [[ -z $source ]]; then
  source=registry
  for image in $(registry_bases); do
    if ! err=$("$builder" pull -q "$image" 2>&1 >/dev/null); then
      echo "cannot pull $image (${err%%$'\n'*}); using Containerfile.local"
      source=local
      break
    fi
  done
fi

if [[ $source == registry ]]; then
  echo "building $tag from Containerfile with $builder (release build from scratch takes minutes)"
  build Containerfile .
else
  bin=${PROW_BIN:-}
  if [[ -z $bin ]]; then
    triple=$(rustc -vV | sed -n 's/^host: //p')
    echo "building a static prow for $triple (cargo build --release, +crt-static)"
    # With an explicit --target, RUSTFLAGS reach only the target crates, not build scripts or
    # proc macros (which cannot be static).
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
      cargo build --release -q -p prow-cli --target "$triple"
    bin=${CARGO_TARGET_DIR:-target}/$triple/release/prow
    echo "static prow built ($(elapsed))"
  fi
  if [[ ! -x $bin ]]; then
    echo "FAIL: no executable prow at $bin" >&2
    exit 1
  fi
  "$bin" --help >/dev/null
  ca=/etc/ssl/certs/ca-certificates.crt
  if [[ ! -r $ca ]]; then
    echo "FAIL: $ca missing (apt-get install ca-certificates); the image needs CA roots" >&2
    exit 1
  fi
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  cp "$bin" "$context/prow"
  # The release image holds a static binary and nothing else. CI checks the recipe with the
  # debug binary its tests already built (no second, static build): a dynamically linked binary
  # gets the shared libraries it names, at their paths, from this machine.
  mkdir -p "$context/rootfs"
  if ldd "$bin" 2>/dev/null | grep -q '/'; then
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
      mkdir -p "$context/rootfs$(dirname "$lib")"
      cp -L "$lib" "$context/rootfs$lib"
    done
    echo "$bin is dynamically linked: adding $(find "$context/rootfs" -type f | wc -l) shared libraries"
  fi
  cp "$ca" "$context/ca-certificates.crt"
  echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > "$context/passwd"
  echo 'nonroot:x:65532:' > "$context/group"
  echo "building $tag from Containerfile.local with $builder (binary $(du -h "$bin" | cut -f1))"
  build Containerfile.local "$context"
fi
echo "image built ($(elapsed))"

size=$("${runner:-podman}" image inspect "$tag" --format '{{.Size}}' 2>/dev/null || echo "?")
if [[ $size == "?" ]]; then
  echo "image $tag: size unknown (no podman to inspect it)"
else
  echo "image $tag ($source): $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB)"
fi

if [[ -z $runner ]]; then
  echo "SKIP: buildah built the image but nothing here can run it; /healthz not checked"
  exit 0
fi

secret_dir=$(mktemp -d)
name=prow-rs-image-check
trap 'rm -rf "$secret_dir" ${context:+"$context"}; "$runner" rm -f "$name" >/dev/null 2>&1 || true' EXIT
echo -n "image-check-secret" > "$secret_dir/hmac"
chmod 0755 "$secret_dir"; chmod 0644 "$secret_dir/hmac"
port=${IMAGE_CHECK_PORT:-18080}

# Sandboxes refuse what podman asks of the OCI runtime by default: raising RLIMIT_NOFILE/NPROC
# to 1048576 needs CAP_SYS_RESOURCE, and crun refuses hosts with hybrid cgroup v1/v2 (runc copes).
# Start plain, then within the limits podman already runs under, then with runc as well.
start() { # start <oci runtime or "default"> [podman run options...]
  local runtime=$1 global=()
  shift
  [[ $runtime != default ]] && global=(--runtime "$runtime")
  "$runner" rm -f "$name" >/dev/null 2>&1 || true
  "$runner" "${global[@]}" run -d --name "$name" "$@" -p "127.0.0.1:$port:8080" \
    -v "$secret_dir:/etc/webhook:ro" -e HMAC_SECRET_FILE=/etc/webhook/hmac -e DRY_RUN=true \
    --read-only "$tag" serve hook 2>&1 >/dev/null
}
nofile=$(ulimit -Hn)
[[ $nofile == unlimited ]] && nofile=1048576
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)
attempts=(plain)
if [[ $runner == podman ]]; then
  attempts+=(limits)
  command -v runc >/dev/null && attempts+=(runc)
fi
started_with=""
for attempt in "${attempts[@]}"; do
  case $attempt in
    plain) err=$(start default) ;;
    limits) err=$(start default "${limits[@]}") ;;
    runc) err=$(start runc "${limits[@]}") ;;
  esac && { started_with=$attempt; break; }
  echo "container did not start ($attempt): ${err%%$'\n'*}"
done
if [[ -z $started_with ]]; then
  echo "SKIP: $runner built the image but cannot start containers here; /healthz not checked"
  exit 0
fi

for _ in $(seq 1 200); do
  if body=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null) && [[ $body == ok ]]; then
    echo "OK: prow serve hook inside $tag answers /healthz with ok (run with $started_with; $(elapsed) total)"
    exit 0
  fi
  sleep 0.1
done
echo "FAIL: /healthz never answered ok on 127.0.0.1:$port; container logs:" >&2
"$runner" logs "$name" >&2 || true
exit 1
