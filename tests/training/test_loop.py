"""The training loop in one process: it learns, it is deterministic, a killed run resumes to the same
weights, the sampler's batches are a pure function of (seed, step), and gradient accumulation is exact."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertModel

from lead.config import ScorerConfig, TrainConfig
from lead.data.examples import BatchSampler, PassageStore, QueryExample
from lead.errors import OutOfMemory
from lead.models.factory import build_scorer
from lead.models.pretrained import load_tokenizer
from lead.training.loop import CheckpointError, Trainer
from lead.training.methods import Warmup
from tests.helpers import TrainingData, synthetic_training_data, tiny_bert_folder

REPO = Path(__file__).resolve().parents[2]




@pytest.fixture(scope="module")
def training(tmp_path_factory) -> TrainingData:
    return synthetic_training_data(tmp_path_factory.mktemp("prepared") / "data")


@pytest.fixture(scope="module")
def data(training) -> Path:
    return training.folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(tiny_bert_folder(tmp_path_factory.mktemp("tiny") / "bert", layers=2, hidden=32))


@pytest.fixture(scope="module")
def examples(training) -> list[QueryExample]:
    return training.examples


@pytest.fixture(scope="module")
def store(training) -> PassageStore:
    return training.store


def de_config(tiny: str) -> ScorerConfig:
    # Mean pooling: a random tiny BERT's CLS vector barely depends on the input, so CLS pooling hardly learns.
    return ScorerConfig(kind="de", name=tiny, pooling="mean", query_max_length=16, passage_max_length=64)


def train(method, examples, store, config: TrainConfig, run: Path) -> dict:
    sampler = BatchSampler(examples, store, config.batch_queries, config.negatives, config.negative_sampling, seed=config.seed)
    return Trainer(method, sampler, config, run / "out", run / "checkpoints", run / "logs").train()


def tsv_rows(path: Path) -> list[list[str]]:
    lines = path.read_text().splitlines()
    assert lines[0].split("\t")[0] == "step", lines[0]
    return [line.split("\t") for line in lines[1:]]


# -- the loop ------------------------------------------------------------------------------------------


def test_warmup_training_lowers_the_loss_on_a_fixed_batch(tiny, examples, store, tmp_path, caplog):
    caplog.set_level(logging.INFO)  # as the stages' setup_logging does
    scorer = build_scorer(de_config(tiny))
    method = Warmup(scorer, "in_batch")
    fixed = BatchSampler(examples, store, 8, 1, seed=99).batch(0)  # 8 queries x 16 candidates

    def fixed_loss() -> float:
        scorer.eval()
        with torch.no_grad():
            return method.loss(fixed, {"model": scorer}, 0)[0].item()

    before = fixed_loss()
    config = TrainConfig(steps=30, batch_queries=4, negatives=1, lr=3e-3, checkpoint_every=100, log_every=10)
    terms = train(method, examples, store, config, tmp_path)
    after = fixed_loss()
    assert before > 2.7  # about log(16): an untrained model cannot tell the candidates apart
    assert after < before - 0.2, (before, after)
    assert set(terms) == {"loss"}
    assert (tmp_path / "out" / "scorer.json").is_file()
    assert [row[0] for row in tsv_rows(tmp_path / "logs" / "plots" / "metrics" / "train" / "loss.tsv")] == ["10", "20", "30"]
    stage_log = (tmp_path / "logs" / "stage.log").read_text()
    assert "training " in stage_log and "steps 1-30 of 30" in stage_log and "finished " in stage_log
    # what made it, in the log and beside the model: 1 CPU process, 4 queries x (1 positive + 1 negative) in-batch
    assert "hardware: processes=1, device=cpu, precision=fp32" in stage_log
    record = json.loads((tmp_path / "out" / "training.json").read_text())
    assert record == {"processes": 1, "device": "cpu", "precision": "fp32", "batch_queries_per_process": 4, "grad_accum": 1,
                      "global_batch_queries": 4, "candidates": "in_batch", "gathered_across_processes": False,
                      "candidates_per_query": 8, "steps": 30}


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "encoder" / "model.safetensors"))


def test_same_seed_gives_bit_identical_weights_and_another_seed_does_not(tiny, examples, store, tmp_path):
    results = {}
    for name, seed in [("a", 13), ("b", 13), ("c", 14)]:
        config = TrainConfig(steps=4, batch_queries=4, negatives=1, lr=1e-3, seed=seed, checkpoint_every=100)
        train(Warmup(build_scorer(de_config(tiny)), "in_batch"), examples, store, config, tmp_path / name)
        results[name] = _weights(tmp_path / name / "out")
    assert results["a"].keys() == results["b"].keys()
    for key in results["a"]:
        assert torch.equal(results["a"][key], results["b"][key]), key
    changed = [key for key in results["a"] if not torch.equal(results["a"][key], results["c"][key])]
    assert len(changed) > len(results["a"]) // 2


def test_loader_workers_and_gradient_checkpointing_leave_the_weights_unchanged(tiny, examples, store, tmp_path):
    """Tokenizing in two worker processes gives the batches (and so the weights) of tokenizing in the step;
    recomputing activations in the backward gives the same gradients up to float rounding."""
    weights = {}
    for name, extra in [("inline", {}), ("workers", {"loader_workers": 2}), ("checkpointing", {"gradient_checkpointing": True})]:
        config = TrainConfig(steps=4, batch_queries=4, negatives=1, lr=1e-3, checkpoint_every=100, **extra)
        train(Warmup(build_scorer(de_config(tiny)), "in_batch"), examples, store, config, tmp_path / name)
        weights[name] = _weights(tmp_path / name / "out")
    for key, value in weights["inline"].items():
        assert torch.equal(value, weights["workers"][key]), key
        torch.testing.assert_close(value, weights["checkpointing"][key], rtol=1e-4, atol=1e-5, msg=key)


def test_length_buckets_train_to_the_same_weights_without_dropout(tiny, examples, store, tmp_path):
    """Encoding in length-sorted chunks is the same arithmetic up to float rounding; only dropout masks, drawn
    per call, differ (so with dropout on, a bucketed run differs from an unbucketed one as another seed would)."""
    weights = {}
    for name, buckets in [("whole", 1), ("buckets", 3)]:
        scorer = build_scorer(de_config(tiny))
        for module in scorer.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        config = TrainConfig(steps=4, batch_queries=4, negatives=1, lr=1e-3, checkpoint_every=100, length_buckets=buckets)
        calls = []
        hook = scorer.passage_encoder.register_forward_pre_hook(lambda m, a, kw: calls.append(kw["input_ids"].shape),
                                                                 with_kwargs=True)
        train(Warmup(scorer, "in_batch"), examples, store, config, tmp_path / name)
        hook.remove()
        assert scorer.length_buckets == buckets and len(calls) == 4 * 2 * buckets  # 4 steps: queries, passages
        weights[name] = _weights(tmp_path / name / "out")
    for key, value in weights["whole"].items():
        torch.testing.assert_close(value, weights["buckets"][key], rtol=1e-4, atol=1e-5, msg=key)


def test_the_loader_hands_over_the_samplers_batches_with_every_roles_tokens(tiny, examples, store):
    from lead.training.loader import tokenized_batches

    scorer = build_scorer(de_config(tiny))
    sampler = BatchSampler(examples, store, 4, 1, seed=5)
    batches = list(tokenized_batches(sampler, {"model": scorer.tokenize}, first=3, end=6, workers=1))
    assert len(batches) == 3
    for index, batch in zip(range(3, 6), batches):
        expected = sampler.batch(index)
        assert (batch.qids, batch.pids) == (expected.qids, expected.pids)
        assert batch.tokens.keys() == {"model"}
        for key, value in scorer.tokenize(expected).items():
            assert torch.equal(batch.tokens["model"][key], value), key


class Crash(Exception):
    pass


def test_checkpoints_are_pruned_resumed_only_with_the_same_fingerprint_and_removed_at_the_end(tiny, examples, store, tmp_path):
    config = TrainConfig(steps=8, batch_queries=4, negatives=1, checkpoint_every=2, keep_checkpoints=2, log_every=1,
                         snapshot_every=3)
    sampler = BatchSampler(examples, store, config.batch_queries, config.negatives, seed=config.seed)
    method = Warmup(build_scorer(de_config(tiny)), "in_batch")
    loss = method.loss

    def crash_at_step_5(batch, models, step):
        if step == 5:
            raise Crash
        return loss(batch, models, step)

    method.loss = crash_at_step_5
    folders = [tmp_path / "out", tmp_path / "checkpoints", tmp_path / "logs"]
    with pytest.raises(Crash):
        Trainer(method, sampler, config, *folders, fingerprint="inputs-a").train()
    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if not p.name.startswith("."))
    assert kept == ["snapshots", "step-0000002", "step-0000004"]  # snapshots are never pruned
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "snapshots").iterdir()) == ["step-0000003"]
    state = tmp_path / "checkpoints" / "step-0000004"
    assert {p.name for p in state.iterdir()} == {"model", "optimizer.pt", "scheduler.pt", "state.json"}
    assert not (tmp_path / "out").exists()

    method.loss = loss
    assert Trainer(method, sampler, config, *folders, fingerprint="inputs-a").resume() == 4
    Trainer(method, sampler, config, *folders, fingerprint="inputs-a").train()  # resumes from step 4
    assert (tmp_path / "out" / "scorer.json").is_file()
    assert not (tmp_path / "checkpoints").exists()  # a complete run leaves nothing to resume
    # ... but its snapshots, moved into the output: the one from before the crash and the one after, the final
    # model being the output itself.
    snapshots = tmp_path / "out" / "snapshots"
    assert sorted(p.name for p in snapshots.iterdir()) == ["run.json", "step-0000003", "step-0000006"]
    assert json.loads((snapshots / "run.json").read_text()) == {"final_step": 8}
    assert (snapshots / "step-0000006" / "scorer.json").is_file()
    assert not torch.equal(_weights(snapshots / "step-0000006")["embeddings.word_embeddings.weight"],
                           _weights(tmp_path / "out")["embeddings.word_embeddings.weight"])  # two steps apart
    assert [int(row[0]) for row in tsv_rows(tmp_path / "logs" / "plots" / "metrics" / "train" / "loss.tsv")] == list(range(1, 9))

    method.loss = crash_at_step_5
    with pytest.raises(Crash):
        Trainer(method, sampler, config, *folders, fingerprint="inputs-a").train()
    assert Trainer(method, sampler, config, *folders, fingerprint="inputs-b").resume() == 0  # other inputs
    assert not (tmp_path / "checkpoints").exists()  # ... and their checkpoints and snapshots are gone


def test_snapshot_models_must_name_models_the_run_trains(tiny, examples, store, tmp_path):
    config = TrainConfig(steps=4, batch_queries=4, negatives=1, snapshot_every=2, snapshot_models=["student"])
    with pytest.raises(ValueError, match=r"train.snapshot_models: \['student'\] are not models this run trains \(model\)"):
        train(Warmup(build_scorer(de_config(tiny)), "in_batch"), examples, store, config, tmp_path)


def test_a_run_that_starts_over_drops_snapshots_left_by_an_earlier_start(tiny, examples, store, tmp_path):
    stale = tmp_path / "checkpoints" / "snapshots" / "step-0000002"  # killed before its first checkpoint
    stale.mkdir(parents=True)
    config = TrainConfig(steps=4, batch_queries=4, negatives=1, checkpoint_every=100, snapshot_every=3)
    train(Warmup(build_scorer(de_config(tiny)), "in_batch"), examples, store, config, tmp_path)
    assert sorted(p.name for p in (tmp_path / "out" / "snapshots").iterdir()) == ["run.json", "step-0000003"]


TRAIN_SCRIPT = """
import logging, sys, time
from pathlib import Path

