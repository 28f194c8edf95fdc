"""The public surface of ``audio`` is pinned; the cheap doctests run here."""

from __future__ import annotations

import doctest
import importlib

import pytest

import audio


def test_all_is_pinned() -> None:
    assert sorted(audio.__all__) == [
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


@pytest.mark.parametrize(
    "name",
    [
        "audio.frontend",
        "audio.augment",
        "audio.losses",
        "audio.evaluation",
        "audio.render",
        "audio.factorizer",
    ],
)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
