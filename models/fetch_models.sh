#!/usr/bin/env bash
# Fetches fastText's language identification model lid.176.ftz into this
# directory (it is not committed: see .gitignore and README.md).
#
#   models/fetch_models.sh [DEST_DIR]     (default: the directory of this script)
#
# First choice: the copy inside the npm package fasttext.wasm.js@1.0.0
# (`npm pack`, no install, no scripts run). Without npm, or if that fails:
# the original at dl.fbaipublicfiles.com, with curl or wget. Either way the
# file must match the pinned SHA-256, or nothing is written and the script
# exits non-zero. Does nothing when the file is already there and correct.
set -euo pipefail

readonly MODEL=lid.176.ftz
readonly SHA256=8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83
readonly NPM_PACKAGE=fasttext.wasm.js@1.0.0
readonly NPM_PATH=package/dist/models/language-identification/assets/lid.176.ftz
readonly URL=https://dl.fbaipublicfiles.com/fasttext/supervised-models/lid.176.ftz

dest_dir=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
dest=$dest_dir/$MODEL

die() { echo "fetch_models.sh: $*" >&2; exit 1; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    die "need sha256sum or shasum to verify $MODEL"
  fi
}

if [[ -f $dest ]]; then
  if [[ $(sha256_of "$dest") == "$SHA256" ]]; then
    echo "$dest is present and verified; nothing to do."
    exit 0
  fi
  echo "$dest exists but its SHA-256 is wrong; fetching it again." >&2
fi

mkdir -p "$dest_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetched=""
if command -v npm >/dev/null 2>&1; then
  echo "Fetching $MODEL from the npm package $NPM_PACKAGE..."
  if tarball=$(cd "$work" && npm pack --silent "$NPM_PACKAGE" 2>"$work/npm.log" | tail -n 1) &&
     [[ -n $tarball && -f $work/$tarball ]] &&
     tar -xzf "$work/$tarball" -C "$work" "$NPM_PATH"; then
    fetched=$work/$NPM_PATH
  else
    echo "npm pack failed (see below); falling back to $URL" >&2
    cat "$work/npm.log" >&2 || true
  fi
else
  echo "npm not found; downloading $URL"
fi

if [[ -z $fetched ]]; then
  fetched=$work/$MODEL
  if command -v curl >/dev/null 2>&1; then
    curl --fail --location --silent --show-error --output "$fetched" "$URL" ||
      die "download of $URL failed"
  elif command -v wget >/dev/null 2>&1; then
    wget --quiet --output-document="$fetched" "$URL" ||
      die "download of $URL failed"
  else
    die "need npm, curl or wget to fetch $MODEL"
  fi
fi

actual=$(sha256_of "$fetched")
if [[ $actual != "$SHA256" ]]; then
  die "SHA-256 mismatch for $MODEL: expected $SHA256, got $actual; not installed"
fi
# Move into place atomically so a partial file is never left behind.
cp "$fetched" "$dest.tmp.$$"
mv -f "$dest.tmp.$$" "$dest"
echo "Installed $dest (sha256 $SHA256)."