from lead.config import TrainConfig
from lead.data.examples import BatchSampler, PassageStore, examples_from_qrels
from lead.data.prepared import PreparedData
from lead.config import ScorerConfig
from lead.models.factory import build_scorer
from lead.training.loop import CheckpointError, Trainer
from lead.training.methods import Warmup

model, data, run, pause = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
logging.basicConfig(level=logging.INFO)
config = TrainConfig(steps=15, batch_queries=4, negatives=1, lr=1e-3, checkpoint_every=3, keep_checkpoints=2, log_every=1)
prepared = PreparedData(data)
examples = examples_from_qrels(prepared.queries("train"), prepared.qrels("train"))
sampler = BatchSampler(examples, PassageStore(data / "collection.tsv"), config.batch_queries, config.negatives, seed=config.seed)
scorer = build_scorer(ScorerConfig(name=model, pooling="mean", query_max_length=16, passage_max_length=64))
method = Warmup(scorer, "in_batch")
if pause:  # a slow run, so that the test can kill it between two checkpoints
    loss = method.loss
    def slow_loss(*args):
        time.sleep(pause)
        return loss(*args)
    method.loss = slow_loss
Trainer(method, sampler, config, run / "out", run / "checkpoints", run / "logs").train()
print("DONE")
"""


def _logged_steps(tsv: Path) -> list[int]:
    if not tsv.is_file():
        return []
    try:
        return [int(row[0]) for row in tsv_rows(tsv)]
    except (ValueError, IndexError, AssertionError):  # a row being written
        return []


def test_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(tiny, data, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}

    def start(run: str, pause: float) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{run}-{time.monotonic_ns()}.log"
        with open(log, "w") as out:
            process = subprocess.Popen([sys.executable, str(script), tiny, str(data), str(tmp_path / run), str(pause)],
                                       cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        return process, log

    straight, straight_log = start("straight", 0)
    victim, victim_log = start("resumed", 0.15)
    resumed = None
    try:
        checkpoints = tmp_path / "resumed" / "checkpoints"
        loss_tsv = tmp_path / "resumed" / "logs" / "plots" / "metrics" / "train" / "loss.tsv"
        deadline = time.monotonic() + 180
        while not (checkpoints / "step-0000006").is_dir():
            assert victim.poll() is None, f"the run ended before its step-6 checkpoint:\n{victim_log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no step-6 checkpoint within 180 s"
            time.sleep(0.01)
        # Let it log a step past the checkpoint (the resumed run must drop that row and log the step again).
        patience = time.monotonic() + 3
        while max(_logged_steps(loss_tsv), default=0) < 7 and time.monotonic() < patience and victim.poll() is None:
            time.sleep(0.01)
        victim.kill()  # SIGKILL: no clean-up of any kind
        assert victim.wait(timeout=30) == -9, victim_log.read_text()[-3000:]
        assert not (tmp_path / "resumed" / "out").exists(), "killed too late: the run had finished"
        kept = sorted(int(p.name.split("-")[1]) for p in checkpoints.iterdir() if p.name.startswith("step-"))
        assert len(kept) == 2 and kept[1] - kept[0] == 3, kept  # keep_checkpoints=2
        resumed_from = kept[-1]
        assert 6 <= resumed_from < 15

        resumed, resumed_log = start("resumed", 0)
        assert resumed.wait(timeout=300) == 0, resumed_log.read_text()[-3000:]
        assert straight.wait(timeout=300) == 0, straight_log.read_text()[-3000:]
        assert f"resumed from {checkpoints / f'step-{resumed_from:07d}'} (step {resumed_from} of 15)" in resumed_log.read_text()
        assert "resumed from" not in straight_log.read_text()
        assert not checkpoints.exists()  # removed once the run is complete
    finally:  # never leave a training process behind
        for process in (straight, victim, resumed):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()

    a, b = _weights(tmp_path / "straight" / "out"), _weights(tmp_path / "resumed" / "out")
    assert a.keys() == b.keys() and len(a) > 10
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after kill and resume"

    # Every step logged exactly once, with the values of the uninterrupted run.
    for metric in ("loss", "lr"):
        resumed_rows = tsv_rows(tmp_path / "resumed" / "logs" / "plots" / "metrics" / "train" / f"{metric}.tsv")
        straight_rows = tsv_rows(tmp_path / "straight" / "logs" / "plots" / "metrics" / "train" / f"{metric}.tsv")
        assert [int(row[0]) for row in resumed_rows] == list(range(1, 16)), metric
        assert [row[:2] for row in resumed_rows] == [row[:2] for row in straight_rows], metric


def test_resume_drops_rows_after_the_checkpoint_and_survives_a_cut_summary(tmp_path):
    """A kill while DVCLive rewrites metrics.json leaves it empty; resuming must not choke on it."""
    from dvclive import Live

    from lead.training.loop import _truncate_logs

    live = Live(dir=str(tmp_path), dvcyaml=None, save_dvc_exp=False, report=None)
    for step in range(1, 9):
        live.step = step
        live.log_metric("train/loss", 1.0 / step)
        live.next_step()
    (tmp_path / "metrics.json").write_text("")  # killed between truncating and writing it
    _truncate_logs(tmp_path, 6)
    tsv = tmp_path / "plots" / "metrics" / "train" / "loss.tsv"
    assert [int(row[0]) for row in tsv_rows(tsv)] == [1, 2, 3, 4, 5, 6]
    live = Live(dir=str(tmp_path), resume=True, dvcyaml=None, save_dvc_exp=False, report=None)
    live.step = 7
    live.log_metric("train/loss", 0.5)
    live.next_step()
    assert [int(row[0]) for row in tsv_rows(tsv)] == [1, 2, 3, 4, 5, 6, 7]
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"train": {"loss": 0.5}, "step": 7}


def test_cross_encoder_needs_own_candidates(tiny):
    with pytest.raises(ValueError, match="candidates: own"):
        Warmup(build_scorer(ScorerConfig(kind="ce", name=tiny)), "in_batch")


def test_train_config_rejects_bad_values():
    with pytest.raises(ValueError, match="grad_accum must be >= 1"):
        TrainConfig(grad_accum=0)
    with pytest.raises(ValueError, match="warmup_ratio"):
        TrainConfig(warmup_ratio=1.0)
    with pytest.raises(ValueError, match="keep_checkpoints must be >= 1"):  # 0 kept every one ([:-0] is empty)
        TrainConfig(keep_checkpoints=0)


# -- gradient accumulation -----------------------------------------------------------------------------


def test_accumulated_gradient_equals_the_big_batch_gradient_with_own_candidates(tmp_path, examples, store, monkeypatch):
    """grad_accum=2 x 2 queries = one batch of 4 queries, for a loss over each query's own group (no dropout)."""
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    folder = tmp_path / "nodropout"
    BertModel(config).save_pretrained(folder)
    load_tokenizer("packaged:all-MiniLM-L6-v2").save_pretrained(folder)
    torch.manual_seed(0)
    base = build_scorer(ScorerConfig(kind="ce", name=str(folder), query_max_length=16, passage_max_length=48))
    # one positive each and fixed, ordered negatives: a query's group does not depend on the step
    pids = store.pids
    fixed = [QueryExample(e.qid, e.query, e.positives[:1], [p for p in pids[i : i + 6] if p not in e.positives])
             for i, e in enumerate(examples)]

    grads: dict[str, dict[str, torch.Tensor]] = {}
    clip = torch.nn.utils.clip_grad_norm_

    def run(name: str, batch_queries: int, grad_accum: int) -> dict:
        scorer = copy.deepcopy(base)

        def capture(params, *args, **kwargs):
            grads[name] = {n: p.grad.clone() for n, p in scorer.named_parameters() if p.grad is not None}
            return clip(params, *args, **kwargs)

        monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", capture)
        config = TrainConfig(steps=1, batch_queries=batch_queries, grad_accum=grad_accum, negatives=2, candidates="own",
                             negative_sampling="descend", lr=1e-3, checkpoint_every=100)
        return train(Warmup(scorer, "own"), fixed, store, config, tmp_path / name)

    big = run("big", 4, 1)
    accumulated = run("accumulated", 2, 2)
    assert big["loss"] == pytest.approx(accumulated["loss"], abs=1e-6)
    assert grads["big"].keys() == grads["accumulated"].keys() and len(grads["big"]) > 10
    assert any(g.abs().sum() > 0 for g in grads["big"].values())
    for key, g in grads["big"].items():
        torch.testing.assert_close(grads["accumulated"][key], g, atol=1e-6, rtol=1e-4, msg=key)


