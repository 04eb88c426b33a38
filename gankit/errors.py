"""Errors a user can fix. The CLI prints them as one line and exits 2, without a traceback."""


class GankitError(Exception):
    """A user error: a bad config, a missing file, an unusable input. The message says what and how to fix it."""


class ConfigError(GankitError):
    """A config key or value that is unknown or invalid."""


class DataError(GankitError):
    """A dataset that is missing, unreadable or of the wrong shape."""


class RunDirError(GankitError):
    """A run directory that exists when it should not, or is missing / incomplete when it should exist."""


class CheckpointError(RunDirError):
    """A checkpoint file that is corrupt, forged, or does not match the run's networks."""


class TrainingDiverged(GankitError):
    """A loss, a gradient norm or the weights became NaN or infinite; the last good checkpoint is kept."""
