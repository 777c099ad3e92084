#!/usr/bin/env bash
# The breaker's flash and RAM cost per target, measured, not estimated.
#
# On the Cortex-M targets the firmware is built twice, `--features minimal`
# (the sampling loop through a static breaker) and `--features no-breaker`
# (the same loop calling the sensor directly), with the release profile
# (opt-level "s", LTO); the cost is the difference. riscv32imc has no firmware
# here, so `probe/` (a bare loop around the sync `call`, the same two variants
# and profile) stands in for it. Flash is what the image stores (vector table,
# code, read-only data, unwind tables, initial values of .data); RAM is .data,
# .bss and .uninit. "locks" is portable-atomic's fallback `LOCKS` table (RAM).
#
# Usage: size.sh [--budget BYTES] [--symbols N] [--markdown]
#   --budget BYTES  exit 1 when the breaker's flash on thumbv7m-none-eabi
#                   exceeds BYTES
# It always exits 1 when any target links portable-atomic's lock table, or
# when the breaker links a panic (bounds check, division by zero...) that the
# bare loop does not.
#   --symbols N     list the N biggest breaker symbols on thumbv7m (default 12)
#   --markdown      print the table as Markdown (breaker-embassy's README)
#
# Needs llvm-size and llvm-nm (Debian's `llvm`, or rustup's `llvm-tools`
# component) and the thumbv6m, thumbv7m, thumbv7em and riscv32imc targets.
set -euo pipefail
cd "$(dirname "$0")"

budget=""
symbols=12
markdown=""
while [ $# -gt 0 ]; do
    case "$1" in
        --budget) budget="$2"; shift 2 ;;
        --symbols) symbols="$2"; shift 2 ;;
        --markdown) markdown=1; shift ;;
        *) echo "usage: $0 [--budget BYTES] [--symbols N] [--markdown]" >&2; exit 2 ;;
    esac
done

# llvm-size/llvm-nm from PATH, else from rustup's llvm-tools component.
tool() {
    if command -v "$1" >/dev/null; then
        command -v "$1"
        return
    fi
    local found
    found=$(find "$(rustc --print sysroot)/lib/rustlib" -path "*/bin/$1" 2>/dev/null | head -n1)
    [ -n "$found" ] || { echo "$1 not found: install llvm or rustup's llvm-tools" >&2; exit 2; }
    echo "$found"
}
SIZE=$(tool llvm-size)
NM=$(tool llvm-nm)

# A target directory of its own, so measuring never disturbs `cargo run`'s.
mkdir -p "${CARGO_TARGET_DIR:-target}/size"
out=$(cd "${CARGO_TARGET_DIR:-target}/size" && pwd)

build() { # target variant -> path of the ELF
    if [ "$1" = riscv32imc-unknown-none-elf ]; then
        (cd probe && cargo build --quiet --release --target "$1" --features "$2" \
            --target-dir "$out/probe-$2") >&2
        echo "$out/probe-$2/$1/release/breaker-size-probe"
    else
        cargo build --quiet --release --target "$1" --features "$2" --target-dir "$out/$2" >&2
        echo "$out/$2/$1/release/breaker-embassy-firmware"
    fi
}

# flash and RAM bytes of an ELF, from its section table.
footprint() {
    "$SIZE" -A "$1" | awk '
        $1 ~ /^\.(vector_table|text|s?rodata|eh_frame)$/ { flash += $2 }
        $1 ~ /^\.s?data$/ { flash += $2; ram += $2 }
        $1 ~ /^\.(s?bss|uninit)$/ { ram += $2 }
        END { print flash + 0, ram + 0 }'
}

# The panic entry points an ELF links (bounds checks, division by zero,
# overflow...), one name a line.
panics() {
    "$NM" --demangle "$1" | awk '{ print $NF }' | grep -E '^core::panicking::' | sed -E 's/::h[0-9a-f]+$//' | sort -u
}

# Bytes of portable-atomic's lock table linked into an ELF (0 if none).
locks() {
    "$NM" -S --radix=d --demangle "$1" | awk '/portable_atomic.*LOCKS/ { n += $2 } END { print n + 0 }'
}

row() { # target flash-with flash-without RAM-with RAM-without locks
    if [ -n "$markdown" ]; then
        printf '| `%s` | %s | %s | **%s** | %s | %s | **%s** | %s |\n' \
            "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8"
    else
        printf '%-28s %10s %10s %10s %10s %10s %10s %8s\n' "$@"
    fi
}
if [ -n "$markdown" ]; then
    echo '| target | flash | flash w/o | **breaker** | RAM | RAM w/o | **breaker** | locks |'
    echo '|---|---:|---:|---:|---:|---:|---:|---:|'
else
    row target "flash" "flash w/o" "breaker" "RAM" "RAM w/o" "breaker" "locks"
fi
lock_failure=""
panic_failure=""
for target in thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf; do
    with=$(build "$target" minimal)
    without=$(build "$target" no-breaker)
    read -r fw rw < <(footprint "$with")
    read -r fo ro < <(footprint "$without")
    lock_bytes=$(locks "$with")
    row "$target" "$fw" "$fo" $((fw - fo)) "$rw" "$ro" $((rw - ro)) "$lock_bytes"
    # The breaker never links a lock table: an interrupt handler could spin
    # on it forever (breaker-core keeps such targets' words in critical sections).
    [ "$lock_bytes" -eq 0 ] || lock_failure="$lock_failure $target"
    # Nor a panic of its own: its indexes and divisors are proven in range,
    # and a panic would link its message and formatting (0.2-1 KiB).
    own_panics=$(comm -23 <(panics "$with") <(panics "$without") | tr '\n' ' ')
    [ -z "$own_panics" ] || panic_failure="$panic_failure
  $target: $own_panics"
    if [ "$target" = thumbv7m-none-eabi ]; then
        v7m_cost=$((fw - fo))
        v7m_elf=$with
    fi
done

if [ "$symbols" -gt 0 ]; then
    echo
    echo "biggest breaker symbols on thumbv7m-none-eabi (bytes):"
    # Symbols of the breaker and of what it pulls in (64-bit division,
    # atomics). awk, not head, ends the list: head would break the pipe.
    "$NM" -S --radix=d --size-sort -r --demangle "$v7m_elf" |
        grep -E 'breaker_core|breaker_embassy::|portable_atomic|compiler_builtins' |
        awk -v n="$symbols" 'NR <= n { size = $2 + 0; $1 = $2 = $3 = ""; sub(/^ +/, ""); printf "%8d  %s\n", size, $0 }' |
        # llvm-nm leaves legacy-mangled escapes and hashes; spell them out.
        sed -E 's/::h[0-9a-f]+$//; s/\$LT\$/</g; s/\$GT\$/>/g; s/\$C\$/,/g; s/\$u20\$/ /g'
fi

if [ -n "$lock_failure" ]; then
    echo
    echo "FAIL: portable-atomic's lock table is linked on:$lock_failure"
    exit 1
fi

if [ -n "$panic_failure" ]; then
    echo
    echo "FAIL: the breaker links panics the bare loop does not:$panic_failure"
    exit 1
fi

if [ -n "$budget" ]; then
    echo
    if [ "$v7m_cost" -gt "$budget" ]; then
        echo "FAIL: the breaker adds $v7m_cost B of flash on thumbv7m-none-eabi, over the $budget B budget"
        exit 1
    fi
    echo "ok: the breaker adds $v7m_cost B of flash on thumbv7m-none-eabi (budget $budget B)"
fi
