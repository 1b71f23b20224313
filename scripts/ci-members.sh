#!/usr/bin/env bash
# The members, installed from the committed lock and run: what .ci/run and the CPU workflow call.
#   1. `uv sync --frozen --package train` into its own environment, then train-smoke (real LoRA SFT steps on a tiny
#      model; Unsloth 2026.10 trains on CPU when there is no GPU).
#   2. `uv sync --frozen --package serve` into another environment, then serve-smoke on what train-smoke saved
#      (CPU checks; generation too when a GPU is visible).
#   3. `lockgen verify --offline --no-smoke`: each member again in a throwaway venv from the (now warm) cache, every
#      direct dependency imported, torch's CUDA against the lock, transformers sees torch, tokenizer round trips
#      (the smokes ran above). Measured warm on the 2-core dev host: 52 s for both members (install 2-4 s each).
# Each step prints its wall time. Environment: UV (the uv binary, default `uv`), UV_PYTHON as for any uv call,
# CI_MEMBERS_WORK (work directory, default a fresh temporary one, removed at the end unless CI_MEMBERS_KEEP=1).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
uv_bin="${UV:-uv}"
work="${CI_MEMBERS_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/ci-members.XXXXXX")}"
mkdir -p "$work"
if [ "${CI_MEMBERS_KEEP:-0}" != 1 ] && [ -z "${CI_MEMBERS_WORK:-}" ]; then
  trap 'rm -rf "$work"' EXIT
fi

timings=()
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
step() {
  # step NAME COMMAND...: run it, print and record its wall time; stop the script when it fails
  local name=$1 start end
  shift
  printf '\n== ci-members: %s\n' "$name"
  start=$(date +%s.%N)
  if ! "$@"; then
    echo "ci-members: FAILED: $name" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  timings+=("$(printf '%-32s %6s s' "$name" "$(elapsed "$start" "$end")")")
}

total_start=$(date +%s.%N)
step "train: uv sync --frozen" env UV_PROJECT_ENVIRONMENT="$work/train-env" "$uv_bin" sync --frozen --package train
step "train: train-smoke" "$work/train-env/bin/train-smoke" --out "$work/smoke"
step "serve: uv sync --frozen" env UV_PROJECT_ENVIRONMENT="$work/serve-env" "$uv_bin" sync --frozen --package serve
step "serve: serve-smoke" "$work/serve-env/bin/serve-smoke" --work "$work/smoke"
step "lockgen verify (imports, CUDA)" "$uv_bin" run --frozen lockgen verify --offline --no-smoke
total_end=$(date +%s.%N)

printf '\n== ci-members: wall times\n'
printf '%s\n' "${timings[@]}"
printf '%-32s %6s s\n' "total" "$(elapsed "$total_start" "$total_end")"
echo "ci-members: ok (train env, train-smoke, serve env, serve-smoke, lockgen verify)"