# -- the batch sampler ---------------------------------------------------------------------------------


def test_global_batch_is_the_same_on_one_rank_or_split_over_two(examples, store):
    one = BatchSampler(examples, store, queries_per_rank=4, negatives=2, seed=5, world_size=1)
    two = BatchSampler(examples, store, queries_per_rank=2, negatives=2, seed=5, world_size=2)
    assert one.steps_per_epoch == two.steps_per_epoch == 5
    for step in range(12):  # across epoch boundaries
        whole = one.batch(step)
        left, right = two.batch(step, rank=0), two.batch(step, rank=1)
        assert whole.qids == left.qids + right.qids
        assert whole.queries == left.queries + right.queries
        assert whole.pids == left.pids + right.pids
        assert whole.passages == left.passages + right.passages
        assert len(left.qids) == len(right.qids) == 2 and left.group_size == whole.group_size == 3
        assert [p.pid for p in whole.passages] == whole.pids


def test_an_epoch_visits_every_query_once_and_batches_depend_on_seed_and_step_only(examples, store):
    sampler = BatchSampler(examples, store, queries_per_rank=4, negatives=1, seed=5)
    epoch = [qid for step in range(5) for qid in sampler.batch(step).qids]
    assert sorted(epoch) == sorted(e.qid for e in examples)
    again = BatchSampler(examples, store, queries_per_rank=4, negatives=1, seed=5)
    assert again.batch(7) == sampler.batch(7) and again.batch(3) == sampler.batch(3)  # any order of calls
    other = BatchSampler(examples, store, queries_per_rank=4, negatives=1, seed=6)
    assert [other.batch(s).pids for s in range(5)] != [sampler.batch(s).pids for s in range(5)]
    assert [sampler.batch(s).qids for s in range(5)] != [sampler.batch(s).qids for s in range(5, 10)]  # reshuffled


