"""Sentence encoders for text-to-image GANs (``text.encoder``): :mod:`gankit.text.minilm` (all-MiniLM-L6-v2, frozen,
from the text extra) and :mod:`gankit.text.learned` (a GRU trained with the GAN, no package needed)."""
