"""The slides' mathematics, exact: divergences, the optimal discriminator, C(G), the WGAN example."""
from .divergences import js, kl, normalize, total_variation, w1_densities, w1_histograms, w1_samples
from .examples import parallel_lines, sample_parallel_lines
from .optimal import c_of_g_via_jsd, optimal_discriminator, value, virtual_training_criterion

__all__ = ["c_of_g_via_jsd", "js", "kl", "normalize", "optimal_discriminator", "parallel_lines",
           "sample_parallel_lines", "total_variation", "value", "virtual_training_criterion", "w1_densities",
           "w1_histograms", "w1_samples"]