def test_random_negatives_never_include_a_positive(examples, store):
    by_qid = {e.qid: e for e in examples}
    sampler = BatchSampler(examples, store, queries_per_rank=4, negatives=7, seed=1)
    for step in range(20):
        batch = sampler.batch(step)
        for i, qid in enumerate(batch.qids):
            group = batch.pids[i * 8 : (i + 1) * 8]
            assert group[0] in by_qid[qid].positives
            assert not set(group[1:]) & set(by_qid[qid].positives)
            assert len(set(group[1:])) == 7  # distinct
    # With every other passage judged positive, the only negatives left are the rest.
    few = store.pids[:3]
    greedy = [QueryExample("q", "text", [p for p in store.pids if p not in few])]
    assert sorted(BatchSampler(greedy, store, 1, 3, seed=2).batch(0).pids[1:]) == sorted(few)


def test_descend_takes_the_first_negatives_and_a_short_list_is_repeated(store):
    pids = store.pids
    ranked = QueryExample("a", "query a", [pids[0]], pids[10:16])
    short = QueryExample("b", "query b", [pids[1]], [pids[20], pids[21]])
    descend = BatchSampler([ranked, short], store, queries_per_rank=2, negatives=3, sampling="descend", seed=0)
    batch = descend.batch(0)
    groups = {batch.qids[i]: batch.pids[i * 4 : (i + 1) * 4] for i in range(2)}
    assert groups["a"] == [pids[0], pids[10], pids[11], pids[12]]
    assert groups["b"] == [pids[1], pids[20], pids[21], pids[20]]
    five = BatchSampler([short], store, queries_per_rank=1, negatives=5, sampling="descend").batch(0).pids
    assert five == [pids[1], pids[20], pids[21], pids[20], pids[21], pids[20]]
    # random sampling repeats the shuffled short list: every entry, each as often as the others (give or take one)
    orders = set()
    three = QueryExample("c", "query c", [pids[1]], [pids[20], pids[21], pids[22]])
    for step in range(10):
        drawn = BatchSampler([short], store, queries_per_rank=1, negatives=5, sampling="random", seed=3).batch(step).pids[1:]
        assert sorted(drawn.count(p) for p in set(drawn)) == [2, 3] and set(drawn) == {pids[20], pids[21]}
        drawn = BatchSampler([three], store, queries_per_rank=1, negatives=4, sampling="random", seed=3).batch(step).pids[1:]
        assert set(drawn) == {pids[20], pids[21], pids[22]} and drawn[3] == drawn[0]  # was: one entry could be missed
        orders.add(tuple(drawn[:3]))
        ranked_draw = BatchSampler([ranked], store, 1, 3, sampling="random", seed=3).batch(step).pids[1:]
        assert set(ranked_draw) <= set(pids[10:16]) and len(set(ranked_draw)) == 3
    assert len(orders) > 1  # shuffled


