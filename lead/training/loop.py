"""The one training loop: warm-up, LEAD and PROD are methods plugged into it.

Per step: the sampler's batch for (seed, step) -> ``method.backward`` (its loss, back-propagated; accumulated) -> per-model
gradient clipping -> AdamW -> linear warm-up/decay. Also: bf16 autocast on GPU (fp32 on CPU), DDP under
``torchrun``, DVCLive logs of every loss term and the learning rate, a tqdm bar, and checkpoints with
optimiser and scheduler state from which an interrupted run resumes to the same weights an uninterrupted
run reaches (every random draw is seeded by the step, so nothing else needs saving). With
``train.snapshot_every`` the models are also kept every N steps, in ``<out>/snapshots/step-<N>/`` once the run
is complete, for a checkpoint sweep (lead/evaluation/sweep.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from lead.config import TrainConfig
from lead.data.examples import BatchSampler
from lead.errors import ParamsValueError, UserError, is_out_of_memory, out_of_memory
from lead.io import atomic_dir, atomic_open, step_folders, write_json
from lead.logs import attach_file_log, detach_file_log
from lead.models.factory import load_scorer, save_scorer
from lead.pipeline import SNAPSHOT_RUN, SNAPSHOTS, TRAINING_RECORD
from lead.training.distributed import DistInfo, barrier, broadcast_object
from lead.training.grad_cache import GradCache
from lead.training.loader import role_tokenizers, tokenized_batches
from lead.training.methods import Method

log = logging.getLogger(__name__)

class CheckpointError(UserError, RuntimeError):
    """A checkpoint that cannot be resumed (corrupted, or written for another model shape)."""


def step_seed(seed: int, step: int, rank: int) -> int:
    return (seed * 1_000_003 + step * 101 + rank) % (2**63)


class Trainer:
    def __init__(self, method: Method, sampler: BatchSampler, config: TrainConfig, out: str | Path,
                 checkpoints: str | Path, logs: str | Path, dist: DistInfo = DistInfo(), fingerprint: str = "",
                 subfolders: bool | None = None):
        if config.grad_cache_queries:
            method = GradCache(method, config.grad_cache_queries, key=f"{Path(out).name}: train")
        self.method, self.sampler, self.config, self.dist = method, sampler, config, dist
        self.fingerprint = fingerprint  # of the run's inputs: checkpoints of other inputs are not resumed
        self.out, self.checkpoints, self.logs = Path(out), Path(checkpoints), Path(logs)
        # Where the trained models go: out/<name> per trainable, or out itself for a single one by default.
        self.subfolders = len(method.trainables) > 1 if subfolders is None else subfolders
        unknown = sorted(set(config.snapshot_models) - set(method.trainables))
        if unknown:
            raise ParamsValueError(f"train.snapshot_models: {unknown} are not models this run trains "
                             f"({', '.join(method.trainables)})")
        for model in method.trainables.values():
            model.to(dist.device).train()
        for model in method.frozen.values():
            model.to(dist.device).eval().requires_grad_(False)
        for model in method.roles().values():
            model.length_buckets = config.length_buckets
        for model in method.trainables.values():
            for encoder in model.encoders():
                if config.gradient_checkpointing:
                    encoder.activation_checkpointing_enable({"use_reentrant": False})
                if config.compile:  # in place: parameter names, checkpoints and saved models are unchanged
                    encoder.compile(dynamic=True)
        self.models = {
            name: DistributedDataParallel(m, device_ids=[dist.device] if dist.device.type == "cuda" else None)
            if dist.distributed else m
            for name, m in method.trainables.items()
        }
        groups = [{"params": [p for p in m.parameters() if p.requires_grad], "name": n,
                   "lr": method.learning_rates.get(n, config.lr)}
                  for n, m in method.trainables.items()]
        # One fused kernel per step instead of a loop over tensors: 4.5x faster on a CPU (BENCHMARKS.md), the
        # same update up to float rounding.
        fused = dist.device.type in ("cuda", "cpu")
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.999), eps=1e-8,
                                           weight_decay=config.weight_decay, fused=fused)
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, int(config.warmup_ratio * config.steps), config.steps)
        self.autocast = config.precision == "bf16" or (config.precision == "auto" and dist.device.type == "cuda")

    def hardware(self) -> dict:
        """What made the run, as results depend on it: a one-GPU run sees fewer in-batch candidates than eight."""
        config, dist = self.config, self.dist
        in_batch = config.candidates == "in_batch"
        return {
            "processes": dist.world_size,
            "device": torch.cuda.get_device_name(dist.device) if dist.device.type == "cuda" else dist.device.type,
            "precision": "bf16 autocast" if self.autocast else "fp32",
            "batch_queries_per_process": config.batch_queries,
            "grad_accum": config.grad_accum,
            "global_batch_queries": config.batch_queries * dist.world_size * config.grad_accum,  # per optimiser step
            "candidates": config.candidates,
            "gathered_across_processes": in_batch and dist.distributed,
            # each query's candidate passages in one forward: the global micro-batch's, or its own group
            "candidates_per_query": (config.batch_queries * dist.world_size if in_batch else 1) * (1 + config.negatives),
        }

    # -- checkpoints -------------------------------------------------------------------------------------
    def _checkpoint_dirs(self) -> list[tuple[int, Path]]:
        return step_folders(self.checkpoints)

    def save_checkpoint(self, step: int) -> None:
        if self.dist.is_main:
            with atomic_dir(self.checkpoints / f"step-{step:07d}") as tmp:
                for name, model in self.method.trainables.items():
                    save_scorer(model, tmp / name)
                torch.save(self.optimizer.state_dict(), tmp / "optimizer.pt")
                torch.save(self.scheduler.state_dict(), tmp / "scheduler.pt")
                (tmp / "state.json").write_text(json.dumps(self._identity() | {"step": step}))
            for _, old in self._checkpoint_dirs()[: -self.config.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        barrier()

    def save_snapshot(self, step: int) -> None:
        """The models alone at ``step``, kept for a sweep. They wait beside the checkpoints (which survive a
        killed run, unlike the stage's output folder) and move into ``<out>/snapshots`` when the run ends."""
        if self.dist.is_main:
            with atomic_dir(self.checkpoints / SNAPSHOTS / f"step-{step:07d}") as tmp:
                self._save_models(tmp, self.config.snapshot_models)
        barrier()

    def _save_models(self, folder: Path, names: list[str] | None = None) -> None:
        """Every trainable (or those of ``names``) into ``folder/<name>``, or into ``folder`` for a single one."""
        for name, model in self.method.trainables.items():
            if not names or name in names:
                save_scorer(model, folder / name if self.subfolders else folder)

    def _identity(self) -> dict:
        """What a checkpoint must have been written for to be resumed: the run's inputs and its number of
        processes (the global batch, and so the data position and in-batch candidates, depend on it)."""
        return {"fingerprint": self.fingerprint, "world_size": self.dist.world_size}

    def _resumable(self) -> tuple[int, str] | str | None:
        """The latest checkpoint as (step, folder); "other" when it was written for another run; None."""
        found = self._checkpoint_dirs()
        if not found:
            return None
        step, folder = found[-1]
        state = json.loads((folder / "state.json").read_text())
        saved = {key: state.get(key, 1 if key == "world_size" else None) for key in self._identity()}
        return (step, str(folder)) if saved == self._identity() else "other"

    def resume(self) -> int:
        """Load the latest checkpoint if there is one; return the step to start from.

        Rank 0 looks and decides, every rank follows: a rank that listed the folder after rank 0 removed it
        would skip a barrier and leave the process group hanging."""
        found = broadcast_object(self._resumable() if self.dist.is_main else None)
        if found is None:
            return 0
        if found == "other":
            log.warning("%s was written for other params, data or number of processes: starting over", self.checkpoints)
            if self.dist.is_main:
                shutil.rmtree(self.checkpoints, ignore_errors=True)
            barrier()
            return 0
        step, folder = found[0], Path(found[1])
        try:  # weights from safetensors, optimiser state with weights_only: a checkpoint never runs code
            for name, model in self.method.trainables.items():
                model.load_state_dict(load_scorer(folder / name).state_dict())
            self.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True, map_location=self.dist.device))
            self.scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
        except Exception as error:
            raise CheckpointError(f"{folder}: cannot resume from this checkpoint ({type(error).__name__}: "
                                  f"{str(error).splitlines()[0] if str(error) else ''}); delete {self.checkpoints} "
                                  "to start the run over") from error
        log.info("resumed from %s (step %d of %d)", folder, step, self.config.steps)
        return step

    # -- the loop ----------------------------------------------------------------------------------------
    def train(self) -> dict[str, float]:
        config = self.config
        start = self.resume()
        if start == 0 and self.dist.is_main:  # snapshots of an earlier start (other params, or no checkpoint yet)
            shutil.rmtree(self.checkpoints / SNAPSHOTS, ignore_errors=True)
        barrier()
        live = self._live(start)
        file_log = attach_file_log(self.logs / "stage.log") if self.dist.is_main else None  # beside the curves
        try:
            log.info("training %s on %d process(es): steps %d-%d of %d (%s)", self.out, self.dist.world_size,
                     start + 1, config.steps, config.steps, ", ".join(f"{k}={v}" for k, v in vars(config).items()))
            log.info("hardware: %s", ", ".join(f"{k}={v}" for k, v in self.hardware().items()))
            terms = self._loop(start, live)
            log.info("finished %s: %s", self.out, ", ".join(f"{k} {v:.4f}" for k, v in terms.items()))
        finally:
            if file_log is not None:
                detach_file_log(file_log)
        if self.dist.is_main:
            self._save_models(self.out)
            write_json(self.out / TRAINING_RECORD, self.hardware() | {"steps": config.steps})
            # The run is complete: nothing to resume. The resumable state goes first, so that a kill from here on
            # restarts the run (and its snapshots) rather than resume it with part of its snapshots moved away.
            for _, folder in self._checkpoint_dirs():
                shutil.rmtree(folder)
            if config.snapshot_every:
                snapshots = self.checkpoints / SNAPSHOTS
                write_json(snapshots / SNAPSHOT_RUN, {"final_step": config.steps})  # the sweep's last point: out itself
                shutil.rmtree(self.out / SNAPSHOTS, ignore_errors=True)
                shutil.move(snapshots, self.out / SNAPSHOTS)
            shutil.rmtree(self.checkpoints, ignore_errors=True)
        barrier()
        return terms

    def _loop(self, start: int, live) -> dict[str, float]:
        config = self.config
        bar = tqdm(total=config.steps, initial=start, desc=f"train {self.out.name}", disable=not self.dist.is_main)
        terms: dict[str, float] = {}
        batches = tokenized_batches(self.sampler, role_tokenizers(self.method), start * config.grad_accum,
                                    config.steps * config.grad_accum, self.dist.rank, config.loader_workers,
                                    pin_memory=self.dist.device.type == "cuda")
        for step in range(start, config.steps):
            try:
                terms = self._step(step, batches)
            except Exception as error:
                if not is_out_of_memory(error):
                    raise
                raise out_of_memory(
                    f"training {self.out} at step {step}", error,
                    f"lower train.batch_queries (now {config.batch_queries}) and raise train.grad_accum (now "
                    f"{config.grad_accum}) to keep the batch, lower train.negatives (now {config.negatives}) or the "
                    "models' passage_max_length, or use train.precision: bf16 on a GPU; the run resumes from its "
                    "last checkpoint") from error
            bar.update(1)
            bar.set_postfix(loss=f"{terms['loss']:.4f}")
            if live is not None and ((step + 1) % config.log_every == 0 or step + 1 == config.steps):
                live.step = step + 1
                for name, value in {**terms, "lr": self.scheduler.get_last_lr()[0]}.items():
                    live.log_metric(f"train/{name}", value)
                live.next_step()
            if config.snapshot_every and (step + 1) % config.snapshot_every == 0 and step + 1 < config.steps:
                self.save_snapshot(step + 1)
            if (step + 1) % config.checkpoint_every == 0 and step + 1 < config.steps:
                self.save_checkpoint(step + 1)
        bar.close()
        if live is not None:
            live.end()
        return terms

    def _step(self, step: int, batches) -> dict[str, float]:
        """One optimiser step over ``grad_accum`` micro-batches taken from ``batches`` (the loader's, in order)."""
        config = self.config
        totals: dict[str, float] = {}
        for micro in range(config.grad_accum):
            torch.manual_seed(step_seed(config.seed, step * config.grad_accum + micro, self.dist.rank))
            batch = next(batches)
            last = micro == config.grad_accum - 1
            with self._no_sync(not last):
                terms = self.method.backward(batch, self.models, step, config.grad_accum, self._autocast)
            for name, value in terms.items():
                totals[name] = totals.get(name, 0.0) + value / config.grad_accum
        for group in self.optimizer.param_groups:  # each model clipped on its own, as in LEAD
            torch.nn.utils.clip_grad_norm_(group["params"], config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if not all(math.isfinite(v) for v in totals.values()):
            raise FloatingPointError(f"step {step}: non-finite loss {totals}; lower train.lr or check the data")
        return totals

    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.dist.device.type, torch.bfloat16, enabled=self.autocast)

    def _no_sync(self, skip: bool):
        stack = contextlib.ExitStack()
        if skip:
            for model in self.models.values():
                if isinstance(model, DistributedDataParallel):
                    stack.enter_context(model.no_sync())
        return stack

    def _live(self, start: int):
        if not self.dist.is_main:
            return None
        from dvclive import Live

        if start == 0:
            shutil.rmtree(self.logs, ignore_errors=True)
        else:
            _truncate_logs(self.logs, start)
        return Live(dir=str(self.logs), resume=start > 0, dvcyaml=None, save_dvc_exp=False, report=None)


def _truncate_logs(folder: Path, step: int) -> None:
    """Drop logged rows after ``step``: the steps after the checkpoint are re-run and logged again."""
    for tsv in folder.rglob("*.tsv"):
        lines = tsv.read_text().splitlines()
        if not lines:
            continue
        column = lines[0].split("\t").index("step")
        kept = [lines[0]] + [line for line in lines[1:] if int(line.split("\t")[column]) <= step]
        with atomic_open(tsv) as out:
            out.write("\n".join(kept) + "\n")
    summary = folder / "metrics.json"  # DVCLive rewrites it in place: a kill can leave it empty or cut
    if summary.is_file():
        try:
            json.loads(summary.read_text())
        except ValueError:
            summary.unlink()  # Live(resume=True) would fail to parse it; the next logged step rewrites it
