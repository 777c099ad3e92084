#!/usr/bin/env bash
# Mutation testing with cargo-mutants: would the tests notice a wrong line?
#
#   scripts/mutants.sh                 # every crate below, one after another
#   scripts/mutants.sh breaker-tokio   # the crates named
#
# Each crate's mutants are built and tested with all its features (the tower
# layer, listeners, test-util). Results go to target/mutants/<crate>/
# (missed.txt lists the survivors). Exits non-zero if any viable mutant
# survives or times out. Equivalent mutants are excluded, with reasons, in
# .cargo/mutants.toml. PROPTEST_CASES is lowered (default 256) so that the
# core's reference model runs in seconds per mutant; set it to change that.
set -euo pipefail
cd "$(dirname "$0")/.."

MUTANTS_VERSION=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -q "$MUTANTS_VERSION"; then
    cargo install cargo-mutants --locked --version "$MUTANTS_VERSION"
fi

export PROPTEST_CASES="${PROPTEST_CASES:-256}"
crates=("$@")
if [ ${#crates[@]} -eq 0 ]; then
    crates=(breaker-core breaker-clock breaker-tokio breaker-async-std breaker-embassy breaker-macros)
fi

status=0
for crate in "${crates[@]}"; do
    echo "=== cargo mutants -p $crate"
    mkdir -p "target/mutants/$crate"
    cargo mutants -p "$crate" --all-features --no-shuffle -o "target/mutants/$crate" || status=1
done
exit "$status"
