"""Measurements of generated samples: FID, IS, KID, precision/recall, density/coverage, mode coverage."""
from .frechet import FeatureError, feature_stats, fid_from_features, frechet_distance, frechet_distance_sqrtm
from .manifold import density_coverage, precision_recall
from .modes import mode_stats
from .scores import inception_score, kernel_inception_distance

__all__ = ["FeatureError", "density_coverage", "feature_stats", "fid_from_features", "frechet_distance",
           "frechet_distance_sqrtm", "inception_score", "kernel_inception_distance", "mode_stats", "precision_recall"]
