#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each (default 30s).
set -euo pipefail
fuzztime=${1:-30s}
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
	pkg=./$(dirname "$file")
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
		echo "fuzz: $pkg $target for $fuzztime"
		out=$(mktemp)
		if ! go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" 2>&1 | tee "$out"; then
			# Go's fuzzer sometimes loses a busy worker at the deadline and
			# reports only "context deadline exceeded" (no failing input):
			# run that target once more. A real failure (a panic or a
			# failing input) is never retried.
			if grep -q 'context deadline exceeded' "$out" && ! grep -qE 'panic|Failing input' "$out"; then
				echo "fuzz: $target lost a worker at the deadline; running it again"
				go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" || status=1
			else
				status=1
			fi
		fi
		rm -f "$out"
	done
done < <(grep -rlE '^func Fuzz' --include='*_test.go' . | sort)
exit $status
