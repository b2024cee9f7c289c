"""Errors the user can act on; their message is shown as-is (one line, no traceback)."""


class TexstudioError(Exception):
    """Base of every error whose message is meant for the user."""


class ImageLoadError(TexstudioError):
    """A file could not be read as an image, or is too large to use."""


class ConfigError(TexstudioError):
    """A setting is out of range or names something that does not exist."""


class BackboneError(TexstudioError):
    """A backbone name, weights file or model folder cannot be used."""


class OutputExistsError(TexstudioError):
    """Writing would overwrite a file the user did not ask to replace."""


class ExportError(TexstudioError):
    """A result cannot be written where the user asked."""


class NumericalError(TexstudioError):
    """The loss stopped being a finite number."""


class ResourceError(TexstudioError):
    """The machine ran out of memory (RAM or GPU) for what was asked."""
