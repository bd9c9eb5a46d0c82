# Shared by the bench scripts (sourced, not run): how a part's table becomes
# its committed docs/benchmarks/ file. A doc may end in hand-written findings,
# everything from its "<!-- findings -->" line on; a re-run replaces the
# measured table above that line and keeps the findings, which carry their own
# dates.

# Prints TABLE, then DOC's findings when DOC has some and TABLE has none.
with_findings() {
  local table="$1" doc="$2" findings=""
  cat "$table"
  grep -q '^<!-- findings -->$' "$table" && return 0
  if [[ -f "$doc" ]]; then
    findings="$(sed -n '/^<!-- findings -->$/,$p' "$doc")"
  fi
  if [[ -n "$findings" ]]; then
    printf '\n%s\n' "$findings"
  fi
}

# Writes TABLE to DOC, keeping DOC's findings.
commit_doc() {
  local table="$1" doc="$2"
  mkdir -p "$(dirname "$doc")"
  with_findings "$table" "$doc" >"$doc.tmp"
  mv "$doc.tmp" "$doc"
}

# Prints SCRIPT's header comment (its help), without the "# ".
usage() {
  sed -n '2,/^[^#]/p' "$1" | grep '^#' | sed 's/^# \{0,1\}//'
}
