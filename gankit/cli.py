"""``gankit`` command line: train, list, sample, interpolate, config.

User errors print one line (``gankit: error: ...``) and exit with status 2, without a traceback.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from .config import MAX_SEED
from .errors import GankitError

DEFAULT_PRESET = "mnist-dcgan-fc"


def _train(args) -> int:
    from .config import config_from_dict, load_config, parse_overrides, read_yaml, _deep_update
    from .train import train

    if args.resume:
        run_dir = Path(args.resume)
        if args.config is not None or args.name is not None or args.run_dir is not None or args.overwrite:
            raise GankitError("--resume continues a run with its own config; do not combine it with "
                              "--config, --name, --run-dir or --overwrite")
        if not (run_dir / "config.yaml").exists():
            raise GankitError(f"cannot resume {run_dir}: no config.yaml there (is it a run directory?)")
        values = read_yaml(run_dir / "config.yaml")
        if args.overrides:
            values = _deep_update(values, parse_overrides(args.overrides))
        cfg = config_from_dict(values)
    else:
        from .config import check_run_name

        cfg = load_config(DEFAULT_PRESET if args.config is None else args.config, args.overrides)
        if args.name is not None:
            cfg.name = check_run_name(args.name)
        if args.run_dir is not None and not args.run_dir.strip():
            raise GankitError("--run-dir is empty; give the folder to train in")
        run_dir = Path(args.run_dir) if args.run_dir else Path(args.runs) / cfg.name
    if args.dry_run:
        from .recipes.options import check_settings_are_read

        if not args.resume:
            check_settings_are_read(cfg)
        print(cfg.to_yaml(), end="")
        return 0
    from .train.distributed import current_group, shutdown

    group = current_group(cfg.train.device)  # under torchrun: join the other ranks
    try:
        run = train(cfg, run_dir, resume=bool(args.resume), overwrite=args.overwrite, progress=not args.no_progress)
    except GankitError as e:
        if group.active:  # say which process failed
            raise type(e)(f"rank {group.rank} of {group.world}: {e}") from None
        raise
    except RuntimeError as e:  # a collective whose peer died (gloo: "Connection closed by peer"; NCCL: a timeout)
        import torch

        lost = isinstance(e, torch.distributed.DistError) or any(
            w in str(e) for w in ("Connection closed by peer", "Connection reset by peer", "gloo", "NCCL", "timed out"))
        if group.active and lost:
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise GankitError(f"rank {group.rank} of {group.world}: another rank stopped ({first}); its own message "
                              "says why; resume with the same torchrun command and --resume") from None
        raise
    finally:
        shutdown()
    if run is not None:  # rank 0 (or the one process) reports
        print(f"run directory: {run.path}  (step {run.step}; samples in {run.path / 'samples'})")
    return 0


def _list(args) -> int:
    from . import data, nets, objectives, recipes  # noqa: F401
    from .config import preset_names, preset_values
    from .registry import DATASETS, NETWORKS, OBJECTIVES, RECIPES, closest

    def doc(obj):
        text = (obj.__doc__ or "").strip().splitlines()
        return text[0] if text else ""

    if args.name:
        from .recipes.options import options_of

        kinds = (("recipe", RECIPES), ("objective", OBJECTIVES), ("network", NETWORKS))
        found = [(kind, reg) for kind, reg in kinds if args.name in reg.names() or reg.canonical(args.name) != args.name]
        if not found:
            every = [n for _, reg in kinds for n in reg.names()]
            raise GankitError(f"no recipe, objective or network is called {args.name!r}{closest(args.name, every)}; "
                              "see `gankit list`")
        for kind, reg in found:
            name = reg.canonical(args.name)
            print(f"{kind} {name}: {doc(reg.get(name))}")
            options = options_of(kind, name)
            print("  its own settings (default):" if options else "  no settings of its own")
            for key, default in options:
                print(f"    {key} = {default}")
        return 0

    print("presets (gankit train --config NAME):")
    for name in preset_names():
        v = preset_values(name)
        recipe = v.get("recipe", "unconditional")
        # a recipe that builds its own networks from a section of its own (progan, stylegan) names no g.name
        networks = v.get("g", {}).get("name") or (f"{recipe}'s own" if recipe in v else "dcgan")
        print(f"  {name:<18} {recipe}: {v.get('data', {}).get('name', '?')}, {networks}, "
              f"{v.get('objective', {}).get('name', 'ns')}")
    for title, reg in (("objectives (objective.name)", OBJECTIVES), ("networks (g.name / d.name)", NETWORKS),
                       ("recipes (recipe)", RECIPES), ("datasets (data.name)", DATASETS)):
        print(f"{title}:")
        for name, obj in reg.items():
            aka = reg.aliases_of(name)
            label = name + (f" ({', '.join(aka)})" if aka else "")
            print(f"  {label:<18} {doc(obj)[:90]}")
    return 0


def _sample(args) -> int:
    from .run import load_run
    from .viz.grid import save_grid
    from .viz.plots import plot_toy

    run = load_run(args.run)
    if args.class_grid:
        from .viz.latent_ops import class_grid

        out = class_grid(run, args.out or run.path / f"class_grid_seed{args.seed}.png", columns=min(args.n, 16),
                         seed=args.seed, ema=not args.no_ema)
        print(f"wrote a class grid (one row per class, one z per column) from step {run.step} to {out}")
        return 0
    texts = _captions(args)
    if texts:
        return _sample_texts(run, args, texts)
    tag = "" if args.cls is None else f"_class{args.cls}"
    if args.stages:
        from .viz.grid import save_stages

        out = Path(args.out) if args.out else run.path / f"stages{tag}_seed{args.seed}.png"
        _check_out_file(out)
        stages = run.stages(args.n, seed=args.seed, ema=not args.no_ema, labels=args.cls)
        save_stages(stages, out)
        print(f"wrote the stages of {args.n} samples from step {run.step} to {out} (one row per sample; columns: "
              f"{', '.join(label for label, _ in stages)}; residuals scaled to fill the grey range)")
        return 0
    out = Path(args.out) if args.out else run.path / f"sample{tag}_seed{args.seed}.png"
    _check_out_file(out)
    options = _options(args.opt)
    for name in ("truncation", "cutoff", "noise"):  # shortcuts of --opt for the options a style-based G declares
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    x = run.sample(args.n, seed=args.seed, ema=not args.no_ema, labels=args.cls, options=options)
    if run.info.kind == "points":
        from .data import build_dataset

        plot_toy(x, build_dataset(run.config.data), out, title=f"{run.path.name}, step {run.step}")
    else:
        save_grid(x, out)
    print(f"wrote {args.n} samples from step {run.step} to {out}")
    return 0


MAX_CAPTIONS_PER_SHEET = 256


def _captions(args) -> list:
    """The captions of ``--text`` (repeatable) and ``--text-file`` (one per non-blank line), in that order."""
    texts = list(getattr(args, "text", None) or ())
    path = getattr(args, "text_file", None)
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise GankitError(f"cannot read --text-file {path}: {e}; give a UTF-8 text file with one caption per line")
        lines = [line.strip() for line in lines if line.strip()]
        if not lines:
            raise GankitError(f"--text-file {path} has no captions; write one caption per line")
        texts += lines
    if len(texts) > MAX_CAPTIONS_PER_SHEET:
        raise GankitError(f"{len(texts)} captions are more than one sheet holds ({MAX_CAPTIONS_PER_SHEET}); split the list")
    return texts


def _sample_texts(run, args, texts: list) -> int:
    """One row per caption, ``--n`` samples each; column j has the same z in every row."""
    import torch

    from .memory import check_sampling_fits
    from .viz.grid import save_grid

    if args.cls is not None or args.class_grid or args.stages:
        raise GankitError("--text draws captioned samples; leave out --class, --class-grid and --stages")
    out = Path(args.out) if args.out else run.path / f"sample_text_seed{args.seed}.png"
    _check_out_file(out)
    check_sampling_fits(args.n * len(texts), run.recipe(), f"drawing {args.n * len(texts):,} samples at once",
                        "lower --n or give fewer captions")
    codes = [run.latent(args.n, seed=args.seed, texts=[t]) for t in texts]  # one seed: the same noise in every row
    save_grid(run.generate(torch.cat(codes), ema=not args.no_ema), out, nrow=args.n)
    rows = "; ".join(f"{i + 1}: {t!r}" for i, t in enumerate(texts[:8])) + ("; ..." if len(texts) > 8 else "")
    print(f"wrote {args.n} samples per caption from step {run.step} to {out} (rows {rows})")
    return 0


def _options(items) -> dict:
    """``["psi=0.7", "mix=3"]`` -> {"psi": 0.7, "mix": 3.0}: generation options (numbers where they parse)."""
    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise GankitError(f"--opt takes NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            out[name.strip()] = value.strip()
    return out


def _check_out_file(out: Path) -> None:
    """An output file path must not be a folder, and its folder must exist or be creatable."""
    if out.is_dir():
        raise GankitError(f"--out {out} is a folder; give a file path such as {out / 'samples.png'}")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise GankitError(f"cannot write {out}: {parent} is not a writable folder; choose another --out")


def _bounded(lo: int, hi: int):
    """An argparse type: an integer in [lo, hi], refused in one line otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, got {value}")
        return value
    parse.__name__ = "integer"
    return parse


