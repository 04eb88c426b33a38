"""Captioned images for text-to-image GANs, all offline and deterministic.

A captioned dataset gives every image one or more captions; a batch is ``(x, labels, caption)`` with ``caption``
(N,) indices into the dataset's ``captions``: a tuple of (text, group) pairs sorted by group. Captions of one group
describe the same content (one class, or one class in one colour scheme); the matching-aware discriminator's wrong
captions (Reed et al. 2016, GAN-CLS) are drawn from the other groups (:func:`wrong_captions`).

* ``captioned-mnist5k``, ``captioned-fashion``: one group per class (8 and 7 training templates, 3 held out).
* ``captioned-colordigits``: one group per (digit, stroke colour, background): 60 groups, every caption naming all three
  (6 training templates, 2 held out).
* ``caption-folder``: the user's images under ``data.root``, each with a caption file ``<image stem>.txt`` beside it
  (one caption per line) or rows ``file,caption`` in ``data.root/captions.csv``. Images in class sub-folders make one
  group per class; otherwise every distinct caption is its own group.

The built-in datasets keep **held-out templates** (paraphrases never used in training, ``held_out``) for testing
whether a sentence encoder carries a caption's meaning to words the GAN never saw.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import torch

from ..errors import DataError
from ..registry import DATASETS
from .base import BatchStream, TensorDataset, _EpochStream
from .info import MAX_CAPTION_CHARS
from .images import FASHION_CLASSES, fashion_mnist, folder_files, load_folder_images, mnist5k
from .translation import BACKGROUNDS, STROKES, _data_config, colordigits

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


DIGIT_TEMPLATES = ("a handwritten {word}", "the digit {n}", "a picture of the number {word}",
                   "{a_word} written by hand", "the number {n} in white on black", "a drawing of the numeral {n}",
                   "a {n} written with a pen", "the handwritten number {word}")
DIGIT_HELD_OUT = ("an image showing the numeral {word}", "a scan of a hand drawn {n}", "someone wrote the number {word}")

FASHION_ITEMS = ("a t-shirt", "a pair of trousers", "a pullover", "a dress", "a coat", "a sandal", "a shirt",
                 "a pair of sneakers", "a bag", "an ankle boot")
FASHION_TEMPLATES = ("{item}", "a photo of {item}", "a grey picture of {item}", "{item} on a black background",
                     "a small image of {item}", "a black and white photo of {item}", "this is {item}")
FASHION_HELD_OUT = ("a product shot of {item}", "here we see {item}", "a catalogue picture of {item}")

COLOR_TEMPLATES = ("a {stroke} {word} on a {background} background", "the digit {n} drawn in {stroke} on {background}",
                   "{a_word} written in {stroke} ink on a {background} background",
                   "{stroke} strokes forming {a_word}, {background} background",
                   "a {background} picture of a {stroke} {n}", "the number {word} in {stroke} on {background}")
COLOR_HELD_OUT = ("a {background} image with a {stroke} number {word}", "the numeral {n} in {stroke} over {background}")


class CaptionedDataset(TensorDataset):
    """Images (uint8), class labels or None, and captions: ``captions`` is ((text, group), ...) sorted by group;
    image i's captions are ``captions[first[i] : first[i] + count[i]]``. ``held_out`` holds (text, group) pairs of
    paraphrases never trained on; ``group_classes`` maps a group to its class (or None), and ``group_attributes``
    (colordigits) to its (stroke, background) indices."""

    pairing = "captioned"
    #: the dataset whose classifier reads the class of an image (gankit.metrics.classifier), or None
    classifier: Optional[str] = None

    def __init__(self, x, labels, num_classes, class_names, captions: tuple, first: torch.Tensor,
                 count: torch.Tensor, name: str, held_out: tuple = (), group_classes: Optional[dict] = None,
                 group_attributes: Optional[dict] = None, classifier: Optional[str] = None):
        super().__init__(x, labels, num_classes, class_names, name=name)
        self.classifier = classifier
        self.captions, self.first, self.count = tuple(captions), first.long(), count.long()
        self.held_out, self.group_classes = tuple(held_out), group_classes
        self.group_attributes = group_attributes

    def stream(self, batch_size, seed, device="cpu"):
        return _CaptionStream(self, batch_size, seed, device)

    def caption_groups(self) -> torch.Tensor:
        return torch.tensor([g for _, g in self.captions])

    def describe(self):
        groups = len({g for _, g in self.captions})
        c, h, w = self.shape
        return f"{self.name}: {len(self)} images {c}x{h}x{w}, {len(self.captions)} captions in {groups} groups"


class _CaptionStream(BatchStream):
    """Shuffled epochs of images; each image of a batch comes with one of its captions, drawn uniformly."""

    def __init__(self, data: CaptionedDataset, batch_size: int, seed: int, device):
        index = TensorDataset(data.x, torch.arange(len(data)), name=data.name)
        self.inner = _EpochStream(index, batch_size, seed, device)
        self.labels = None if data.y is None else data.y.to(device)
        self.first, self.count = data.first.to(device), data.count.to(device)
        self.gen = torch.Generator().manual_seed(seed + 17)

    def next(self, batch_size=None, resolution=None):
        x, idx = self.inner.next(batch_size, resolution)
        pick = (torch.rand(len(idx), generator=self.gen).to(idx.device) * self.count[idx]).long()
        return x, (None if self.labels is None else self.labels[idx]), self.first[idx] + pick

    def state_dict(self):
        return {"inner": self.inner.state_dict(), "gen": self.gen.get_state()}

    def load_state_dict(self, state):
        self.inner.load_state_dict(state["inner"])
        self.gen.set_state(state["gen"])


def _template_captions(groups: int, templates: tuple, fill) -> tuple:
    """((text, group), ...) for every group and template, sorted by group."""
    return tuple((t.format(**fill(g)), g) for g in range(groups) for t in templates)


def _from_groups(x, labels, group, groups: int, templates, held_out, fill, name, num_classes, class_names,
                 group_classes, classifier, group_attributes=None) -> CaptionedDataset:
    captions = _template_captions(groups, templates, fill)
    count = torch.full((len(x),), len(templates))
    return CaptionedDataset(x, labels, num_classes, class_names, captions, group * len(templates), count, name,
                            _template_captions(groups, held_out, fill), group_classes, group_attributes, classifier)


def _digit_words(d: int) -> dict:
    return {"n": d, "word": NUMBERS[d], "a_word": ("an " if NUMBERS[d][0] == "e" else "a ") + NUMBERS[d]}


@DATASETS.register("captioned-mnist5k")
def captioned_mnist5k(cfg) -> CaptionedDataset:
    """mnist5k with captions ("a handwritten seven", "the digit 7", ...; 8 templates, 3 held out)."""
    base = mnist5k(_data_config(cfg, name="mnist5k", split=cfg.split, image_size=cfg.image_size, limit=cfg.limit))
    return _from_groups(base.x, base.y, base.y, 10, DIGIT_TEMPLATES, DIGIT_HELD_OUT, _digit_words,
                        "captioned-mnist5k", 10, base.class_names, {g: g for g in range(10)}, "mnist5k")


@DATASETS.register("captioned-fashion")
def captioned_fashion(cfg) -> CaptionedDataset:
    """Fashion-MNIST with captions ("a pair of sneakers", "a photo of an ankle boot", ...; 7 templates, 3 held out)."""
    base = fashion_mnist(_data_config(cfg, name="fashion-mnist", split=cfg.split, image_size=cfg.image_size,
                                      limit=cfg.limit, root=cfg.root))
    return _from_groups(base.x, base.y, base.y, 10, FASHION_TEMPLATES, FASHION_HELD_OUT,
                        lambda g: {"item": FASHION_ITEMS[g]}, "captioned-fashion", 10, FASHION_CLASSES,
                        {g: g for g in range(10)}, "fashion-mnist")


@DATASETS.register("captioned-colordigits")
def captioned_colordigits(cfg) -> CaptionedDataset:
    """colordigits (mnist5k digits in red, green or blue on black or white) with captions naming the digit, the
    stroke colour and the background ("a red seven on a white background"; 6 templates, 2 held out); 60 groups."""
    base = colordigits(_data_config(cfg, name="colordigits", split=cfg.split, image_size=cfg.image_size,
                                    limit=cfg.limit))
    strokes, backgrounds = list(STROKES), list(BACKGROUNDS)
    per_digit = len(strokes) * len(backgrounds)
    group = base.digits * per_digit + base.y[:, 0] * len(backgrounds) + base.y[:, 1]

    def fill(g):
        d, rest = divmod(g, per_digit)
        s, b = divmod(rest, len(backgrounds))
        return {**_digit_words(d), "stroke": strokes[s], "background": backgrounds[b]}

    classes = {g: g // per_digit for g in range(10 * per_digit)}
    attributes = {g: divmod(g % per_digit, len(backgrounds)) for g in range(10 * per_digit)}
    ds = _from_groups(base.x, base.digits, group, 10 * per_digit, COLOR_TEMPLATES, COLOR_HELD_OUT, fill,
                      "captioned-colordigits", 10, [str(i) for i in range(10)], classes, "mnist5k", attributes)
    ds.ink = base.ink
    return ds


def _read_caption_lines(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read caption file {path}: {e}; save it as UTF-8 text") from None
    return [line.strip() for line in lines if line.strip()]


def _folder_captions(root: Path, files: list[Path]) -> list[list[str]]:
    """Each image's captions, from ``captions.csv`` (file,caption rows) or ``<stem>.txt`` beside each image."""
    table = root / "captions.csv"
    if table.exists():
        found: dict = {}
        try:
            with open(table, newline="", encoding="utf-8") as f:
                for i, row in enumerate(csv.reader(f)):
                    if i == 0 and [c.strip().lower() for c in row[:2]] == ["file", "caption"]:
                        continue
                    if len(row) < 2:
                        raise DataError(f"{table} row {i + 1} is not file,caption; write one image and its caption "
                                        "per row")
                    found.setdefault(row[0].strip(), []).append(row[1].strip())
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise DataError(f"cannot read {table}: {e}; save it as UTF-8 CSV with rows file,caption") from None
        out = [[c for c in found.get(str(p.relative_to(root)), found.get(p.name, [])) if c] for p in files]
        where = f"rows for it in {table}"
    else:
        out = [_read_caption_lines(p.with_suffix(".txt")) if p.with_suffix(".txt").exists() else None for p in files]
        missing = next((p for p, c in zip(files, out) if c is None), None)
        if missing is not None:
            raise DataError(f"image {missing} has no caption: write {missing.with_suffix('.txt')} (one caption per "
                            f"line) or a {table} with rows file,caption")
        where = "lines in its .txt file"
    for p, caps in zip(files, out):
        if not caps:
            raise DataError(f"image {p} has an empty caption (no non-blank {where}); write at least one caption")
        long = next((c for c in caps if len(c) > MAX_CAPTION_CHARS), None)
        if long is not None:
            raise DataError(f"a caption of image {p} has {len(long)} characters, more than {MAX_CAPTION_CHARS}; "
                            "shorten it")
    return out


