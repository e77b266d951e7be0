#!/usr/bin/env bash
# GPU figures for BENCHMARKS.md, in one run on a lent GPU machine (random-weight models of the default shapes;
# the MiniLM tokenizer saved to bench_assets/tokenizer and data/prepared travel with the working tree):
#   python -c "from lead.models.pretrained import load_tokenizer as t; t('packaged:all-MiniLM-L6-v2').save_pretrained('bench_assets/tokenizer')"
#   bash benchmarks/gpu_check.sh OUTDIR
set -uo pipefail
out=${1:-/tmp/gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" | tee -a "$out/gpu.txt"
tok=bench_assets/tokenizer
# warm-up training steps/s and encoding passages/s of the default models, fp32 vs bf16, batch 8 and 64 queries
python3 -m benchmarks.speed --device cuda --precision fp32 bf16 --random-weights $tok --batch-queries 8 64 \
  --steps 20 --warmup-steps 5 --encode-passages 1760 2>&1 | grep -v Loading | tee "$out/speed.txt"
# LEAD step vs response-KD step (default shapes: 6-layer MiniLM teacher, 2-layer student), DE and ColBERT teachers
for kind in de colbert; do
  python3 -m benchmarks.distill_step --shape minilm --tokenizer $tok --device cuda --precision fp32 bf16 \
    --teacher-kind $kind --batch-queries 64 --steps 20 --warmup-steps 5 2>&1 | grep -v Loading | tee "$out/step-minilm-$kind.txt"
done
# the paper's shape: BERT-base teacher (12 x 768) and its 6-layer student, passages of 144 tokens
for queries in 32 128; do
  python3 -m benchmarks.distill_step --shape paper --tokenizer $tok --device cuda --precision bf16 fp32 \
    --layers 5 --batch-queries $queries --steps 15 --warmup-steps 5 2>&1 | grep -v Loading | tee "$out/step-paper-b$queries.txt"
done