SEED = _bounded(0, MAX_SEED)
POSITIVE = _bounded(1, 2**31 - 1)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line, like every other gankit error (no usage block)."""

    def error(self, message):
        print(f"gankit: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def _run_options(parser, out_help: str) -> None:
    """The options every command that draws from a run directory shares."""
    parser.add_argument("run")
    parser.add_argument("--seed", type=SEED, default=0)
    parser.add_argument("--out", help=out_help)
    parser.add_argument("--no-ema", action="store_true", help="use the raw G even if the run kept an EMA")


def _traverse(args) -> int:
    from .run import load_run
    from .viz.latent_ops import traverse

    run = load_run(args.run)
    out = traverse(run, args.code, args.out or run.path / f"traverse_{args.code}.png", rows=args.rows,
                   steps=args.steps, span=args.span, seed=args.seed, ema=not args.no_ema)
    print(f"wrote {out} (rows: fixed z and other codes; columns: {args.code})")
    return 0


def _style_mix(args) -> int:
    from .run import load_run
    from .viz.grid import save_grid
    from .viz.style_figures import style_mix_grid

    run = load_run(args.run)
    out = Path(args.out) if args.out else run.path / f"style_mix_{args.layers}_seed{args.seed}.png"
    _check_out_file(out)
    grid = style_mix_grid(run, args.layers, n_a=args.n_a, n_b=args.n_b, seed=args.seed, ema=not args.no_ema)
    save_grid(grid, out, nrow=args.n_a + 1)
    print(f"wrote {out} (first row: sources A; first column: sources B; each cell: B's {args.layers} styles, "
          "A's others; fixed noise)")
    return 0


def _noise(args) -> int:
    from .run import load_run
    from .viz.grid import save_grid
    from .viz.style_figures import noise_variation

    run = load_run(args.run)
    out = Path(args.out) if args.out else run.path / f"noise_seed{args.seed}.png"
    _check_out_file(out)
    import torch

    samples, std = noise_variation(run, n=args.n, seed=args.seed, ema=not args.no_ema)
    save_grid(torch.cat([samples, std.expand(1, samples.shape[1], -1, -1)]), out, nrow=args.n + 1)
    print(f"wrote {out} ({args.n} samples of one z with fresh noise inputs, then the per-pixel std over 64 draws)")
    return 0


def _project(args) -> int:
    from .project import project_images
    from .run import load_run

    run = load_run(args.run)
    out = Path(args.out) if args.out else run.path / "projected"
    res = project_images(run, args.image, out, steps=args.steps, seed=args.seed, ema=not args.no_ema,
                         mse_weight=args.mse_weight, lr=args.lr, overwrite=args.overwrite)
    scores = res["images"]
    mean = sum(s["psnr_db"] for s in scores) / len(scores)
    print(f"projected {len(scores)} image(s) into {out} (mean PSNR {mean:.1f} dB; sheet {res['sheet']}, "
          f"latents {res['latents']})")
    return 0


def _arithmetic(args) -> int:
    from .run import load_run
    from .viz.latent_ops import arithmetic

    run = load_run(args.run)
    res = arithmetic(run, args.out or run.path / "arithmetic", indices=args.indices, classes=args.classes,
                     n=args.n, seed=args.seed, ema=not args.no_ema)
    print(f"wrote {res['png']} (A - B + C with A, B, C = samples {res['groups']} of {res['sheet']})")
    return 0


def _interpolate(args) -> int:
    from .run import load_run
    from .viz.interpolate import interpolate_run

    run = load_run(args.run)
    out = Path(args.out) if args.out else run.path / "interpolation"
    classes = None
    if args.classes:
        try:
            a, b = (int(c) for c in args.classes.split(","))
        except ValueError:
            raise GankitError(f"--classes takes two classes a,b, got {args.classes!r}") from None
        classes = (a, b)
    texts = None
    if args.text:
        if len(args.text) != 2 or classes:
            raise GankitError("--text takes two captions (--text A --text B), without --classes")
        texts = tuple(args.text)
    paths = interpolate_run(run, out, pairs=args.pairs, steps=args.steps, seed=args.seed, ema=not args.no_ema,
                            classes=classes, texts=texts)
    print(f"wrote {paths['png']} (rows: linear, then slerp) and {paths['gif']}")
    return 0


def _translate(args) -> int:
    from .run import load_run
    from .translate import translate_images

    run = load_run(args.run)
    res = translate_images(run, args.input, args.out, direction=args.direction, to=args.to, ema=not args.no_ema,
                           overwrite=args.overwrite)
    print(f"wrote {len(res['outputs'])} translated images from step {run.step} to {args.out} "
          f"(inputs beside outputs: {res['sheet']})")
    return 0


def _fid(args) -> int:
    from .metrics.extractors import build_backbone
    from .metrics.fid_cli import save_stats, stats_for
    from .metrics.frechet import frechet_distance

    backbone = build_backbone(args.backbone, input_size=args.resize, protocol=args.protocol)
    if args.save_stats:
        if args.b:
            raise GankitError("--save-stats takes one source: gankit fid SOURCE --save-stats OUT.npz")
        mu, sigma, n = stats_for(args.a, backbone, args.limit, progress=True)
        save_stats(args.save_stats, mu, sigma, backbone, n, args.a)
        print(f"wrote statistics of {n} images ({backbone.name}) to {args.save_stats}")
        return 0
    if not args.b:
        raise GankitError("gankit fid needs two sources: gankit fid A B (or A --save-stats OUT.npz)")
    a = stats_for(args.a, backbone, args.limit, progress=True)
    b = stats_for(args.b, backbone, args.limit, progress=True)
    if backbone.name == "inception":
        about = ("the TF graph's protocol of published FIDs" if backbone.protocol == "tf" else
                 "pytorch-fid's preprocessing: close to published FIDs, not identical; --protocol tf matches them")
    else:
        about = "not comparable with published FIDs, which use Inception-v3 (--backbone inception)"
    name = "fid" if backbone.name == "inception" else f"fid_{backbone.name}"
    print(f"{name}: {frechet_distance(a[0], a[1], b[0], b[1]):.4f}  (n = {a[2]} vs {b[2]}; {about})")
    return 0


def _eval(args) -> int:
    from .metrics.evaluate import evaluate_run, format_table, write_report
    from .run import load_run

    run = load_run(args.run)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    report = evaluate_run(run, metrics, n=args.n, backbone=args.backbone, seed=args.seed, progress=True,
                          resize=args.resize, inception_protocol=args.protocol)
    path = write_report(run, report)
    print(format_table(report))
    print(f"wrote {path}")
    return 0


def _lab(args) -> int:
    from .lab import run_experiment

    given = (("steps", args.steps), ("seed", args.seed), ("seeds", args.seeds), ("arms", args.arms),
             ("toys", args.toys), ("data", args.data), ("seconds", args.seconds))
    kw = {k: v for k, v in given if v is not None}
    summary = run_experiment(args.name, args.out, **kw)
    print(summary["verdict"])
    print(f"wrote {args.out or 'runs/lab-' + args.name}/results.json and its figures")
    return 0


def _study(args) -> int:
    from .study import StudySettings, run_study, write_report
    from .study.runner import read_settings

    out = args.out or f"studies/{args.dataset}"
    if args.report_only:
        read_settings(out)
        write_report(out, args.storage)
    else:
        if not args.objectives:
            raise GankitError("gankit study needs --objectives, e.g. --objectives ns,lsgan,wgan-gp")
        objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
        settings = StudySettings(objectives=objectives, dataset=args.dataset, config=args.config, budget=args.budget,
                                 seeds=args.seeds, steps=args.steps, space=args.space, sampler=args.sampler,
                                 backbone=args.backbone, n_eval=args.n_eval, seed=args.seed,
                                 overrides=tuple(args.overrides))
        run_study(settings, out, storage_url=args.storage, workers=args.workers)
    print(f"wrote {out}/table.md, report.json, fid_boxplot.png, fid_vs_budget.png and best/*.yaml")
    return 0


def _classifier(args) -> int:
    from .metrics.classifier import train_classifier

    meta = train_classifier(args.dataset, epochs=args.epochs, seed=args.seed, progress=not args.no_progress)
    print(f"classifier for {meta['dataset']}: test accuracy {100 * meta['test_accuracy']:.2f} % "
          f"({meta['n_test']} images), saved to {meta['path']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gankit", description="Train, sample and explore GANs, offline.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a preset (default: mnist-dcgan-fc) with key=value overrides")
    t.add_argument("overrides", nargs="*", help="config overrides such as train.steps=500 optim.d.type=sgd")
    t.add_argument("--config", "-c", help="preset name (see `gankit list`) or a YAML file")
    t.add_argument("--name", help="run name (default: the preset's name)")
    t.add_argument("--runs", default="runs", help="folder that holds run directories (default: runs)")
    t.add_argument("--run-dir", help="exact run directory (default: RUNS/NAME)")
    t.add_argument("--resume", metavar="RUN", help="continue the run in this directory from its last checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    t.add_argument("--no-progress", action="store_true", help="no progress bar or lines, and no quality line (quality.json is still written)")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")
    t.set_defaults(func=_train)

    ls = sub.add_parser("list", help="presets, objectives, networks, recipes, datasets; `list NAME`: its settings")
    ls.add_argument("name", nargs="?", help="a recipe, objective or network: show the settings it reads")
    ls.set_defaults(func=_list)

    s = sub.add_parser("sample", help="sample a grid from a run")
    s.add_argument("run")
    s.add_argument("--n", type=POSITIVE, default=64)
    s.add_argument("--seed", type=SEED, default=0)
    s.add_argument("--out", help="PNG path (default: RUN/sample_seedN.png)")
    s.add_argument("--no-ema", action="store_true", help="use the raw G even if the run kept an EMA")
    s.add_argument("--class", dest="cls", type=int, help="conditional runs: every sample of this class")
    s.add_argument("--class-grid", action="store_true", help="conditional runs: one row per class, fixed z per column")
    s.add_argument("--stages", action="store_true",
                   help="staged runs (LAPGAN): one row per sample, one column per intermediate image")
    s.add_argument("--text", action="append", metavar="CAPTION",
                   help="text runs: --n samples of this caption, one row per caption (repeatable)")
    s.add_argument("--text-file", metavar="FILE", help="text runs: captions, one per line (a row each)")
    s.add_argument("--opt", action="append", metavar="NAME=VALUE",
                   help="a generation option the run's recipe declares (repeatable; `gankit list RECIPE`)")
    s.add_argument("--truncation", type=float, metavar="PSI",
                   help="StyleGAN: the truncation trick, psi in [0, 1] (1: off); same as --opt truncation=PSI")
    s.add_argument("--cutoff", type=int, metavar="K", help="StyleGAN: truncate the first K layers (default: half)")
    s.add_argument("--noise", choices=("random", "const"),
                   help="StyleGAN: the noise inputs drawn from --seed (random, default) or held fixed (const)")
    s.set_defaults(func=_sample)

    t = sub.add_parser("traverse", help="InfoGAN: vary one latent code, hold the rest (paper's fig. 2)")
    _run_options(t, "PNG path (default: RUN/traverse_CODE.png)")
    t.add_argument("--code", required=True, help="c1 (categorical), c2, c3, ... (continuous)")
    t.add_argument("--rows", type=_bounded(1, 1000), default=8)
    t.add_argument("--steps", type=_bounded(1, 1000), default=10, help="values of a continuous code")
    t.add_argument("--span", type=float, default=2.0, help="continuous codes go from -span to span")
    t.set_defaults(func=_traverse)

    m = sub.add_parser("style-mix", help="StyleGAN: the style-mixing grid (paper's fig. 3)")
    _run_options(m, "PNG path (default: RUN/style_mix_LAYERS_seedSEED.png)")
    m.add_argument("--layers", default="coarse", help="the style group each cell takes from B: coarse, middle or fine")
    m.add_argument("--n-a", type=_bounded(1, 64), default=5, help="sources A (columns)")
    m.add_argument("--n-b", type=_bounded(1, 64), default=3, help="sources B (rows)")
    m.set_defaults(func=_style_mix)

    nz = sub.add_parser("noise", help="one z, many draws of the noise inputs, and their per-pixel std (StyleGAN fig. 4)")
    _run_options(nz, "PNG path (default: RUN/noise_seedSEED.png)")
    nz.add_argument("--n", type=_bounded(1, 256), default=8, help="samples shown")
    nz.set_defaults(func=_noise)

    pj = sub.add_parser("project", help="GAN inversion: the latent from which G reproduces each given image")
    _run_options(pj, "output folder (default: RUN/projected)")
    pj.add_argument("--image", required=True, help="an image file or a folder of PNG/JPEG images")
    pj.add_argument("--steps", type=_bounded(1, 100000), default=300, help="optimisation steps (default 300)")
    pj.add_argument("--lr", type=float, default=0.1, help="Adam's peak learning rate (default 0.1)")
    pj.add_argument("--mse-weight", type=float, default=1.0, help="weight of the pixel MSE next to the perceptual term")
    pj.add_argument("--overwrite", action="store_true", help="replace earlier outputs in --out")
    pj.set_defaults(func=_project)

    a = sub.add_parser("arithmetic", help="latent vector arithmetic A - B + C (DCGAN, sec. 6.3)")
    _run_options(a, "output folder (default: RUN/arithmetic)")
    a.add_argument("--indices", help="three groups of sample indices on the sheet, e.g. '1,2,3;4,5,6;7,8,9'")
    a.add_argument("--classes", help="three classes a,b,c (conditional runs, or the dataset's classifier)")
    a.add_argument("--n", type=_bounded(1, 10000), default=64, help="samples on the numbered sheet")
    a.set_defaults(func=_arithmetic)

    i = sub.add_parser("interpolate", help="latent interpolation grid (linear and slerp) and GIF")
    i.add_argument("run")
    i.add_argument("--pairs", type=_bounded(1, 1000), default=8)
    i.add_argument("--steps", type=_bounded(2, 1000), default=10)
    i.add_argument("--seed", type=SEED, default=0)
    i.add_argument("--out", help="output folder (default: RUN/interpolation)")
    i.add_argument("--no-ema", action="store_true")
    i.add_argument("--classes", help="conditional runs: a,b keeps each z and moves its label from a to b")
    i.add_argument("--text", action="append", metavar="CAPTION",
                   help="text runs: give it twice (A, then B): each z keeps, its caption embedding moves from A to B")
    i.set_defaults(func=_interpolate)

    tr = sub.add_parser("translate", help="translate images with a pix2pix, CycleGAN or StarGAN run")
    tr.add_argument("run")
    tr.add_argument("--input", required=True, help="an image file or a folder of images")
    tr.add_argument("--out", required=True, help="output folder (one PNG per input, and sheet.png)")
    tr.add_argument("--direction", choices=("AtoB", "BtoA"), help="CycleGAN: which generator (default AtoB)")
    tr.add_argument("--to", help="StarGAN: target attributes attr=value,... (default: one output per value)")
    tr.add_argument("--no-ema", action="store_true", help="use the raw G even if the run kept an EMA")
    tr.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    tr.set_defaults(func=_translate)

    f = sub.add_parser("fid", help="Fréchet distance between two image folders, .npz stats or datasets")
    f.add_argument("a", help="image folder, .npz statistics, or dataset[:split] (e.g. fashion-mnist:test)")
    f.add_argument("b", nargs="?")
    f.add_argument("--backbone", default="effnet-lite0",
                   help="effnet-lite0 (offline default), inception (needs local weights), classifier:DATASET")
    f.add_argument("--limit", type=POSITIVE, help="use at most this many images of each source")
    f.add_argument("--save-stats", metavar="OUT.npz", help="write A's statistics instead of comparing")
    f.add_argument("--resize", type=_bounded(32, 1024), help="effnet-lite0 input size, 32..1024 (default 224)")
    f.add_argument("--protocol", choices=("tf", "pytorch-fid"),
                   help="inception: the TF graph's preprocessing (default; published FIDs) or pytorch-fid's")
    f.set_defaults(func=_fid)

    e = sub.add_parser("eval", help="FID, KID, IS, precision/recall, density/coverage of a run (JSON in RUN/eval)")
    e.add_argument("run")
    e.add_argument("--metrics", default="fid,kid,is,pr,dc",
                   help="comma-separated, from fid, kid, is, pr, dc (on a backbone's features), parzen, swd, "
                        "ms_ssim (on the pixels), ppl_z, ppl_w (perceptual path length in Z / W, with --n pairs) and "
                        "sep_z, sep_w (linear separability by the dataset's classes); "
                        "default fid,kid,is,pr,dc")
    e.add_argument("--n", type=_bounded(2, 2**31 - 1), default=10000, help="samples per side (default 10000)")
    e.add_argument("--backbone", default="effnet-lite0")
    e.add_argument("--seed", type=SEED, default=0)
    e.add_argument("--resize", type=_bounded(32, 1024),
                   help="effnet-lite0 input size, 32..1024 (default 224; 64-128 is much faster on CPU)")
    e.add_argument("--protocol", choices=("tf", "pytorch-fid"),
                   help="inception: the TF graph's preprocessing (default; published FIDs) or pytorch-fid's")
    e.set_defaults(func=_eval)

    lab = sub.add_parser("lab", help="run an experiment from the slides: optimal-d, vanishing-gradients, "
                                     "mode-collapse, vae-vs-gan")
    lab.add_argument("name")
    lab.add_argument("--out", help="output folder (default runs/lab-NAME)")
    lab.add_argument("--steps", type=int, help="training steps (each experiment has its default)")
    lab.add_argument("--seed", type=SEED, help="(first) seed")
    lab.add_argument("--seeds", type=int, help="mode-collapse: seeds per arm (default 3)")
    lab.add_argument("--arms", help="mode-collapse: objective[+pack<m>][+mbstd][+critic<k>],... "
                                    "(default minimax,ns,ns+pack2,ns+mbstd,ns-r1+pack2,wgan-gp)")
    lab.add_argument("--toys", help="mode-collapse: ring, grid or ring,grid (default)")
    lab.add_argument("--data", help="vae-vs-gan: mnist5k (default) or fashion-mnist")
    lab.add_argument("--seconds", type=float, help="vae-vs-gan: CPU seconds of training per arm and seed (default 120)")
    lab.set_defaults(func=_lab)

    st = sub.add_parser("study", help="compare objectives fairly: random settings per objective, FID, budget curves "
                                      "(Lucic et al. 2018); resumable, parallel workers (Optuna)")
    st.add_argument("--objectives", help="comma-separated objectives, e.g. ns,minimax,lsgan,wgan,wgan-gp,dragan,began")
    st.add_argument("--dataset", default="mnist5k")
    st.add_argument("--config", default="mnist-dcgan", help="preset that fixes the shared architecture")
    st.add_argument("--budget", type=int, default=20, help="random settings per objective")
    st.add_argument("--seeds", type=int, default=1, help="seeds per setting (its FID is their mean)")
    st.add_argument("--steps", type=int, default=1000, help="G steps per trial")
    st.add_argument("--space", default="wide", help="wide (Lucic) or narrow (beta1 0.5, lr 1e-4..1e-3, 1 D step)")
    st.add_argument("--sampler", default="random", help="random (the Lucic protocol) or tpe")
    st.add_argument("--backbone", help="FID features (default classifier:DATASET)")
    st.add_argument("--n-eval", type=int, default=1000, help="samples per side for FID")
    st.add_argument("--seed", type=SEED, default=0)
    st.add_argument("--workers", type=_bounded(1, 256), default=1, help="local worker processes sharing the study")
    st.add_argument("--storage", help="Optuna database URL (default sqlite:///OUT/study.db); give the same URL "
                                      "on several machines to share one study")
    st.add_argument("--out", help="study directory (default studies/DATASET)")
    st.add_argument("--report-only", action="store_true", help="only (re)write the report of --out")
    st.add_argument("overrides", nargs="*", help="config overrides for every trial, e.g. g.width=32")
    st.set_defaults(func=_study)

    c = sub.add_parser("classifier", help="train the domain classifier of a labelled dataset (for metrics)")
    csub = c.add_subparsers(dest="action", required=True)
    ct = csub.add_parser("train", help="train and cache it")
    ct.add_argument("dataset", help="a labelled image dataset, e.g. mnist5k or fashion-mnist")
    ct.add_argument("--epochs", type=POSITIVE, help="passes over the training set (default: about 60k examples)")
    ct.add_argument("--seed", type=SEED, default=0)
    ct.add_argument("--no-progress", action="store_true")
    ct.set_defaults(func=_classifier)
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """Parse like argparse, but let ``key=value`` overrides and options come in any order
    (``gankit train --config X train.steps=2 --no-progress train.plot_samples=false``)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = list(args.overrides) + extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:  # --help, or a bad command line (already reported in one line)
        return e.code if isinstance(e.code, int) else 2
    try:
        return args.func(args)
    except GankitError as e:
        print(f"gankit: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("gankit: error: out of memory; lower the batch size, the number of samples or the network size",
              file=sys.stderr)
        return 2
    except OSError as e:  # a read-only folder, a full disk, a missing file: the system says which
        what = f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
        hint = " (free some disk space; the last complete files are kept)" if e.errno == errno.ENOSPC else ""
        print(f"gankit: error: {_one_line(what)}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
