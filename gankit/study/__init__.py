"""Large-scale comparisons in the manner of Lucic et al. 2018 ("Are GANs Created Equal?")."""
from .report import expected_min, write_report
from .runner import StudySettings, run_study, work

__all__ = ["StudySettings", "expected_min", "run_study", "work", "write_report"]
