# Sourced by the bench scripts: publishes the server into a temporary folder and starts it on the embedded
# store (./data in that folder) with the bench key, on 127.0.0.1:$port; sets $work and $pid, and stops and cleans up on exit.
. bench/build.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build_or_die publish src/Tally.Server "$work/app"
# As a user runs it: from its folder, with the default data folder (./data, under the content root).
(cd "$work" && TALLY_BOOTSTRAP_API_KEY=bench-key Logging__LogLevel__Default=Warning \
  exec dotnet app/Tally.Server.dll --urls "http://127.0.0.1:$port" >"$work/server.log" 2>&1) &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
