#!/bin/sh
# Downloads the two files tfjs-node(-gpu)'s install script would fetch, from the same URLs (or the
# mirror build args), and checks each against a pinned sha256 before anything is installed from it:
#   libtensorflow  ${TFJS_NODE_CDN_STORAGE}tensorflow/libtensorflow/libtensorflow-<gpu|cpu>-linux-x86_64-${LIBTENSORFLOW_VERSION}.tar.gz
#   the addon      ${TFJS_BINDING_HOST_MIRROR}/napi-v8/${TFJS_VERSION}/<GPU|CPU>-linux-${TFJS_VERSION}.tar.gz
# into OUT with the same relative paths (OUT/tensorflow/libtensorflow/…, OUT/binding/napi-v8/…),
# so that OUT/binding can serve as node-pre-gyp's file:// mirror.
#
#   fetch-tfjs-native.sh gpu|cpu OUT
# Environment (the Dockerfile's build args): TFJS_VERSION, LIBTENSORFLOW_VERSION,
# TFJS_NODE_CDN_STORAGE (with its trailing /), TFJS_BINDING_HOST_MIRROR, LIBTENSORFLOW_SHA256,
# TFJS_BINDING_SHA256 (or "build-from-source": no addon is fetched; it is compiled instead).
set -eu

flavour="${1:?usage: fetch-tfjs-native.sh gpu|cpu OUT}"
out="${2:?usage: fetch-tfjs-native.sh gpu|cpu OUT}"
case "$flavour" in
  gpu) addon_type=GPU ;;
  cpu) addon_type=CPU ;;
  *) echo "fetch-tfjs-native: flavour must be gpu or cpu, got '$flavour'" >&2; exit 2 ;;
esac

: "${TFJS_VERSION:?}" "${LIBTENSORFLOW_VERSION:?}" "${TFJS_NODE_CDN_STORAGE:?}" "${TFJS_BINDING_HOST_MIRROR:?}"
napi=8 # node-pre-gyp installs the highest of tfjs-node's napi_versions (3..8) that Node supports
lib_rel="tensorflow/libtensorflow/libtensorflow-${flavour}-linux-x86_64-${LIBTENSORFLOW_VERSION}.tar.gz"
addon_rel="napi-v${napi}/${TFJS_VERSION}/${addon_type}-linux-${TFJS_VERSION}.tar.gz"
lib_url="${TFJS_NODE_CDN_STORAGE}${lib_rel}"
addon_url="${TFJS_BINDING_HOST_MIRROR%/}/${addon_rel}"

# An unset checksum stops the build with how to pin one: nothing unverified gets installed.
need_pin() { # ARG file url
  cat >&2 <<EOF
fetch-tfjs-native: build arg $1 is not set.
  No checksum of $2 is pinned in this Dockerfile. Pin the one you trust, computed from the file
  itself (ideally the copy in your own mirror):
    curl -fsSLO '$3' && sha256sum '$2'
    docker build --build-arg $1=<the 64 hex digits> ...
EOF
  if [ "$1" = TFJS_BINDING_SHA256 ]; then
    echo "  Or --build-arg TFJS_BINDING_SHA256=build-from-source: compile the addon from the npm package's sources instead." >&2
  fi
  exit 1
}

fetch() { # url sha256 dest
  mkdir -p "$(dirname "$3")"
  curl -fsSL --retry 3 -o "$3.part" "$1"
  got="$(sha256sum "$3.part" | cut -d' ' -f1)"
  if [ "$got" != "$2" ]; then
    rm -f "$3.part"
    echo "fetch-tfjs-native: sha256 mismatch for $1: expected $2, got $got" >&2
    exit 1
  fi
  mv "$3.part" "$3"
  echo "fetch-tfjs-native: $(basename "$3") sha256 $got OK"
}

[ -n "${LIBTENSORFLOW_SHA256:-}" ] || need_pin LIBTENSORFLOW_SHA256 "$(basename "$lib_rel")" "$lib_url"
[ -n "${TFJS_BINDING_SHA256:-}" ] || need_pin TFJS_BINDING_SHA256 "$(basename "$addon_rel")" "$addon_url"

fetch "$lib_url" "$LIBTENSORFLOW_SHA256" "$out/$lib_rel"
if [ "$TFJS_BINDING_SHA256" = build-from-source ]; then
  echo "fetch-tfjs-native: TFJS_BINDING_SHA256=build-from-source: the addon will be compiled, not fetched"
else
  fetch "$addon_url" "$TFJS_BINDING_SHA256" "$out/binding/$addon_rel"
fi