def test_random_negatives_fail_instead_of_looping_when_the_collection_is_too_small(store):
    almost_all = QueryExample("q", "text", store.pids[2:])  # only 2 passages are not positives
    assert len(BatchSampler([almost_all], store, 1, 2, seed=0).batch(0).pids) == 3
    with pytest.raises(ValueError, match="3 random negatives wanted but the collection has only 2 passages"):
        BatchSampler([almost_all], store, 1, 3, seed=0).batch(0)


def test_sampler_rejects_impossible_batches(examples, store):
    with pytest.raises(ValueError, match="no training examples"):
        BatchSampler([], store, 2, 1)
    with pytest.raises(ValueError, match=r"global batch of 24 queries \(12 per process x 2\) but only 20"):
        BatchSampler(examples, store, 12, 1, world_size=2)


def test_out_of_memory_names_the_params_that_shrink_the_step(tiny, examples, store, tmp_path):
    method = Warmup(build_scorer(de_config(tiny)), "in_batch")

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    method.loss = oom
    config = TrainConfig(steps=2, batch_queries=4, negatives=1, checkpoint_every=100)
    with pytest.raises(OutOfMemory, match=r"at step 0: out of GPU memory \(CUDA out of memory.*lower train\.batch_queries "
                       r"\(now 4\) and raise train\.grad_accum \(now 1\)"):
        train(method, examples, store, config, tmp_path)
    method.loss = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory"))
    with pytest.raises(OutOfMemory, match="out of CPU memory"):
        train(method, examples, store, config, tmp_path)
    method.loss = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="^shape mismatch$"):  # other errors pass through unchanged
        train(method, examples, store, config, tmp_path)


