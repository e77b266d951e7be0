#!/usr/bin/env bash
# The GPU checks of a user's path (README "On GPUs with MS MARCO"), in one call on a lent GPU machine:
#   1. evaluation on cuda: the stages themselves (prepare, init, evaluate zeroshot) on the embedded benchmark;
#      the stage log must say "(on cuda)"
#   2. ours vs sentence-transformers (benchmarks/vs_st.py), fp32 and bf16: training steps/s and encoding
#   3. the paper-shaped LEAD step (BERT-base 12 -> 6 layers, 144-token passages, k = 5, 128 queries), bf16, with
#      batches tokenized ahead: length buckets 1 and 4, then torch.compile; each prints its MFU
# Prepare here (the device machine has no network), then carry bench_assets:
#   python -c "from lead.models.pretrained import load_tokenizer as t; t('packaged:all-MiniLM-L6-v2').save_pretrained('bench_assets/tokenizer')"
#   mkdir -p bench_assets/data/mined && cp -r data/prepared bench_assets/data/ && cp data/mined/train.jsonl bench_assets/data/mined/
# Run:        bash benchmarks/gpu_path.sh OUTDIR
# Rehearse:   DEVICE=cpu bash benchmarks/gpu_path.sh /tmp/gpu-path-rehearsal   (tiny sizes; checks that every step runs)
set -uo pipefail
out=${1:-/tmp/gpu-path}
device=${DEVICE:-cuda}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
tok=bench_assets/tokenizer
data=bench_assets/data
if [ "$device" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
  queries=128; steps=15; warm=5; encode=20000; repeats=3; st_steps=30; shape=paper; k=5; compile_limit=300
else  # the rehearsal: every command once, at sizes a laptop runs in minutes (the MiniLM shape for the step)
  queries=4; steps=2; warm=1; encode=64; repeats=1; st_steps=3; shape=minilm; k=2; compile_limit=1200
fi
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" | tee -a "$out/gpu.txt"
status=0
step() {  # step LABEL COMMAND...: its output in OUTDIR/<label>.txt, ok or FAILED in summary.txt
  local label=$1 file="$out/$(echo "$1" | tr -c 'a-z0-9' '_').txt"; shift
  echo "== $label" >> "$out/summary.txt"
  "$@" 2>&1 | grep -v "Loading\|Warning\|warn" | tee "$file"
  if [ "${PIPESTATUS[0]}" = 0 ]; then echo "ok: $file" >> "$out/summary.txt"; else echo "FAILED: $label" | tee -a "$out/summary.txt"; status=1; fi
}

# 1. evaluation on the device: the stage modules as dvc repro runs them (eval.use_gpu: null = when available)
work=$(mktemp -d)
cp -r dvc.yaml params.yaml lead stages "$work"/
(cd "$work" && python3 -m stages.prepare && python3 -m stages.init && python3 -m stages.evaluate zeroshot) 2>&1 | tail -3 | tee "$out/evaluate.txt"
grep -q "(on $device)" "$out/evaluate.txt" && echo "evaluation ran on $device" | tee -a "$out/summary.txt" \
  || { echo "evaluation did not say (on $device)" | tee -a "$out/summary.txt"; status=1; }

# 2. ours vs sentence-transformers, bf16 then fp32 (random-weight MiniLM shape: speed does not depend on weights)
model=$(python3 -c "from pathlib import Path; from benchmarks.distill_step import random_folder; print(random_folder(Path('/tmp/lead-bench-models'), 6, 384, '$tok'))" 2>/dev/null | tail -1)
common="--model $model --data $data/prepared --train-file $data/mined/train.jsonl --device $device --loader-workers 2"
for precision in bf16 fp32; do
  step "vs_st $precision" python3 -m benchmarks.vs_st $common --precision $precision --batch-queries $((queries / 2)) \
    --steps $st_steps --warmup-steps $warm --repeats $repeats --encode-passages $encode --encode-batch 256
done

# 3. the paper-shaped LEAD step: length buckets 1 and 4, then torch.compile (compilation in the warm-up steps)
for buckets in 1 4; do
  step "paper step, length_buckets $buckets" python3 -m benchmarks.distill_step --shape $shape --tokenizer $tok \
    --device $device --precision bf16 --pretokenize --length-buckets $buckets --layers $k --batch-queries $queries \
    --steps $steps --warmup-steps $warm
done
step "paper step, torch.compile" timeout $compile_limit python3 -m benchmarks.distill_step --shape $shape --tokenizer $tok \
  --device $device --precision bf16 --pretokenize --compile --variants kd lead --layers $k --batch-queries $queries \
  --steps $steps --warmup-steps $((warm + 3))
rm -rf "$work"
exit $status
