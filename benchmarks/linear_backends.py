"""fp32 Linear throughput of torch's default CPU path (MKL's sgemm) against oneDNN's (a mkldnn tensor through a
Linear converted by torch.utils.mkldnn), at the feed-forward's shape of the default's MiniLM. BENCHMARKS.md
"The same default on an AMD EPYC": whether a library switch would recover the time a CPU type loses.

    python -m benchmarks.linear_backends --threads 1
    python -m benchmarks.linear_backends --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils import mkldnn


def seconds_per_call(call, calls: int) -> float:
    call()  # first call: allocation and kernel choice
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rows", type=int, default=4096, help="tokens in a batch (64 passages x 64 tokens)")
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--intermediate", type=int, default=1536)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.rows, args.hidden)
    linear = torch.nn.Linear(args.hidden, args.intermediate).eval()
    onednn = mkldnn.to_mkldnn(linear)  # a converted copy with the same weights
    flops = 2 * args.rows * args.hidden * args.intermediate
    print(f"torch {torch.__version__}, {args.threads} thread(s), [{args.rows}, {args.hidden}] @ "
          f"[{args.hidden}, {args.intermediate}], {args.calls} calls a repeat")
    with torch.inference_mode():
        x_onednn = x.to_mkldnn()
        for repeat in range(args.repeats):
            mkl = flops / seconds_per_call(lambda: linear(x), args.calls) / 1e9
            dnn = flops / seconds_per_call(lambda: onednn(x_onednn), args.calls) / 1e9
            print(f"repeat {repeat + 1}: MKL {mkl:.1f} GFLOP/s, oneDNN {dnn:.1f} GFLOP/s, ratio {dnn / mkl:.2f}")


if __name__ == "__main__":
    main()
