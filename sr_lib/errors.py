"""One exception type for every mistake a user can make, so the CLI can print it in one line."""


class SRLibError(Exception):
    """A problem with the user's input or environment, with a message that says how to fix it."""


class DatasetNotFoundError(SRLibError, FileNotFoundError):
    """A registered dataset is not on disk where we looked."""


class TrainingDiverged(SRLibError, RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class ResumeRefused(SRLibError):
    """A checkpoint was written with other settings or other code; ``differences`` lists them.
    The chapter harness retrains; the command line asks for --restart or --override."""

    def __init__(self, message: str, differences: list[str]) -> None:
        super().__init__(message)
        self.differences = list(differences)
