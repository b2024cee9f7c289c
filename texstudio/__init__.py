"""texstudio: a desktop studio for neural texture synthesis."""

__version__ = "0.1.0"
