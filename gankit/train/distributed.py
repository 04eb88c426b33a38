"""Several processes training one run, on ``torch.distributed`` as ``torchrun`` launches it.

``torchrun --nproc-per-node N -m gankit train ...`` starts N copies of the command with ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` set; :func:`current_group` joins them into one process group (gloo on the CPU,
NCCL on CUDA). gankit writes no launcher and no collective of its own: it uses torch's.

The rules, as in StyleGAN3's training loop (Karras et al. 2021; its ``training_loop.py`` averages the
gradients by hand rather than wrapping the nets in DDP, which fights per-phase freezing, graph reuse and
double-backward penalties):

- ``train.batch_size`` is the **global** batch; each rank trains on ``batch_size / N`` examples.
  Every rank reads the same shuffled epoch and keeps its own rows of each global batch
  (:class:`ShardedStream`), so the ranks' shards are disjoint and together are the batch a one-process run
  would read; the stream's state is the same on every rank and resumes exactly.
- Weights start equal (rank 0's are broadcast once); each rank then draws its own randomness (latents,
  labels, augmentation): its global RNG is reseeded with a seed of its own (rank 0 keeps the run's).
- After each backward pass, at the trainer's single update point, the gradients are averaged across the
  ranks in one collective (:meth:`Group.average_gradients`): every rank then takes the same optimiser step
  and the weights stay equal without a broadcast. The same collective carries each rank's loss, so a
  non-finite loss on one rank stops every rank, naming it.
- Stateful objectives (BEGAN, MAGAN, Fisher GAN) average their statistics through their ``sync`` hook.
  Losses of batch statistics (MMD, McGAN, Cramer GAN, the minibatch-stddev layer, relativistic *average*
  GANs) see the rank's shard only; so do batch-norm statistics on the CPU, where SyncBatchNorm does not
  run (on CUDA, batch norm becomes ``torch.nn.SyncBatchNorm``).
- Only rank 0 touches the run directory (config, metrics, samples, TensorBoard, progress, checkpoints,
  evaluation); a user error there (a run dir that exists, a checkpoint that does not fit) is sent to every
  rank, so all of them stop with the same one-line message (:meth:`Group.on_main`).
"""
from __future__ import annotations

import datetime
import os
from typing import Callable, Optional

import torch

from ..errors import ConfigError, GankitError, TrainingDiverged

#: rank r > 0 reseeds its global RNG with train.seed + r * RANK_SEED_OFFSET once the weights are built
RANK_SEED_OFFSET = 3_000_017
#: how long a collective waits for a rank that stopped answering before it fails (``GANKIT_DIST_TIMEOUT``)
DEFAULT_TIMEOUT_S = 1800


class Group:
    """One process alone: every collective it has is the identity. :class:`ProcessGroup` is the multi-process case,
    with the collectives the trainer calls only then (gradient and statistic averages, the weights' broadcast)."""

    rank, world, local_rank = 0, 1, 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def mean_scalars(self, values: dict) -> dict:
        return values

    def any(self, flag: bool) -> bool:
        return flag

    def broadcast_object(self, obj):
        return obj

    def gather_object(self, obj) -> list:
        return [obj]

    def on_main(self, fn: Callable, *args, **kw):
        """``fn`` on rank 0 only; a :class:`GankitError` it raises is raised on every rank, so that all stop
        together with the same message. Returns fn's result on rank 0, None elsewhere."""
        return fn(*args, **kw)


