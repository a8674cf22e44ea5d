"""One exception type for every mistake a user can make, so the CLI can print it in one line."""


class SRLibError(Exception):
    """A problem with the user's input or environment, with a message that says how to fix it."""


class DatasetNotFoundError(SRLibError, FileNotFoundError):
    """A registered dataset is not on disk where we looked."""


class TrainingDiverged(SRLibError, RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""
