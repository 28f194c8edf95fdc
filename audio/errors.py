"""The audio layer's errors, under the one root :class:`loaders.errors.SoundbridgeError`."""

from __future__ import annotations

from loaders.errors import SoundbridgeError

__all__ = ["AudioError", "AudioDecodeError", "RenderError", "CheckpointError", "BackboneError"]


class AudioError(SoundbridgeError):
    """Something in the audio layer failed on purpose."""


class AudioDecodeError(AudioError):
    """A file is missing or is not a recording libsndfile can decode."""


class RenderError(AudioError):
    """Scores could not be rendered to audio (no FluidSynth, no soundfont, bad corpus entry)."""


class CheckpointError(AudioError):
    """A model checkpoint is missing, unreadable, or was made by another configuration."""


class BackboneError(AudioError):
    """A pretrained backbone folder cannot be loaded with ``transformers``."""
