#!/usr/bin/env bash
# Reproducible release build of the committed tree (HEAD): wheel + sdist + SHA256SUMS in dist/.
# Two runs on one commit give byte-identical files (SOURCE_DATE_EPOCH = the commit's time unless
# set). Uncommitted changes are not built, on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"
git archive --format=tar HEAD | tar -x -C "$work"
rm -rf "$out" && mkdir -p "$out"
python3 scripts/reproducible_build.py "$work" "$out"
(cd "$out" && sha256sum -c SHA256SUMS)
