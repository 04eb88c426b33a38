"""What a model needs to know about its data to build its networks: the data description saved with every
checkpoint. It lives in the data layer, below the recipes and the checkpoints that read it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class DataInfo:
    """What a recipe needs to know about the data to build its networks (saved with every checkpoint)."""

    kind: str  # "image" or "points"
    shape: tuple  # one example (what G makes)
    num_classes: Optional[int] = None
    pairing: Optional[str] = None  # the layout: "paired", "unpaired", "domains" (translation) or "captioned"
    source_shape: Optional[tuple] = None  # translation data: the input side A
    attributes: Optional[tuple] = None  # domain data: ((name, (value, ...)), ...)
    captions: Optional[tuple] = None  # captioned data: ((text, group), ...) sorted by group (gankit.data.captions)

    @classmethod
    def of(cls, dataset) -> "DataInfo":
        source = getattr(dataset, "source_shape", None)
        return cls(dataset.kind, tuple(dataset.shape), dataset.num_classes, getattr(dataset, "pairing", None),
                   tuple(source) if source is not None else None, getattr(dataset, "attributes", None),
                   getattr(dataset, "captions", None))

    def to_json(self) -> dict:
        return {"kind": self.kind, "shape": list(self.shape), "num_classes": self.num_classes,
                "pairing": self.pairing, "source_shape": None if self.source_shape is None else list(self.source_shape),
                "attributes": None if self.attributes is None else [[a, list(v)] for a, v in self.attributes],
                **({} if self.captions is None else {"captions": [[t, g] for t, g in self.captions]})}

    @classmethod
    def from_json(cls, d: dict) -> "DataInfo":
        """Read back :meth:`to_json`, checking every value against what gankit can write (a forged file
        must not make a reader build huge networks); raises ValueError naming the first bad field."""
        if not isinstance(d, dict):
            raise ValueError("data_info is not a mapping")
        src, attrs = d.get("source_shape"), d.get("attributes")
        if d.get("kind") not in ("image", "points"):
            raise ValueError(f"data_info kind {d.get('kind')!r} is not image or points")
        if d.get("pairing") not in (None, "paired", "unpaired", "domains", "captioned"):
            raise ValueError(f"data_info pairing {d.get('pairing')!r} is unknown")
        k = d.get("num_classes")
        if k is not None and not (isinstance(k, int) and 1 <= k <= MAX_CLASSES):
            raise ValueError(f"data_info num_classes {k!r} is not 1..{MAX_CLASSES}")
        if attrs is not None:
            ok = isinstance(attrs, list) and len(attrs) <= 64 and all(
                isinstance(a, list) and len(a) == 2 and isinstance(a[0], str) and isinstance(a[1], list)
                and 1 <= len(a[1]) <= 256 and all(isinstance(v, str) for v in a[1]) for a in attrs)
            if not ok:
                raise ValueError("data_info attributes are not a list of [name, [value, ...]]")
        return cls(d["kind"], _checked_shape(d.get("shape"), d["kind"]), k, d.get("pairing"),
                   None if src is None else _checked_shape(src, d["kind"]),
                   None if attrs is None else tuple((a, tuple(v)) for a, v in attrs), _checked_captions(d.get("captions")))


MAX_IMAGE_SIDE = 2048  # the largest image side gankit builds networks for (data.image_size's bound too)
MAX_CHANNELS = 4
MAX_CLASSES = 100_000
MAX_POINT_DIM = 4096


MAX_CAPTIONS = 1_000_000
MAX_CAPTION_CHARS = 1000


def _checked_captions(captions) -> Optional[tuple]:
    if captions is None:
        return None
    ok = isinstance(captions, list) and 1 <= len(captions) <= MAX_CAPTIONS and all(
        isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) and 1 <= len(c[0]) <= MAX_CAPTION_CHARS
        and isinstance(c[1], int) and 0 <= c[1] < MAX_CAPTIONS for c in captions)
    if not ok or any(a[1] > b[1] for a, b in zip(captions, captions[1:])):
        raise ValueError("data_info captions are not a list of [text, group] sorted by group")
    return tuple((t, g) for t, g in captions)


def _checked_shape(shape, kind: str) -> tuple:
    if not (isinstance(shape, list) and shape and all(isinstance(s, int) and s >= 1 for s in shape)):
        raise ValueError(f"data_info shape {shape!r} is not a list of positive integers")
    if kind == "image":
        if len(shape) != 3 or shape[0] > MAX_CHANNELS or max(shape[1:]) > MAX_IMAGE_SIDE:
            raise ValueError(f"data_info image shape {shape} is not (C <= {MAX_CHANNELS}, H, W <= {MAX_IMAGE_SIDE})")
    elif len(shape) != 1 or shape[0] > MAX_POINT_DIM:
        raise ValueError(f"data_info point shape {shape} is not (D <= {MAX_POINT_DIM},)")
    return tuple(shape)
