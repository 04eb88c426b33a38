"""Measurements of generated samples."""
from .modes import mode_stats

__all__ = ["mode_stats"]
