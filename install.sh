#!/bin/sh
# Installs the prebuilt taskctl for this machine, verified against the release's SHA256SUMS.
#
#   curl -fsSL https://github.com/taskctl/taskctl/releases/latest/download/install.sh | sh
#   sh install.sh [--dir DIR] [--version X.Y.Z]
#
# TASKCTL_DOWNLOAD_URL overrides where the release files come from (a folder holding the assets and
# SHA256SUMS); by default the latest release, or the one --version names.
set -eu

repo="taskctl/taskctl"
dir="${HOME}/.local/bin"
version="${TASKCTL_VERSION:-}"

say() { printf '%s\n' "install.sh: $*" >&2; }
fail() { say "$*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || fail "--dir needs a folder"; dir="$2"; shift 2 ;;
    --dir=*) dir="${1#--dir=}"; shift ;;
    --version) [ $# -ge 2 ] || fail "--version needs a version"; version="$2"; shift 2 ;;
    --version=*) version="${1#--version=}"; shift ;;
    -h|--help) sed -n '2,9p' "$0" 2>/dev/null || true; exit 0 ;;
    *) fail "unknown option: $1 (options: --dir DIR, --version X.Y.Z)" ;;
  esac
done

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=macos ;;
  *) fail "no prebuilt taskctl for $(uname -s); install with npm instead: npm install -g taskctl" ;;
esac
case "$(uname -m)" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) fail "no prebuilt taskctl for $(uname -m); install with npm instead: npm install -g taskctl" ;;
esac

if [ -n "${TASKCTL_DOWNLOAD_URL:-}" ]; then
  base="${TASKCTL_DOWNLOAD_URL%/}"
elif [ -n "$version" ]; then
  base="https://github.com/${repo}/releases/download/v${version#v}"
else
  base="https://github.com/${repo}/releases/latest/download"
fi

download() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    fail "needs curl or wget"
  fi
}

sha256() { # FILE
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    fail "needs sha256sum or shasum to verify the download"
  fi
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT INT TERM

download "$base/SHA256SUMS" "$tmp/SHA256SUMS" || fail "cannot download $base/SHA256SUMS"
# The checksum list names every asset, so it also tells which file is this platform's.
line="$(grep -E "  taskctl-[^ ]+-${os}-${arch}\$" "$tmp/SHA256SUMS" | head -n 1 || true)"
[ -n "$line" ] || fail "the release at $base has no taskctl for ${os}-${arch}"
expected="${line%% *}"
asset="${line##* }"

say "downloading $asset"
download "$base/$asset" "$tmp/$asset" || fail "cannot download $base/$asset"
actual="$(sha256 "$tmp/$asset")"
if [ "$actual" != "$expected" ]; then
  fail "checksum mismatch for $asset (expected $expected, got $actual); nothing was installed"
fi

mkdir -p "$dir"
chmod 755 "$tmp/$asset"
mv "$tmp/$asset" "$dir/taskctl"
say "installed $dir/taskctl"
"$dir/taskctl" --version
case ":${PATH}:" in
  *":$dir:"*) ;;
  *) say "note: $dir is not on your PATH" ;;
esac
