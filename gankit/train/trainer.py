"""The one training loop. It knows no GAN family: a recipe says what each phase minimises.

Per step (Goodfellow et al. 2014, Algorithm 1): for each phase of the recipe, in order (D first),
``repeat`` times (``train.n_critic`` for D): zero the phase's optimiser, compute the recipe's
loss, check it is finite, back-propagate, clip gradients (optional), step, call the recipe's
after-update hook (e.g. WGAN clipping). Then the lr schedules step and the EMA of G updates.
"""
from __future__ import annotations

import copy
import json
import math
import signal
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Optional

import torch

from ..config import Config, _default_optims
from ..data import build_dataset
from ..errors import CheckpointError, ConfigError, RunDirError, TrainingDiverged
from ..io import write_text
from ..objectives import build_objective
from ..recipes import DataInfo, build_recipe
from ..recipes.options import check_settings_are_read
from ..viz.plots import plot_losses
from ..memory import check_training_fits
from . import checkpoint as ckpt
from .distributed import RANK_SEED_OFFSET, ShardedStream, current_group, resume_command
from .logger import MetricsLogger
from .rundir import prepare_run_dir, remove_stale_temporaries

DEFAULT_OPTIMIZERS = tuple(_default_optims())  # entries every config has, used or not (GMMN has no D)
SAMPLE_SEED_OFFSET = 1_000_003  # the fixed grid latents come from their own seed, not the training stream
STANDING_STATS_SEED_OFFSET = 2_000_003  # so do the latents that re-estimate the EMA G's batch-norm statistics


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """The device of ``train.device``; with ``local_rank`` (a torchrun worker), a CUDA device is that rank's GPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank) if local_rank is not None else torch.device("cuda")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device = {name} but CUDA is not available here; use train.device=cpu or auto")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device = mps but MPS is not available here; use train.device=cpu or auto")
    if name == "cuda" and local_rank is not None:
        return torch.device("cuda", local_rank)
    return torch.device(name)


def build_optimizer(cfg, params, lazy_interval: int = 1):
    """The optimiser of ``cfg``. ``lazy_interval`` c > 1 (a lazily regularised phase shares it, see
    :attr:`Phase.lazy`) applies StyleGAN2's correction (Karras et al. 2020, appendix B; their
    ``mb_ratio``): lr * c / (c + 1) and betas ** (c / (c + 1))."""
    ratio = lazy_interval / (lazy_interval + 1) if lazy_interval > 1 else 1.0
    betas = tuple(b**ratio for b in cfg.betas)
    # foreach: one fused kernel per tensor list instead of a Python loop over parameters (torch's
    # default off the GPU); the per-step overhead it saves dominates small nets such as the toy MLPs.
    kw = dict(lr=cfg.lr * ratio, weight_decay=cfg.weight_decay, foreach=True)
    if cfg.type == "adam":
        return torch.optim.Adam(params, betas=betas, **kw)
    if cfg.type == "adamw":
        return torch.optim.AdamW(params, betas=betas, **kw)
    if cfg.type == "sgd":
        return torch.optim.SGD(params, momentum=cfg.momentum, **kw)
    return torch.optim.RMSprop(params, momentum=cfg.momentum, **kw)


def lr_factor(schedule: str, decay_start: float, total: int):
    """Multiplier of the base lr at a step: constant, linear decay to 0 after ``decay_start`` (CycleGAN),
    or cosine to 0."""

    def factor(step: int) -> float:
        frac = min(step / max(total, 1), 1.0)
        if schedule == "linear":
            return 1.0 if frac < decay_start else max(0.0, 1 - (frac - decay_start) / max(1 - decay_start, 1e-12))
        if schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * frac))
        return 1.0

    return factor


class _StopFlag:
    """Ctrl-C or SIGTERM (what schedulers and container stops send) asks the loop to stop after the current
    step and save; a second one of the same kind aborts at once. (Ctrl-C under torchrun reaches a worker
    twice, once from the terminal and once as torchrun's SIGTERM: that still saves.)"""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = False
        self._seen = set()
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def _handle(self, signum, frame):
        if signum in self._seen:
            raise KeyboardInterrupt
        self._seen.add(signum)
        self.requested = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}


