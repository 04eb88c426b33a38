"""The package's layers import in one direction (issue 17, item 6), and no code outside a recipe asks which
family a run is (item 1). Imports inside functions count too: they break import-time cycles, not design ones."""
import ast
from pathlib import Path

import gankit

ROOT = Path(gankit.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                elif (node.module or "").startswith("gankit"):
                    target = node.module
                else:
                    continue
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    targets.add(full if full in modules else target)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("gankit")}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict) -> list:
    """Strongly connected components of more than one module (Tarjan 1972)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_cycles_are_found_when_present():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_bottom_layers_import_nothing_above_them():
    graph = import_graph()
    allowed = {"gankit.config": {"gankit.errors", "gankit.registry", "gankit.metrics.names"},
               "gankit.metrics.names": set(), "gankit.errors": set(),
               "gankit.data.info": set()}
    for module, imports in allowed.items():
        assert graph[module] <= imports, (module, graph[module] - imports)
    assert "gankit.recipes.base" not in graph["gankit.train.checkpoint"]
    assert "gankit.study.runner" not in graph["gankit.study.report"]


def test_metric_names_match_the_registries():
    from gankit.metrics.extractors import BACKBONES
    from gankit.metrics.names import BACKBONE_NAMES

    assert sorted(BACKBONE_NAMES) == sorted(BACKBONES.names())


def test_no_family_is_named_or_probed_outside_the_recipes():
    recipe_names = set(__import__("gankit.registry", fromlist=["RECIPES"]).RECIPES.names())
    offenders = []
    for path in ROOT.rglob("*.py"):
        if "recipes" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "hasattr" and \
                    "recipe" in ast.unparse(node.args[0]):
                offenders.append(f"{path.name}: {ast.unparse(node)}")
            if isinstance(node, ast.Compare) and "recipe" in ast.unparse(node.left) and any(
                    isinstance(c, ast.Constant) and c.value in recipe_names for c in node.comparators):
                offenders.append(f"{path.name}: {ast.unparse(node)}")
    assert offenders == []


def test_a_run_written_before_the_seams_changed_still_loads_samples_and_resumes(tmp_path, capsys):
    """tests/fixtures/run-before-issue-17-infogan was trained by gankit af2bbaa (before issue 17): an InfoGAN run
    with its cond: section, 2 steps on 16 px digits."""
    import shutil

    import torch

    from gankit import load_run
    from gankit.cli import main

    run_dir = tmp_path / "old"
    shutil.copytree(Path(__file__).parent / "fixtures" / "run-before-issue-17-infogan", run_dir)
    run = load_run(run_dir)
    assert run.step == 2 and run.sampling.codes == ("c1", "c2") and run.num_classes == 3
    x = run.sample(3, labels=torch.arange(3))
    assert x.shape == (3, 1, 16, 16) and torch.isfinite(x).all()
    assert main(["traverse", str(run_dir), "--code", "c2", "--rows", "2", "--steps", "3"]) == 0
    assert main(["train", "--resume", str(run_dir), "--no-progress", "train.steps=3"]) == 0
    assert load_run(run_dir).step == 3


def test_a_cyclegan_run_whose_pools_were_networks_still_translates_and_resumes(tmp_path):
    """tests/fixtures/run-before-issue-17-cyclegan (gankit af2bbaa) kept its history pools among the weights;
    they are recipe state now: the old layout is upgraded on load, and the pools come back filled."""
    import shutil

    import torch

    from gankit import load_run
    from gankit.train import Trainer

    run_dir = tmp_path / "old"
    shutil.copytree(Path(__file__).parent / "fixtures" / "run-before-issue-17-cyclegan", run_dir)
    run = load_run(run_dir)
    assert int(run.recipe().pools["a"].filled) == 4
    assert run.translate(torch.zeros(2, 1, 32, 32), direction="BtoA").shape == (2, 1, 32, 32)
    cfg = load_run(run_dir).config
    cfg.train.steps = 3
    with Trainer(cfg, run_dir, resume=True, progress=False, tensorboard=False) as t:
        assert int(t.recipe.pools["b"].filled) == 4
        t.fit()
    assert load_run(run_dir).step == 3 and "pool_a.images" in torch.load(
        run_dir / "checkpoints" / "last.state.pt", weights_only=True)["recipe"]
