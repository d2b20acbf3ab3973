#!/bin/sh
# Installs the prebuilt taskctl for this machine (Linux or macOS, x64 or arm64), verified against the
# release's SHA256SUMS. Usage: see usage() below, or run it with --help.
set -eu

repo="taskctl/taskctl"
dir="${HOME}/.local/bin"
version="${TASKCTL_VERSION:-}"

# A function, not this file's comments: piped to sh, the script has no file to read them from.
usage() {
  cat <<'EOF'
Installs the prebuilt taskctl for this machine, verified against the release's SHA256SUMS.

  curl -fsSL https://github.com/taskctl/taskctl/releases/latest/download/install.sh | sh
  curl -fsSL https://github.com/taskctl/taskctl/releases/latest/download/install.sh | sh -s -- --dir DIR --version X.Y.Z
  sh install.sh [--dir DIR] [--version X.Y.Z]

Options:
  --dir DIR          install taskctl into DIR (default: ~/.local/bin)
  --version X.Y.Z    install that release (default: the latest; also TASKCTL_VERSION)
  -h, --help         print this and exit

Environment:
  TASKCTL_DOWNLOAD_URL   a mirror: a folder URL holding the release assets and their SHA256SUMS, used
                         instead of GitHub. With --version, the mirror must list that version's asset.
EOF
}

say() { printf '%s\n' "install.sh: $*" >&2; }
fail() { say "$*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || fail "--dir needs a folder"; dir="$2"; shift 2 ;;
    --dir=*) dir="${1#--dir=}"; shift ;;
    --version) [ $# -ge 2 ] || fail "--version needs a version"; version="$2"; shift 2 ;;
    --version=*) version="${1#--version=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) fail "unknown option: $1 (see --help)" ;;
  esac
done
version="${version#v}"

from_source="build it from source instead: https://github.com/${repo}#develop"
case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=macos ;;
  MINGW*|MSYS*|CYGWIN*) fail "on Windows, download taskctl-<version>-win-x64.exe from https://github.com/${repo}/releases" ;;
  *) fail "no prebuilt taskctl for $(uname -s); $from_source" ;;
esac
case "$(uname -m)" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) fail "no prebuilt taskctl for $(uname -m); $from_source" ;;
esac

if [ -n "${TASKCTL_DOWNLOAD_URL:-}" ]; then
  base="${TASKCTL_DOWNLOAD_URL%/}"
elif [ -n "$version" ]; then
  base="https://github.com/${repo}/releases/download/v${version}"
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
# The checksum list names every asset, so it also tells which file is this platform's, and in a mirror that
# holds several releases, which versions there are.
if [ -n "$version" ]; then
  pattern="  taskctl-$(printf '%s' "$version" | sed 's/[.]/[.]/g')-${os}-${arch}\$"
else
  pattern="  taskctl-[^ ]+-${os}-${arch}\$"
fi
lines="$(grep -E "$pattern" "$tmp/SHA256SUMS" || true)"
if [ -z "$lines" ]; then
  fail "the release at $base has no taskctl${version:+ $version} for ${os}-${arch}"
fi
if [ "$(printf '%s\n' "$lines" | wc -l)" -gt 1 ]; then
  versions="$(printf '%s\n' "$lines" | sed "s/.*  taskctl-//; s/-${os}-${arch}\$//" | tr '\n' ' ')"
  fail "$base holds several versions (${versions% }); choose one with --version"
fi
expected="${lines%% *}"
asset="${lines##* }"

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
