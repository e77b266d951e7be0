#!/usr/bin/env bash
# The scale issue's GPU figures, in one run on a lent GPU machine (no network there). Prepare here:
#   python -c "from lead.models.pretrained import load_tokenizer as t; t('packaged:all-MiniLM-L6-v2').save_pretrained('bench_assets/tokenizer')"
#   mkdir -p bench_assets/data/mined && cp -r data/prepared bench_assets/data/ && cp data/mined/train.jsonl bench_assets/data/mined/
#   pip download accelerate datasets --no-deps -d bench_assets/wheels   # (+ dill multiprocess xxhash fsspec pyarrow)
# then carry bench_assets and run:  bash benchmarks/gpu_speed.sh OUTDIR
# Models are random-weight BERTs of the packaged MiniLM's shape (6 x 384) and of the paper's (12 x 768 teacher,
# 6-layer student) with the MiniLM tokenizer: speed does not depend on the weights' values.
set -uo pipefail
out=${1:-/tmp/gpu-speed}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
tok=bench_assets/tokenizer
data=bench_assets/data
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import datasets, accelerate" 2>/dev/null || python3 -m pip install -q --no-index --no-deps bench_assets/wheels/*.whl 2>&1 | tail -2
python3 -c "import torch, transformers, sentence_transformers as st; print('torch', torch.__version__, 'transformers', transformers.__version__, 'sentence-transformers', st.__version__)" | tee -a "$out/gpu.txt"
python3 -c "import datasets, accelerate; print('datasets', datasets.__version__, 'accelerate', accelerate.__version__)" 2>&1 | tail -1 | tee -a "$out/gpu.txt"
model=$(python3 -c "from pathlib import Path; from benchmarks.distill_step import random_folder; print(random_folder(Path('/tmp/lead-bench-models'), 6, 384, '$tok'))" 2>/dev/null | tail -1)
common="--model $model --data $data/prepared --train-file $data/mined/train.jsonl --device cuda --loader-workers 4"
# 1. ours vs sentence-transformers: training (batch 64 queries x 2 passages, 96 tokens) and encoding, bf16 then fp32
python3 -m benchmarks.vs_st $common --precision bf16 --batch-queries 64 --steps 30 --warmup-steps 5 --repeats 3 \
  --encode-passages 20000 --encode-batch 256 2>&1 | grep -v "Loading\|Warning\|warn" | tee "$out/vs_st_bf16.txt"
python3 -m benchmarks.vs_st $common --precision fp32 --batch-queries 64 --steps 30 --warmup-steps 5 --repeats 1 \
  --encode-passages 20000 --encode-batch 256 2>&1 | grep -v "Loading\|Warning\|warn" | tee "$out/vs_st_fp32.txt"
# 2. the paper-shaped LEAD step (BERT-base 12 -> 6 layers, 144-token passages, k=5), batches tokenized ahead
for queries in 128; do
  python3 -m benchmarks.distill_step --shape paper --tokenizer $tok --device cuda --precision bf16 --pretokenize \
    --layers 5 --batch-queries $queries --steps 15 --warmup-steps 5 2>&1 | grep -v Loading | tee "$out/step-paper-b$queries.txt"
done
# 3. the same with torch.compile (LEAD and KD only; compilation is in the warm-up steps)
timeout 150 python3 -m benchmarks.distill_step --shape paper --tokenizer $tok --device cuda --precision bf16 --pretokenize \
  --compile --variants kd lead --layers 5 --batch-queries 128 --steps 15 --warmup-steps 8 2>&1 | grep -v Loading | tee "$out/step-paper-b128-compile.txt"
