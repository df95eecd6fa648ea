# Sourced by the bench scripts. build_or_die VERB PROJECT OUT: dotnet publish/build PROJECT into OUT quietly; on failure
# prints the first errors and exits (a bench on a broken tree must not print nothing, or measure an old build).
build_or_die() {
  local log; log=$(mktemp)
  if ! dotnet "$1" "$2" -c Release -o "$3" -v q -nologo >"$log" 2>&1; then
    echo "bench: $2 did not build:" >&2; grep -E " error " "$log" | sort -u | head -5 >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
}
