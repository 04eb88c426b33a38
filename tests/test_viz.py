import numpy as np
import torch

from gankit.viz import lerp, make_grid, slerp


def test_grid_layout_and_values():
    imgs = torch.stack([torch.full((1, 4, 4), v) for v in (-1.0, 0.0, 1.0)])
    grid = make_grid(imgs, nrow=2, pad=1)
    assert grid.shape == (2 * 5 + 1, 2 * 5 + 1)
    assert grid[1, 1] == 0 and grid[1, 6] == 128 and grid[6, 1] == 255
    rgb = make_grid(torch.zeros(2, 3, 4, 4), nrow=2)
    assert rgb.shape[-1] == 3 and rgb.dtype == np.uint8


def test_slerp_endpoints_and_norm():
    torch.manual_seed(0)
    z0, z1 = torch.randn(5, 64), torch.randn(5, 64)
    z1 = z1 / z1.norm(dim=1, keepdim=True) * z0.norm(dim=1, keepdim=True)
    t = torch.linspace(0, 1, 7)
    path = slerp(z0, z1, t)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    # between vectors of equal norm, slerp stays on the sphere; lerp cuts through it
    assert torch.allclose(path.norm(dim=-1), z0.norm(dim=-1).expand(7, 5), rtol=1e-4)
    assert (lerp(z0, z1, t)[3].norm(dim=-1) < z0.norm(dim=-1) * 0.9).all()


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    z = torch.ones(1, 4)
    path = slerp(z, 2 * z, torch.tensor([0.5]))
    assert torch.allclose(path[0], 1.5 * z)
