"""A text encoder that needs no package: word embeddings and a GRU (Cho et al. 2014), trained with the GAN.

Its vocabulary is the words of the run's training captions (lower-cased; letters and digits make words, every other
non-space character is a word of its own). It cannot generalise to a word it never saw: such a word is refused when
a user asks for it (``gankit sample --text``) and read as the unknown-word token only where gankit scores held-out
paraphrases. Use ``text.encoder=minilm`` for captions written in words of your own.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from ..errors import ConfigError

WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
PAD, UNKNOWN = 0, 1


def words(text: str) -> list[str]:
    """The words of ``text`` as the learned encoder reads them."""
    return WORD.findall(text.lower())


def vocabulary(captions) -> list[str]:
    """The sorted distinct words of ``captions`` (index + 2 is a word's token; 0 pads, 1 is unknown)."""
    return sorted({w for text in captions for w in words(text)})


class LearnedTextEncoder(nn.Module):
    """Captions -> (N, ``dim``): the GRU's last hidden state over the caption's word embeddings."""

    def __init__(self, vocab: list[str], dim: int = 128, embedding: int = 64, max_words: int = 64):
        super().__init__()
        self.vocab, self.dim, self.max_words = list(vocab), dim, max_words
        self.index = {w: i + 2 for i, w in enumerate(self.vocab)}
        self.embed = nn.Embedding(len(self.vocab) + 2, embedding, padding_idx=PAD)
        self.gru = nn.GRU(embedding, dim, batch_first=True)

    def tokens(self, texts: list[str], unknown: str = "refuse") -> tuple[torch.Tensor, torch.Tensor]:
        """(token ids (N, T), lengths (N,)); a word outside the vocabulary is refused in one line, or read as the
        unknown token with ``unknown="allow"``."""
        rows = []
        for text in texts:
            ws = words(text)[: self.max_words]
            if not ws:
                raise ConfigError(f"caption {text!r} has no words; give a caption such as 'a red seven'")
            missing = [w for w in ws if w not in self.index]
            if missing and unknown == "refuse":
                raise ConfigError(f"the word {missing[0]!r} of {text!r} was never in this run's training captions, and "
                                  "its text.encoder=learned cannot read new words; use words of the training captions, "
                                  "or train with text.encoder=minilm")
            rows.append([self.index.get(w, UNKNOWN) for w in ws])
        lengths = torch.tensor([len(r) for r in rows])
        ids = torch.zeros(len(rows), int(lengths.max()) if rows else 1, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
        return ids, lengths

    def forward(self, texts: list[str], unknown: str = "refuse") -> torch.Tensor:
        ids, lengths = self.tokens(texts, unknown)
        ids = ids.to(self.embed.weight.device)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True, enforce_sorted=False)
        _, last = self.gru(packed)
        return last[0]
