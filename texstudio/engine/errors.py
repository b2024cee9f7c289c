"""Errors the user can act on; their message is shown as-is (one line, no traceback)."""


class TexstudioError(Exception):
    """Base of every error whose message is meant for the user."""


class ImageLoadError(TexstudioError):
    """A file could not be read as an image, or is too large or too small to use."""


class ConfigError(TexstudioError):
    """A setting is out of range or names something that does not exist."""


class BackboneError(TexstudioError):
    """A backbone name, weights file or model folder cannot be used."""


class OutputExistsError(TexstudioError):
    """Writing would overwrite a file the user did not ask to replace."""


class ExportError(TexstudioError):
    """A result cannot be written where the user asked."""


class DatasetError(TexstudioError):
    """A training folder is missing, empty, or holds nothing the chosen objective can use."""


class NumericalError(TexstudioError):
    """The loss stopped being a finite number."""

    def __init__(self, message: str, result=None) -> None:
        super().__init__(message)
        # What the run salvaged by rolling back to its last finite state (a SynthResult), or None.
        self.result = result


class ResourceError(TexstudioError):
    """The machine ran out of memory (RAM or GPU) for what was asked."""


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure, as torch (CPU or GPU) or Python reports one.

    torch's CPU allocator raises a plain RuntimeError ("can't allocate memory"); CUDA and
    MPS raise ``torch.OutOfMemoryError`` ("out of memory"); numpy and Python, MemoryError.
    """
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)
