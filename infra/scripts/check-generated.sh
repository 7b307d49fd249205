#!/usr/bin/env bash
# `npm run check:generated`: fails when the committed generated files are out of date with the sources.
#   schema/schema.graphql  <- `npm run schema:emit` (builds, then prints the SDL of the type-graphql schema)
#   migrations/            <- `npm run db:generate` (drizzle-kit from src/storage/*.tables.ts; writes
#                             nothing when the tables match the last snapshot)
#   web/src/generated/     <- `npm run codegen` (the dashboard's typed GraphQL documents, from the SDL)
# The tree is compared before and after regenerating, so a hand edit of a generated file fails as well as a
# source change without regeneration. The regenerated files are left in place: review and commit them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root="$PWD"
MAX_DIFF_LINES=300

GENERATED=(schema migrations web/src/generated)

before="$(mktemp -d)"
trap 'rm -rf "$before"' EXIT
for dir in "${GENERATED[@]}"; do
  mkdir -p "$before/$dir"
  if [[ -d "$dir" ]]; then cp -a "$dir/." "$before/$dir/"; fi
done

echo "check-generated: npm run schema:emit"
npm run --silent schema:emit
echo "check-generated: npm run db:generate"
# No stdin: if drizzle-kit needs to ask (a rename or a dropped column), it fails instead of waiting.
npm run --silent db:generate </dev/null
echo "check-generated: npm run codegen"
npm run --silent codegen

changed=0
for dir in "${GENERATED[@]}"; do
  mkdir -p "$dir"
  if ! diff -qrN "$before/$dir" "$dir" >/dev/null; then changed=1; fi
done

if [[ "$changed" -eq 0 ]]; then
  echo "check-generated: OK, schema/, migrations/ and web/src/generated/ are up to date"
  exit 0
fi

{
  echo
  echo "check-generated: FAILED: regenerating changed files under schema/ or migrations/."
  echo "  The committed schema/schema.graphql or migrations/ do not match the sources (or were edited by hand)."
  echo "  Fix: run 'npm run schema:emit', 'npm run db:generate' and 'npm run codegen', review the result, and commit it."
  echo "  Never edit them by hand. Migrations are forward-only: never change a committed one; change"
  echo "  src/storage/*.tables.ts and generate a new one."
  echo
  echo "--- files that regeneration changed or created:"
  for dir in "${GENERATED[@]}"; do
    (cd "$before" && diff -rq "$dir" "$root/$dir" | sed "s#$root/##") || true
  done
  echo
  echo "--- the changes (before -> after, first $MAX_DIFF_LINES lines):"
  for dir in "${GENERATED[@]}"; do
    (cd "$before" && diff -ruN "$dir" "$root/$dir" | sed "s#$root/##") || true
  done | head -n "$MAX_DIFF_LINES" || true  # head may close the pipe early
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo
    echo "--- git status --porcelain ${GENERATED[*]} (against the last commit):"
    git status --porcelain --untracked-files=all -- "${GENERATED[@]}"
    echo
    echo "--- git diff --stat ${GENERATED[*]}:"
    git --no-pager diff --stat -- "${GENERATED[@]}"
  fi
} >&2
exit 1
