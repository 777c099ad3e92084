#!/usr/bin/env bash
# Mutation testing with cargo-mutants: would the tests notice a wrong line?
#
#   scripts/mutants.sh                 # every crate below, one after another
#   scripts/mutants.sh breaker-tokio   # the crates named
#
# Each crate's mutants are built and tested with all its features (the tower
# layer, listeners, test-util). Results go to target/mutants/<crate>/
# (missed.txt lists the survivors). Exits non-zero if any viable mutant
# survives or times out (for breaker-core: survives its tests, its loom
# models and the 32-bit path; see loom_pass and pass_32bit). Equivalent mutants are excluded, with reasons, in
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

# The exact names listed in a missed.txt, as one alternation for --re.
survivors() {
    sed 's/[][\.*^$+?(){}|\/]/\\&/g' "$1" | paste -sd'|'
}

# breaker-core's races are proven by its loom models, which only build with
# `--cfg loom`: a mutant that survives the ordinary tests gets a second chance
# to be caught by them (release build, as .ci/run runs them). Only what
# survives both counts as missed.
loom_pass() {
    local missed="target/mutants/breaker-core/mutants.out/missed.txt"
    [ -s "$missed" ] || return 0
    local names
    names=$(survivors "$missed")
    echo "=== cargo mutants -p breaker-core, survivors against the loom models"
    mkdir -p target/mutants/breaker-core-loom
    RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
        cargo mutants -p breaker-core --no-shuffle --profile release -C --test=loom \
        --re "^($names)\$" -o target/mutants/breaker-core-loom
}

# The critical-section cells and the 32-bit division (src/sync.rs, src/div.rs)
# are what 32-bit targets build; a host builds them with
# `--cfg breaker_32bit`. What survives the loom models goes through the whole
# suite once more on that path; only what survives all three counts.
pass_32bit() {
    local missed="target/mutants/breaker-core-loom/mutants.out/missed.txt"
    [ -s "$missed" ] || return 0
    local names
    names=$(survivors "$missed")
    echo "=== cargo mutants -p breaker-core, survivors on the 32-bit targets' path"
    mkdir -p target/mutants/breaker-core-32bit
    RUSTFLAGS="--cfg breaker_32bit" \
        cargo mutants -p breaker-core --all-features --no-shuffle \
        --re "^($names)\$" -o target/mutants/breaker-core-32bit
}

status=0
for crate in "${crates[@]}"; do
    echo "=== cargo mutants -p $crate"
    mkdir -p "target/mutants/$crate"
    rc=0
    cargo mutants -p "$crate" --all-features --no-shuffle -o "target/mutants/$crate" || rc=$?
    # cargo-mutants exits 2 for missed mutants, 3 for timeouts. In
    # breaker-core a timeout is a mutant that makes a test hang (an operator
    # loop that never ends, a wait that never wakes): the tests notice it.
    # Its survivors go on to the loom models.
    case "$crate:$rc" in
        *:0) ;;
        breaker-core:2 | breaker-core:3) loom_pass || pass_32bit || status=1 ;;
        *) status=1 ;;
    esac
done
exit "$status"