class Trainer:
    """Trains ``cfg`` into ``run_dir``. ``resume=True`` continues from ``run_dir/checkpoints``. ``group`` is the
    process group of a multi-process run (:mod:`gankit.train.distributed`; by default the torchrun launch this
    process belongs to, if any): only its rank 0 writes the run directory."""

    def __init__(self, cfg: Config, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
                 progress: bool = True, tensorboard: bool = True, dataset=None, group=None):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.group = group if group is not None else current_group(cfg.train.device)
        main = self.group.is_main
        self.progress, self.tensorboard = progress and main, tensorboard and main
        self.device = resolve_device(cfg.train.device, self.group.local_rank if self.group.active else None)
        self.dataset = dataset if dataset is not None else build_dataset(cfg.data)
        self.info = DataInfo.of(self.dataset)
        self._lock, self._replaced = None, None
        if resume:
            self.group.on_main(self._check_resumable)

        torch.manual_seed(cfg.train.seed)
        if not resume:  # a run written before a component declared its options still resumes
            check_settings_are_read(cfg)
        self.objective = build_objective(cfg.objective, cfg.tricks.label_smoothing)
        check_training_fits(cfg, self.info, self.objective)
        self.recipe = build_recipe(cfg, self.info, self.objective).to(self.device)
        self.recipe.set_world(self.group.world)
        if self.group.active:
            self.group.broadcast_modules(self.recipe)
            if self.group.rank > 0:  # each rank its own latents, labels and augmentations
                torch.manual_seed(cfg.train.seed + RANK_SEED_OFFSET * self.group.rank)
        translates = self.recipe.sampling().source != "latent"
        wanted = {m.strip() for m in cfg.train.eval_metrics.split(",") if m.strip()}
        if cfg.train.eval_every is not None and (wanted != {"transfer"} if translates else "transfer" in wanted):
            raise ConfigError("this run translates images: its periodic evaluation is train.eval_metrics=transfer"
                              if translates else "train.eval_metrics=transfer scores runs that translate images; "
                              "this run samples from latents (use fid, kid, is, pr, dc, ...)")
        if translates:
            if cfg.train.ema_standing_stats:
                raise ConfigError("train.ema_standing_stats feeds latents to G, but this run translates images; "
                                  "set train.ema_standing_stats=0")
        if cfg.train.channels_last and self.info.kind == "image":
            self.recipe.to(memory_format=torch.channels_last)
        self.optimizers, self.schedulers = {}, {}
        self._params = self.recipe.optimizer_params()
        unused = [k for k in cfg.optim if k not in self._params and k not in DEFAULT_OPTIMIZERS]
        if unused:
            from ..registry import closest

            raise ConfigError(f"optim.{unused[0]} is not an optimiser of recipe '{cfg.recipe}'"
                              f"{closest(unused[0], list(self._params))}; it has optim.{', optim.'.join(self._params)}")
        for name, params in self._params.items():
            if name not in cfg.optim:
                raise ConfigError(f"recipe '{cfg.recipe}' needs optimiser settings optim.{name}.*; "
                                  f"add e.g. optim.{name}.lr=2e-4")
            o = cfg.optim[name]
            lazy = [ph.every for ph in self.recipe.phases() if ph.lazy and ph.optimizer == name]
            self.optimizers[name] = build_optimizer(o, params, max(lazy, default=1))
            self.schedulers[name] = torch.optim.lr_scheduler.LambdaLR(
                self.optimizers[name], lr_factor(o.schedule, o.decay_start, cfg.train.steps))
        self.ema = None
        if cfg.train.ema_decay > 0:
            self.ema = torch.nn.ModuleDict({g: copy.deepcopy(self.recipe.nets[g]) for g in self.recipe.generators})
            self.ema.requires_grad_(False)
        if self.group.active and self.device.type == "cuda":
            # batch statistics over the global batch (SyncBatchNorm has no CPU kernel). It keeps the parameter
            # objects, so the optimisers built above still hold them; the EMA copy (used by rank 0 alone) keeps
            # plain batch norm, so re-estimating its statistics never waits for the other ranks.
            for name in list(self.recipe.nets):
                self.recipe.nets[name] = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.recipe.nets[name])
        self.stream = self.dataset.stream(cfg.train.batch_size, cfg.train.seed, self.device)
        if self.group.active:  # the same global batches on every rank; each keeps its own rows
            self.stream = ShardedStream(self.stream, self.group.rank, self.group.world)
        self.skipped = {name: 0 for name in self.optimizers}  # non-finite updates skipped (train.skip_nonfinite)
        # Only now, with the whole config proven buildable, is the run directory touched (by rank 0 alone).
        self._lock, self._replaced = self.group.on_main(prepare_run_dir, self.run_dir, resume, overwrite) or (None, None)
        try:
            self.step = 0
            if resume:
                self._load_checkpoint()
            # the resolved config, overrides given with --resume included: a later plain --resume keeps them
            self.group.on_main(write_text, self.run_dir / "config.yaml", cfg.to_yaml())
        except BaseException:
            self._abandon()
            raise
        gen = torch.Generator().manual_seed(cfg.train.seed + SAMPLE_SEED_OFFSET)
        self.fixed = self.recipe.preview_inputs(self.dataset, cfg.train.n_samples, gen, self.device)
        self.autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16)
                         if cfg.train.amp == "bf16" else nullcontext())
        self.interrupted = False
        self._standing_step = None  # the step whose EMA batch-norm statistics were last re-estimated
        self._stop = _StopFlag()

    def request_stop(self) -> None:
        """Stop after the current step and save a checkpoint (what Ctrl-C does)."""
        self._stop.requested = True

    def _abandon(self) -> None:
        """The new run failed before its first step: give an old run moved aside by --overwrite back."""
        self.close()
        if self._replaced is not None:
            self._replaced.restore()
            self._replaced = None

    def _started(self) -> None:
        """The new run has taken a step: the old run it replaces (--overwrite) can go."""
        if self._replaced is not None:
            self._replaced.discard()
            self._replaced = None

    def close(self) -> None:
        """Release the run directory's lock (``fit`` does this when it returns)."""
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> "Trainer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- checkpoints ------------------------------------------------------------------------------
    def _check_resumable(self):
        if not (self.run_dir / "checkpoints" / ckpt.WEIGHTS).exists():
            raise RunDirError(f"cannot resume {self.run_dir}: it has no checkpoint yet; start it again with --overwrite")

    def save_checkpoint(self) -> None:
        """Write checkpoints/last.* (kill-safe, see :mod:`gankit.train.checkpoint`); refuse, keeping the last
        good checkpoint, when any weight, EMA weight or optimiser state is NaN or infinite. Every rank takes
        part (each gives its RNG state); rank 0 writes."""
        rngs = self.group.gather_object(ckpt.rng_state())
        self.group.on_main(self._write_checkpoint, rngs)

    def _write_checkpoint(self, rngs: list) -> None:
        d = self.run_dir / "checkpoints"
        state = {
            "step": self.step,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "objective": self.objective.state_dict(),
            "stream": self.stream.state_dict(),
            "rng": rngs[0],
            "world": self.group.world,  # a multi-process run resumes with as many processes
            "rank_rng": rngs,
            "skipped": dict(self.skipped),
            "recipe": self.recipe.extra_state(),
        }
        self._standing_stats()
        tensors = ckpt.weight_tensors(self.recipe.nets, self.ema)
        bad = ckpt.first_nonfinite(list(tensors.items()) + [("optim", state["optimizers"]),
                                                            ("objective", state["objective"])])
        bad = bad or self._nonfinite_samples()
        if bad:
            raise TrainingDiverged(
                f"{bad} became non-finite by step {self.step}; the last good checkpoint in {d} is kept; try a "
                "lower learning rate, train.grad_clip or a penalty")
        ckpt.save_pair(d, self.step, state, tensors, self.info)

    @torch.no_grad()
    def _nonfinite_samples(self) -> Optional[str]:
        """Finite weights can still be so large that G's outputs overflow: a checkpoint is good only if G (and
        its EMA) make finite samples from the fixed latents / inputs. Eval mode and the RNG restored, so the
        check changes nothing in training."""
        rng = ckpt.rng_state()
        was_training = self.recipe.training
        self.recipe.eval()
        try:
            for label, nets in (("G's samples", self.recipe.nets), ("the EMA G's samples", self.ema)):
                if nets is None:
                    continue
                nets.eval()
                x, _ = self.recipe.draw(self.fixed, nets)
                if not bool(torch.isfinite(x).all()):
                    return label
            return None
        finally:
            self.recipe.train(was_training)
            if self.ema is not None:
                self.ema.eval()
            ckpt.set_rng_state(rng)

    def _read_checkpoint(self) -> tuple:
        d = self.run_dir / "checkpoints"
        remove_stale_temporaries(self.run_dir)
        ckpt.tidy(d)
        nets, ema, step, _ = ckpt.read_weights(d)
        state = ckpt.read_trainer_state(d, step)
        world = int(state.get("world", 1))
        if world != self.group.world:
            raise CheckpointError(f"{self.run_dir} was trained by {world} process(es) and cannot resume with "
                                  f"{self.group.world} exactly; resume it with: {resume_command(self.run_dir, world)}")
        return dict(nets), (dict(ema) if ema is not None else None), step, state

    def _load_checkpoint(self) -> None:
        d = self.run_dir / "checkpoints"
        loaded = self.group.on_main(self._read_checkpoint)
        nets, ema, step, state = self.group.broadcast_object(loaded) if self.group.active else loaded
        try:
            self.recipe.nets.load_state_dict(self.recipe.upgrade_weights(dict(nets)))
            if self.ema is not None:
                self.ema.load_state_dict(ema)
            for k, o in self.optimizers.items():
                o.load_state_dict(state["optimizers"][k])
            for k, s in self.schedulers.items():
                s.load_state_dict(state["schedulers"][k])
            self.objective.load_state_dict(state["objective"])
            self.stream.load_state_dict(state["stream"])
            ckpt.set_rng_state(state["rank_rng"][self.group.rank] if self.group.active else state["rng"])
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as e:
            reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            raise CheckpointError(
                f"the checkpoint in {d} does not fit this config ({reason}); resume with the run's own "
                "settings (an override may have changed the networks, the optimisers or train.ema_decay)") from None
        self.skipped.update(state.get("skipped", {}))
        if state.get("recipe"):  # runs saved before recipe state existed keep theirs in the weights (upgraded)
            self.recipe.load_extra_state(state["recipe"])
        self.step = step

    # -- one step ---------------------------------------------------------------------------------
    def _freeze(self, phase) -> None:
        """Parameters of the optimisers in ``phase.frozen`` take no gradient during the phase: D's weight
        gradients in a G step are never used, and skipping them saves a large part of the backward pass."""
        for name, params in self._params.items():
            for p in params:
                p.requires_grad_(name not in phase.frozen)

    def _update(self, phase, batch, logs: dict) -> None:
        opt = self.optimizers[phase.optimizer]
        opt.zero_grad(set_to_none=True)
        self._freeze(phase)
        with self.autocast:
            loss, phase_logs = self.recipe.loss(phase.name, batch)
        loss = loss.float() * phase.gain if phase.gain != 1.0 else loss.float()
        if not self.group.active:
            if not torch.isfinite(loss):
                self._diverged(phase, f"loss became {loss.item()}")
            loss.backward()
        else:
            if torch.isfinite(loss):  # a rank with a non-finite loss skips its backward; the reduce tells all
                loss.backward()
            try:
                self.group.average_gradients([p for g in opt.param_groups for p in g["params"]], loss)
            except TrainingDiverged as e:  # "loss of rank R became nan"
                self._diverged(phase, str(e))
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        grads = [p.grad for p in params]
        norm = torch.nn.utils.get_total_norm(grads)
        if not torch.isfinite(norm):
            if not self.cfg.train.skip_nonfinite:
                raise TrainingDiverged(
                    f"the gradient norm of optim.{phase.optimizer} became {norm.item()} in the {phase.name} update "
                    f"of step {self.step + 1}; the last good checkpoint in {self.run_dir / 'checkpoints'} is kept; "
                    f"try a lower optim.{phase.optimizer}.lr, train.grad_clip, or train.skip_nonfinite=true")
            opt.zero_grad(set_to_none=True)  # skip this update: the weights and optimiser state stay as they were
            self.skipped[phase.optimizer] += 1
            logs[f"skipped/{phase.optimizer}"] = self.skipped[phase.optimizer]
            logs.update(phase_logs)
            return
        clip = self.cfg.train.grad_clip
        if clip is not None:
            torch.nn.utils.clip_grads_with_norm_(params, clip, norm)
        if clip is not None or self._is_log_step(self.step + 1):  # the step being computed
            logs[f"grad_norm/{phase.optimizer}"] = norm
        if self.skipped[phase.optimizer]:
            logs[f"skipped/{phase.optimizer}"] = self.skipped[phase.optimizer]
        opt.step()
        # the objective's after-step hook, for every recipe alike (WGAN's clipping, BEGAN's k_t)
        for objective, critics in self.recipe.critic_objectives(phase):
            if self.group.active:
                objective.sync(self.group.average)
            objective.after_d_step(critics)
        self.recipe.after_update(phase.name)
        logs.update(phase_logs)

    def _diverged(self, phase, what: str):
        raise TrainingDiverged(
            f"{phase.name} {what} at step {self.step + 1}; the last good checkpoint in "
            f"{self.run_dir / 'checkpoints'} is kept; try a lower optim.{phase.optimizer}.lr or a penalty")

    def _is_log_step(self, step: int) -> bool:
        return step % self.cfg.train.log_every == 0 or step == self.cfg.train.steps

    @torch.no_grad()
    def _update_ema(self) -> None:
        """theta_ema <- decay * theta_ema + (1 - decay) * theta (Karras et al. 2018; Yazici et al. 2019), with
        decay 0 before ``train.ema_start`` (BigGAN, Brock et al. 2019), so that the average does not keep
        the untrained initial weights. Buffers (batch-norm statistics) are copied from G."""
        decay = self.cfg.train.ema_decay if self.step >= self.cfg.train.ema_start else 0.0
        for name, ema_net in self.ema.items():
            net = self.recipe.nets[name]
            torch._foreach_lerp_(list(ema_net.parameters()), list(net.parameters()), 1 - decay)
            for be, b in zip(ema_net.buffers(), net.buffers()):
                be.copy_(b)
        self._standing_step = None

    @torch.no_grad()
    def _standing_stats(self) -> None:
        """Re-estimate the batch-norm statistics of the EMA generators ("standing statistics", Brock et al.
        2019, BigGAN, appendix C.1). The running statistics copied from G belong to G's weights, not to
        their average; with a fast-moving G (a high lr) the mismatch can wreck the EMA samples. Runs
        ``train.ema_standing_stats`` batches of fresh latents through each EMA G in train mode and keeps
        the exact (cumulative) average. Its latents come from their own generator and the global RNG is
        restored, so training and resuming stay exactly as without it."""
        n_batches = self.cfg.train.ema_standing_stats
        if self.ema is None or n_batches == 0 or self._standing_step == self.step:
            return
        rng = ckpt.rng_state()
        gen = torch.Generator().manual_seed(self.cfg.train.seed + STANDING_STATS_SEED_OFFSET + self.step)
        norms = [m for m in self.ema.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average: the plain mean over the batches
        self.ema.train()
        for _ in range(n_batches):
            z = self.recipe.latent(self.cfg.train.batch_size, gen, self.device)
            with self.autocast:
                self.recipe.generate(z, self.ema)
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        self.ema.eval()
        ckpt.set_rng_state(rng)
        self._standing_step = self.step

    def _apply_plan(self, plan) -> dict:
        """Before the phases of a step: reset the optimisers the recipe names, and set each optimiser's lr
        to its scheduled value times the recipe's multiplier. Returns the data stream's arguments."""
        for name in plan.reset:
            self.optimizers[name].state.clear()
        for name, opt in self.optimizers.items():
            scale = plan.lr_scale.get(name, 1.0)
            for group, lr in zip(opt.param_groups, self.schedulers[name].get_last_lr()):
                group["lr"] = lr * scale
        return {k: v for k, v in (("batch_size", plan.batch_size), ("resolution", plan.resolution)) if v is not None}

    def train_step(self) -> dict:
        self.recipe.train()
        self.recipe.set_step(self.step)
        data = self._apply_plan(self.recipe.plan(self.step))
        logs: dict = {}
        for phase in self.recipe.phases():
            if self.step % phase.every:
                continue
            for _ in range(phase.repeat):
                batch = self.stream.next(**data) if phase.needs_data else None
                self._update(phase, batch, logs)
        logs.update({f"lr/{k}": o.param_groups[0]["lr"] for k, o in self.optimizers.items()})  # as used this step
        for s in self.schedulers.values():
            s.step()
        if self.ema is not None and self.group.is_main:  # only rank 0 draws samples and saves the average
            self._update_ema()
        self.step += 1
        return logs

    # -- outputs ----------------------------------------------------------------------------------
    @torch.no_grad()
    def save_samples(self, name: str, logger: Optional[MetricsLogger] = None) -> Path:
        """The recipe draws its preview of the fixed inputs with the EMA G (or G) into samples/NAME.png."""
        path = self.run_dir / "samples" / f"{name}.png"
        with self._drawing() as nets:
            shown = self.recipe.save_preview(self.fixed, nets, path, self.dataset, self.step,
                                             self.cfg.train.plot_samples)
        if logger is not None:
            if shown["scalars"]:
                logger.log(self.step, shown["scalars"])
            if shown["image"] is not None:
                logger.image("samples", shown["image"], self.step)
        return path

    @torch.no_grad()
    def save_milestone(self, label: str) -> Path:
        """A row of the milestones figure (:mod:`gankit.viz.milestones`): the first fixed inputs drawn now."""
        from ..viz import milestones

        with self._drawing() as nets:
            x, _ = self.recipe.draw(self.fixed, nets)
        return milestones.record(self.run_dir / "samples", self.step, label, x)

    @contextmanager
    def _drawing(self):
        """The generators that samples are drawn with (the EMA copy when kept, its batch-norm statistics
        re-estimated), in eval mode; training mode is back afterwards."""
        self._standing_stats()
        nets = self.ema if self.ema is not None else self.recipe.nets
        self.recipe.eval()
        nets.eval()
        try:
            yield nets
        finally:
            self.recipe.train()
            if self.ema is not None:
                self.ema.eval()

    # -- periodic evaluation ----------------------------------------------------------------------
    def evaluate(self, logger: Optional[MetricsLogger]) -> Optional[dict]:
        """Score the checkpoint just saved, log ``eval/<score>``, and copy it to ``best`` when it improves. In a
        multi-process run every rank draws and embeds its share of the samples; rank 0 gathers the features
        and scores them (returns the report on rank 0, None elsewhere)."""
        from ..metrics.evaluate import FEATURE_METRICS

        metrics = tuple(m.strip() for m in self.cfg.train.eval_metrics.split(",") if m.strip())
        fakes = None
        if self.group.active and self.info.kind == "image" and any(m in FEATURE_METRICS for m in metrics):
            fakes = self._shared_fakes()
        return self.group.on_main(self._score, logger, metrics, fakes)

    def _shared_fakes(self) -> Optional[tuple]:
        """Every rank's share of the evaluation samples with their features, joined on rank 0; None (rank 0 then
        draws them all) when some rank cannot read rank 0's checkpoint (no shared file system)."""
        from ..metrics.evaluate import fake_share, join_shares
        from ..run import Run

        cfg, group = self.cfg.train, self.group
        weights = self.run_dir / "checkpoints" / ckpt.WEIGHTS
        stamp = [weights.stat().st_size, weights.stat().st_mtime_ns] if weights.exists() else None
        if group.any(stamp != group.broadcast_object(stamp)):
            return None
        rng = ckpt.rng_state()  # evaluation must not move the training RNG: resume stays exact
        share = fake_share(Run(self.run_dir), cfg.eval_n, cfg.seed, cfg.eval_backbone, group.rank, group.world)
        ckpt.set_rng_state(rng)
        shares = group.gather_object(share)
        return join_shares(shares) if group.is_main else None

    def _score(self, logger: MetricsLogger, metrics: tuple, fakes: Optional[tuple]) -> dict:
        from ..metrics.evaluate import evaluate_run, write_report
        from ..run import Run

        cfg = self.cfg.train
        rng = ckpt.rng_state()  # evaluation must not move the training RNG: resume stays exact
        run = Run(self.run_dir)
        report = evaluate_run(run, metrics, n=cfg.eval_n, backbone=cfg.eval_backbone, seed=cfg.seed, fakes=fakes)
        ckpt.set_rng_state(rng)
        write_report(run, report)
        flat = {k: float(v) for k, v in report["scores"].items() if isinstance(v, (int, float))}
        logger.log(self.step, {f"eval/{k}": v for k, v in flat.items()})
        key = cfg.best_metric or next(iter(flat))
        if key not in flat:
            raise ConfigError(f"train.best_metric = {key!r} is not among the scores ({', '.join(flat)})")
        from ..metrics.names import higher_is_better

        higher = higher_is_better(key)
        best_path = self.run_dir / "checkpoints" / "best.json"
        best = json.loads(best_path.read_text()) if best_path.exists() else None
        value = flat[key]
        if best is None or (value > best["value"] if higher else value < best["value"]):
            ckpt.copy_as_best(self.run_dir / "checkpoints")
            write_text(best_path, json.dumps({"metric": key, "value": value, "step": self.step}))
        return report

    # -- the loop ---------------------------------------------------------------------------------
    def fit(self):
        """Train to ``train.steps``; returns the :class:`~gankit.run.Run` (None on ranks other than 0)."""
        from ..run import Run
        from .progress import progress_bar

        cfg, group = self.cfg.train, self.group
        main = group.is_main
        if self.step >= cfg.steps:  # a finished run resumed as it is: nothing to train, nothing to log again
            self.close()
            return Run(self.run_dir) if main else None
        logger = None
        try:
            logger = group.on_main(MetricsLogger, self.run_dir, self.step, self.tensorboard)
        except BaseException:
            self._abandon()
            raise
        bar = progress_bar(cfg.steps, self.step, self.cfg.name, enabled=self.progress)
        t0 = time.perf_counter()
        try:
            with self._stop as stop:
                while self.step < cfg.steps:
                    logs = self.train_step()
                    self._started()
                    bar.update(1)
                    label = self.recipe.milestone(self.step)
                    if label is not None and main:
                        self.save_milestone(label)
                    if self._is_log_step(self.step):
                        values = group.mean_scalars({k: float(v) for k, v in logs.items()})
                        values["time"] = time.perf_counter() - t0
                        if main:
                            logger.log(self.step, values)
                        bar.set_postfix(_postfix(values), refresh=False)
                    if self.step % cfg.sample_every == 0 and self.step < cfg.steps and main:
                        self.save_samples(f"step_{self.step:07d}", logger)
                    evaluating = cfg.eval_every is not None and self.step % cfg.eval_every == 0
                    if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps or evaluating:
                        self.save_checkpoint()
                    if evaluating:
                        self.evaluate(logger)
                    if group.any(stop.requested):  # every rank stops after the same step
                        self.save_checkpoint()
                        self.interrupted = True
                        if main:
                            bar.write(f"stopped at step {self.step}; resume with: "
                                      f"{resume_command(self.run_dir, group.world)}")
                        break
            if not self.interrupted and main:
                self.save_samples("final", logger)
                if (self.run_dir / "samples" / "milestones.safetensors").exists():
                    self.save_milestone("final")
            if main:
                plot_losses(logger.rows, self.run_dir / "losses.png")
        except BaseException:
            if self._replaced is not None:  # failed before its first step: the replaced run comes back
                logger.close()
                self._abandon()
            raise
        finally:
            bar.close()
            if logger is not None:
                logger.close()
            self.close()
        if not main:
            return None
        run = Run(self.run_dir)
        if not self.interrupted:
            self.report_quality(run)
        return run

    def report_quality(self, run) -> None:
        """The finished run's one line of quality (:mod:`gankit.metrics.quality`): kept in quality.json, and printed
        unless the run trains quietly."""
        from ..errors import GankitError
        from ..metrics.quality import run_quality, write_quality

        try:
            report = run_quality(run, self.cfg.train.quality_n, seed=self.cfg.train.seed)
            if report is not None:
                write_quality(run, report)
            line = None if report is None else report["line"]
        except GankitError as e:
            line = f"no quality line: {e}"
        if line is not None and self.progress:  # a run trained quietly (--no-progress, progress=False) stays quiet
            print(line, file=sys.stderr, flush=True)


def _postfix(values: dict) -> dict:
    names = {"d_loss": "D", "g_loss": "G", "d_real": "D(x)", "d_fake": "D(G(z))"}
    return {short: f"{values[k]:.3f}" for k, short in names.items() if k in values}


def train(cfg: Config, run_dir: str | Path | None = None, resume: bool = False, overwrite: bool = False,
          progress: bool = True, tensorboard: bool = True):
    """Train ``cfg`` into ``run_dir`` (default ``runs/<cfg.name>``) and return the finished :class:`~gankit.run.Run`."""
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / cfg.name
    return Trainer(cfg, run_dir, resume=resume, overwrite=overwrite, progress=progress,
                   tensorboard=tensorboard).fit()
