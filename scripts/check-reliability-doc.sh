#!/usr/bin/env bash
# Every test that docs/RELIABILITY.md names (as `file::function`) exists in
# `cargo test -- --list`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! listing=$(cargo test --locked --tests -- --list 2>&1); then
  echo "$listing" | tail -n 30 >&2
  exit 1
fi
# "Running tests/<file>.rs (...)" precedes each binary's "<name>: test" lines.
# A binary of modules (tests/<dir>/main.rs) names its tests `module::name`.
known=$(echo "$listing" | awk '
  /Running tests\// { split($2, p, "/"); file = p[2]; sub(/\.rs$/, "", file); if (p[3] == "main.rs") file = "-"; next }
  / Running / { file = ""; next }
  /: test$/ && file == "-" { sub(/: test$/, ""); print $0; next }
  /: test$/ && file != "" { sub(/: test$/, ""); print file "::" $0 }')
missing=0
for ref in $(grep -o '`[a-z_]*::[a-z_]*`' docs/RELIABILITY.md | tr -d '`' | sort -u); do
  if ! grep -qx "$ref" <<<"$known"; then
    echo "docs/RELIABILITY.md names $ref, which does not exist" >&2
    missing=$((missing + 1))
  fi
done
[ "$missing" -eq 0 ] || exit 1
echo "every test named in docs/RELIABILITY.md exists"
