#!/usr/bin/env bash
# SciFact train -> test (BENCHMARKS.md "SciFact"): the pipeline of params.yaml on a real collection, as one
# DVC experiment. Only the stages the listed evaluations need run: the miner and its mined negatives, the
# warm-up student (hard and random negatives), the three teachers, LEAD with the ColBERT teacher (raw and
# normalised per-layer scores), response-only KD from it, the PROD ladder (every step evaluated) and
# single-teacher KD from the cross-encoder for the ladder's length.
#
#   bash benchmarks/scifact.sh [SCIFACT_FOLDER] [extra dvc exp run options, e.g. -S train.seed=14]
#   SCIFACT_EXP=name SCIFACT_TARGETS="evaluate@student evaluate@student_random" bash benchmarks/scifact.sh
#   dvc exp show --only-changed -n scifact          # or: python -m benchmarks.seeds --experiments scifact
#
# Passages are cut at 128 tokens for every model (SciFact abstracts have a median of ~310 MiniLM tokens; the
# published zero-shot MiniLM figure uses 256) to keep the run near 80 minutes on 2 CPU cores. The path is
# made absolute because `--temp` runs in a copy of the repository under .dvc/tmp.
set -euo pipefail
data=$(realpath "${1:-../shared/data/scifact}")
shift || true
[ -f "$data/corpus.jsonl" ] || { echo "no BEIR SciFact at $data (corpus.jsonl missing)" >&2; exit 2; }

lengths=()
for model in de6 cb6 ce6 de2; do
  lengths+=(-S "models.$model.passage_max_length=128" -S "++models.$model.query_max_length=48")
done

export DVC_NO_ANALYTICS=1 TOKENIZERS_PARALLELISM=false
# SCIFACT_TARGETS: only these stages and what they need (default: every model the section reports).
# shellcheck disable=SC2206  # split on white space (stage names hold no glob characters)
targets=(${SCIFACT_TARGETS:-evaluate@zeroshot evaluate@miner evaluate@student evaluate@student_random
  evaluate@de_teacher evaluate@cb_teacher rerank@ce_teacher evaluate@lead_cb evaluate@lead_cb_norm evaluate@kd_cb
  evaluate@prod_tpd1 evaluate@prod_tpd2 evaluate@prod_tpd3 evaluate@prod_dpd evaluate@prod_ce_only})
dvc exp run --temp -n "${SCIFACT_EXP:-scifact}" "$@" \
  -S data.source=beir -S "data.path=$data" -S data.rel_threshold=1 "${lengths[@]}" "${targets[@]}"
