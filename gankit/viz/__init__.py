"""Pictures: image grids, GIFs, loss curves, 2-D toy plots, latent interpolation."""
from .grid import make_grid, save_gif, save_grid
from .interpolate import lerp, slerp

__all__ = ["lerp", "make_grid", "save_gif", "save_grid", "slerp"]
