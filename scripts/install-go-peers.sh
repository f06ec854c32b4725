#!/usr/bin/env bash
# Installs the Go EdgeVPN reference peers used by the e2e tests and benchmarks.
#
# Each version's module is downloaded from the Go module proxy and built with the
# Go toolchain into a cache directory outside the repository; a cached binary is
# reused. `go install module@version` is not used directly because it must read
# the module's version list (to report deprecation), which the proxy here may
# refuse, and because it rejects modules whose go.mod has `replace` directives.
# Building the downloaded module as the main module honours EdgeVPN's own
# go.mod. When the gossipsub fork its `replace` points to cannot be downloaded,
# the build falls back to the upstream go-libp2p-pubsub version EdgeVPN requires,
# and says so in BUILD-INFO next to the binary.
#
#   KAIROSCTL_GO_PEERS   cache directory (default: ~/.cache/kairosctl/go-peers)
#   EDGEVPN_VERSIONS     space-separated versions (default: v0.35.3 v0.34.0 v0.35.4)
#
# A version the proxy refuses is reported and skipped; the script fails only
# when none of the requested versions could be installed.
set -uo pipefail

cache="${KAIROSCTL_GO_PEERS:-$HOME/.cache/kairosctl/go-peers}"
versions="${EDGEVPN_VERSIONS:-v0.35.3 v0.34.0 v0.35.4}"
module=github.com/mudler/edgevpn
export GOSUMDB="${GOSUMDB:-off}" GOFLAGS="${GOFLAGS:-} -mod=mod -buildvcs=false"

if ! command -v go >/dev/null 2>&1; then
  echo "install-go-peers: the Go toolchain is required (go not found on PATH)" >&2
  exit 1
fi

build() { # version dest-dir
  local v=$1 dest=$2 dir scratch
  dir=$(go mod download -json "$module@$v" 2>/dev/null | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || return 1
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' RETURN
  cp -r "$dir/." "$scratch" && chmod -R u+w "$scratch"
  local ldflags="-s -w -X $module/internal.Version=$v"
  if (cd "$scratch" && go build -ldflags "$ldflags" -o "$dest/edgevpn" . >"$scratch.log" 2>&1); then
    echo "built from $module@$v with its own go.mod" >"$dest/BUILD-INFO"
    return 0
  fi
  local replaced
  replaced=$(cd "$scratch" && go mod edit -json | sed -n 's/.*"Path": "\(github.com\/libp2p\/go-libp2p-pubsub\)".*/\1/p' | head -n 1)
  if [ -n "$replaced" ] && grep -q "go-libp2p-pubsub.*403\|go-libp2p-pubsub.*not available" "$scratch.log"; then
    echo "edgevpn $v: the go-libp2p-pubsub fork named by its replace directive is not served; building against upstream go-libp2p-pubsub" >&2
    (cd "$scratch" && go mod edit -dropreplace=github.com/libp2p/go-libp2p-pubsub &&
      go build -ldflags "$ldflags" -o "$dest/edgevpn" . >"$scratch.log" 2>&1) || { tail -n 5 "$scratch.log" >&2; return 1; }
    echo "built from $module@$v with upstream go-libp2p-pubsub (the fork in its replace directive was not available)" >"$dest/BUILD-INFO"
    return 0
  fi
  tail -n 5 "$scratch.log" >&2
  return 1
}

mkdir -p "$cache"
installed=0
for v in $versions; do
  bin="$cache/$v/edgevpn"
  if [ -x "$bin" ] && "$bin" --help >/dev/null 2>&1; then
    echo "edgevpn $v: cached at $bin"
    installed=$((installed + 1))
    continue
  fi
  echo "edgevpn $v: building (this can take a few minutes)"
  mkdir -p "$cache/$v"
  if build "$v" "$cache/$v" && "$bin" --help >/dev/null 2>&1; then
    echo "edgevpn $v: built at $bin ($(cat "$cache/$v/BUILD-INFO"))"
    installed=$((installed + 1))
  else
    echo "edgevpn $v: NOT installed (the Go module proxy did not serve it or it failed to build); tests needing it are skipped" >&2
    rm -rf "${cache:?}/$v"
  fi
done
if [ "$installed" -eq 0 ]; then
  echo "install-go-peers: no EdgeVPN version could be installed" >&2
  exit 1
fi