def test_a_corrupted_or_foreign_checkpoint_fails_with_the_folder_and_the_fix(tiny, examples, store, tmp_path):
    config = TrainConfig(steps=4, batch_queries=4, negatives=1, checkpoint_every=2, log_every=1)
    sampler = BatchSampler(examples, store, config.batch_queries, config.negatives, seed=config.seed)
    method = Warmup(build_scorer(de_config(tiny)), "in_batch")
    folders = [tmp_path / "out", tmp_path / "checkpoints", tmp_path / "logs"]
    trainer = Trainer(method, sampler, config, *folders, fingerprint="x")
    trainer.save_checkpoint(2)
    state = tmp_path / "checkpoints" / "step-0000002"
    (state / "optimizer.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match=r"step-0000002: cannot resume from this checkpoint .*delete .*checkpoints to start"):
        Trainer(method, sampler, config, *folders, fingerprint="x").resume()
    # a checkpoint of another shape (into a model cut to 1 layer) is refused the same way
    trainer.save_checkpoint(2)
    other = Warmup(build_scorer(dataclasses.replace(de_config(tiny), num_layers=1)), "in_batch")
    with pytest.raises(CheckpointError, match="cannot resume from this checkpoint"):
        Trainer(other, sampler, config, *folders, fingerprint="x").resume()


def test_only_the_newest_checkpoints_are_kept_and_a_resume_with_accumulation_replays_the_right_micro_batches(
        tiny, examples, store, tmp_path):
    """keep_checkpoints 2 of checkpoints at 2, 4, 6; and with grad_accum 2 a run killed at step 7 and resumed
    from step 6 reaches the uninterrupted run's weights (its loader restarts at micro-batch 12, not 6)."""
    config = TrainConfig(steps=8, batch_queries=4, negatives=1, checkpoint_every=2, keep_checkpoints=2, log_every=4,
                         grad_accum=2)
    sampler = BatchSampler(examples, store, config.batch_queries, config.negatives, seed=config.seed)

    def trainer(name: str, crash_at: int | None = None) -> Trainer:
        torch.manual_seed(0)
        method = Warmup(build_scorer(de_config(tiny)), "in_batch")
        if crash_at is not None:
            loss = method.loss
            method.loss = lambda batch, models, step: (_ for _ in ()).throw(Crash) if step == crash_at else loss(batch, models, step)
        return Trainer(method, sampler, config, tmp_path / name / "out", tmp_path / name / "checkpoints",
                       tmp_path / name / "logs", fingerprint="inputs")

    trainer("whole").train()
    with pytest.raises(Crash):
        trainer("killed", crash_at=7).train()
    kept = sorted(p.name for p in (tmp_path / "killed" / "checkpoints").iterdir() if not p.name.startswith("."))
    assert kept == ["step-0000004", "step-0000006"]
    trainer("killed").train()
    whole, resumed = _weights(tmp_path / "whole" / "out"), _weights(tmp_path / "killed" / "out")
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)