@DATASETS.register("caption-folder")
def caption_folder(cfg) -> CaptionedDataset:
    """The user's images under ``data.root`` (PNG/JPEG, searched recursively) with captions (see the module's
    docstring), read as the ``folder`` dataset reads images (:func:`~gankit.data.images.load_folder_images`)."""
    root, files = folder_files(cfg, "caption-folder", "a folder of images with captions")
    per_image = [list(dict.fromkeys(caps)) for caps in _folder_captions(root, files)]
    x = torch.from_numpy(load_folder_images(files, cfg))
    parents = [str(p.parent.relative_to(root)) for p in files]
    names = sorted(set(parents)) if all(p != "." for p in parents) else None
    labels = torch.tensor([names.index(p) for p in parents]) if names else None
    group = [names.index(p) for p in parents] if names else _shared_caption_groups(per_image)
    captions, first, count = [], [0] * len(files), [0] * len(files)
    for i in sorted(range(len(files)), key=lambda i: (group[i], i)):  # sorted by group, each image's block contiguous
        first[i], count[i] = len(captions), len(per_image[i])
        captions += [(c, group[i]) for c in per_image[i]]
    group_classes = {g: (g if names else None) for g in set(group)}
    return CaptionedDataset(x, labels, len(names) if names else None, names, tuple(captions), torch.tensor(first),
                            torch.tensor(count), f"caption-folder:{root.name}", (), group_classes)


def _shared_caption_groups(per_image: list[list[str]]) -> list[int]:
    """Groups of images without classes: images that share any caption text are one group (union-find), so a wrong
    caption is never a text that also describes the image."""
    parent = list(range(len(per_image)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict = {}
    for i, caps in enumerate(per_image):
        for c in caps:
            j = owner.setdefault(c, i)
            parent[root(i)] = root(j)
    number = {r: k for k, r in enumerate(sorted({root(i) for i in range(len(per_image))}))}
    return [number[root(i)] for i in range(len(per_image))]