class ProcessGroup(Group):
    """The ranks of a ``torchrun`` launch, joined through ``torch.distributed``."""

    def __init__(self, rank: int, world: int, local_rank: int, backend: str):
        self.rank, self.world, self.local_rank, self.backend = rank, world, local_rank, backend

    def _device(self) -> torch.device:
        return torch.device("cuda", torch.cuda.current_device()) if self.backend == "nccl" else torch.device("cpu")

    def average_gradients(self, params: list, loss: torch.Tensor) -> None:
        """One all-reduce of [every gradient, which parameters have one, each rank's loss]; then each gradient
        is the mean over the ranks (a parameter without a gradient on some ranks counts zero there, as in
        DDP). A rank whose loss is not finite skipped its backward pass; every rank then raises, naming it."""
        dist = torch.distributed
        device = params[0].device if params else self._device()
        sizes = [p.numel() for p in params]
        parts = [p.grad.reshape(-1).float() if p.grad is not None else torch.zeros(n, device=device)
                 for p, n in zip(params, sizes)]
        has = torch.tensor([float(p.grad is not None) for p in params], device=device)
        losses = torch.zeros(self.world, device=device)
        losses[self.rank] = loss.detach().float()
        buf = torch.cat(parts + [has, losses])
        dist.all_reduce(buf)
        total = sum(sizes)
        losses = buf[total + len(params):]
        bad = [r for r in range(self.world) if not torch.isfinite(losses[r])]
        if bad:
            raise TrainingDiverged(f"loss of rank {bad[0]} became {losses[bad[0]].item()}")
        grads = buf[:total].div_(self.world).split(sizes)
        for p, g, h in zip(params, grads, buf[total:total + len(params)].tolist()):
            if h == 0:
                continue
            g = g.view(p.shape)
            if p.grad is None:
                p.grad = torch.empty_like(p)
            p.grad.copy_(g)

    def average(self, x: torch.Tensor) -> torch.Tensor:
        y = x.detach().clone().to(self._device())
        torch.distributed.all_reduce(y)
        return (y / self.world).to(x.device)

    def mean_scalars(self, values: dict) -> dict:
        keys = sorted(values)
        buf = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self._device())
        torch.distributed.all_reduce(buf)
        return dict(zip(keys, (buf / self.world).tolist()))

    def any(self, flag: bool) -> bool:
        t = torch.tensor([int(bool(flag))], device=self._device())
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())

    def broadcast_object(self, obj):
        box = [obj if self.is_main else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def gather_object(self, obj) -> list:
        out = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out

    def broadcast_modules(self, modules: torch.nn.Module) -> None:
        """Every parameter and buffer takes rank 0's value (the start is the same on every rank)."""
        with torch.no_grad():
            for t in list(modules.parameters()) + list(modules.buffers()):
                torch.distributed.broadcast(t.data, src=0)

    def on_main(self, fn: Callable, *args, **kw):
        result, failure, error = None, None, None
        if self.is_main:
            try:
                result = fn(*args, **kw)
            except GankitError as e:
                failure, error = (type(e).__name__, str(e)), e
            except BaseException as e:  # tell the others, then fail here as usual
                self.broadcast_object(("GankitError", f"rank 0 failed: {type(e).__name__}: {e}"))
                raise
        failure = self.broadcast_object(failure)
        if error is not None:
            raise error
        if failure is not None:
            raise _error_class(failure[0])(failure[1])
        return result


def _error_class(name: str) -> type:
    from .. import errors

    cls = getattr(errors, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, GankitError) else GankitError


_GROUP: Optional[Group] = None


def launched_world() -> int:
    """The number of processes ``torchrun`` started (1 outside torchrun)."""
    world = _env_int("WORLD_SIZE", 1)
    if world < 1:
        raise ConfigError(f"WORLD_SIZE={world} must be at least 1; launch with torchrun")
    return world


def current_group(device: str = "auto") -> Group:
    """This process's group: a :class:`ProcessGroup` under ``torchrun`` (joined once, on the first call), a
    plain :class:`Group` otherwise. ``device`` picks the backend: NCCL for CUDA, gloo otherwise."""
    global _GROUP
    if _GROUP is not None:
        return _GROUP
    world = launched_world()
    if world <= 1:
        _GROUP = Group()
        return _GROUP
    dist = torch.distributed
    if not dist.is_available():
        raise ConfigError("this torch build has no torch.distributed; run one process, without torchrun")
    rank, local_rank = _env_int("RANK", None), _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} is outside 0..{world - 1} (WORLD_SIZE={world}); launch with torchrun")
    timeout = datetime.timedelta(seconds=_timeout_s())
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    backend = "nccl" if cuda and torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timeout)
    _GROUP = ProcessGroup(rank, world, local_rank, backend)
    return _GROUP


def _env_int(name: str, default: Optional[int]) -> int:
    value = os.environ.get(name)
    if value is None and default is not None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not a process number; launch several processes with torchrun, "
                          "which sets WORLD_SIZE, RANK and LOCAL_RANK") from None


def _timeout_s() -> float:
    value = os.environ.get("GANKIT_DIST_TIMEOUT", str(DEFAULT_TIMEOUT_S))
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not (seconds > 0 and seconds < float("inf")):
        raise ConfigError(f"GANKIT_DIST_TIMEOUT={value!r} must be a positive number of seconds (default "
                          f"{DEFAULT_TIMEOUT_S})")
    return seconds


def shutdown() -> None:
    """Leave the process group (the end of a torchrun worker)."""
    global _GROUP
    if isinstance(_GROUP, ProcessGroup) and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    _GROUP = None


def resume_command(run_dir, world: int) -> str:
    """The command that continues a run trained by ``world`` processes (a resume needs as many)."""
    launcher = f"torchrun --nproc-per-node {world} -m gankit train" if world > 1 else "gankit train"
    return f"{launcher} --resume {run_dir}"


def local_batch(global_batch: int, world: int, what: str = "train.batch_size") -> int:
    """The rows of a global batch that one rank trains on; refused in one line unless they divide evenly."""
    if global_batch % world:
        lower, upper = global_batch // world * world, (global_batch // world + 1) * world
        raise ConfigError(f"{what} = {global_batch} does not split evenly over {world} processes; use a multiple "
                          f"of {world}, e.g. {lower or upper} or {upper}")
    return global_batch // world


class ShardedStream:
    """Rank ``rank``'s rows of each global batch of ``inner`` (a stream that delivers global batches, built
    with the run's seed on every rank). ``batch_size`` asked of it is global, like the recipe's plan."""

    def __init__(self, inner, rank: int, world: int):
        self.inner, self.rank, self.world = inner, rank, world

    def next(self, batch_size: Optional[int] = None, resolution: Optional[int] = None) -> tuple:
        if batch_size is not None:
            local_batch(batch_size, self.world, "the batch size of this step")
        batch = self.inner.next(batch_size, resolution)
        return tuple(None if t is None else t.chunk(self.world)[self.rank] for t in batch)

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)
