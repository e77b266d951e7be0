#!/usr/bin/env bash
# SciFact train -> test (BENCHMARKS.md "SciFact"): the pipeline of params.yaml on a real collection, as one
# DVC experiment. Only the stages the listed evaluations need run. Default: the zero-shot model, the warm-up
# student, the DE teacher, ColBERT, the cross-encoder and the fused teacher (`ce_fused`, PROD's top) re-ranking
# the student's top 30, and LEAD, response-only KD and NLL-only from the DE teacher; SCIFACT_TARGETS=all: the
# whole main table.
#
#   bash benchmarks/scifact.sh [SCIFACT_FOLDER] [extra dvc exp run options, e.g. -S train.seed=14]
#   SCIFACT_EXP=name SCIFACT_TARGETS="evaluate@student rerank@ce_teacher" bash benchmarks/scifact.sh
#   dvc exp show --only-changed -n scifact          # or: python -m benchmarks.seeds --experiments scifact
#
# Every model reads passages at 256 tokens (as the published zero-shot MiniLM figure, 0.645 NDCG@10) and
# queries at 48 (on CPU-2 the default targets take about 95 min: the cross-encoder's 200 steps 26 min, each
# distillation run 8.5 min, each full evaluation 3 min). The path is made absolute because `--temp` runs in a copy of the repository under .dvc/tmp.
set -euo pipefail
data=$(realpath "${1:-../shared/data/scifact}")
shift || true
[ -f "$data/corpus.jsonl" ] || { echo "no BEIR SciFact at $data (corpus.jsonl missing)" >&2; exit 2; }

lengths=()
for model in zeroshot student de6 cb6 ce6; do
  lengths+=(-S "models.$model.passage_max_length=256" -S "++models.$model.query_max_length=48")
done

export DVC_NO_ANALYTICS=1 TOKENIZERS_PARALLELISM=false
# SCIFACT_TARGETS: only these stages and what they need.
default_targets="evaluate@zeroshot evaluate@student evaluate@de_teacher rerank@cb_teacher
  rerank@ce_teacher rerank@ce_fused evaluate@lead_de evaluate@kd_de evaluate@no_kd"
targets=()
if [ "${SCIFACT_TARGETS:-}" != all ]; then
  # shellcheck disable=SC2206  # split on white space (stage names hold no glob characters)
  targets=(${SCIFACT_TARGETS:-$default_targets})
fi
# SciFact has no dev split (BEIR: train and test): the sweep that picks lead_cb's step on dev, and the evaluation of
# its pick, are left out (choosing on the test queries would report a selected figure as a held-out one).
no_dev=(-S "~sweep.lead_cb" -S "~eval.dense.lead_cb_best")
dvc exp run --temp -n "${SCIFACT_EXP:-scifact}" "$@" \
  -S data.source=beir -S "data.path=$data" -S data.rel_threshold=1 "${lengths[@]}" "${no_dev[@]}" \
  ${targets[@]+"${targets[@]}"}
