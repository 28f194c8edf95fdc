"""audio: recordings → disentangled factors z_c (content), z_s (style/culture), z_a (function).

Modules: :mod:`audio.frontend` (decode, resample, log-mel windows), :mod:`audio.augment`,
:mod:`audio.model` and :mod:`audio.losses` (the VAE and its objective), :mod:`audio.factorizer`
(the estimator), :mod:`audio.render` (content pairs from rendered scores), :mod:`audio.dataset`
(CCMC clips and the society-grouped split), :mod:`audio.evaluation`, :mod:`audio.backbone`,
:mod:`audio.graph` and :mod:`audio.queries` (factors in Neo4j), :mod:`audio.errors`.
"""

from audio.errors import AudioDecodeError, AudioError, BackboneError, CheckpointError, RenderError
from audio.factorizer import AudioFactorizer
from audio.frontend import FrontendConfig, load_audio, log_mel, track_windows

__all__ = [
    "AudioDecodeError",
    "AudioError",
    "AudioFactorizer",
    "BackboneError",
    "CheckpointError",
    "FrontendConfig",
    "RenderError",
    "load_audio",
    "log_mel",
    "track_windows",
]
