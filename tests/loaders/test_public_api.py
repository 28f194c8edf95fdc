"""The public surface of ``loaders`` is pinned; its cheap doctests run here."""

from __future__ import annotations

import doctest
import importlib

import pytest

import loaders

MODULES = [
    "loaders.tables",
    "loaders.ccmc",
    "loaders.nhs",
    "loaders.cantometrics",
    "loaders.lastfm",
    "loaders.kgcn",
    "loaders.netease",
    "loaders.config",
]


def test_all_is_pinned() -> None:
    assert sorted(loaders.__all__) == sorted(
        [
            "CCMC",
            "DATA_ENV",
            "KGCN",
            "LINES",
            "MIR_FEATURES",
            "Cantometrics",
            "ConfigError",
            "DataError",
            "LastFM",
            "NetEase",
            "SoundbridgeError",
            "data_root",
            "decode",
            "load_cantometrics",
            "load_ccmc",
            "load_kgcn",
            "load_lastfm",
            "load_mir_features",
            "load_netease",
            "load_nhs_metadata",
            "society_profiles",
        ]
    )
    for name in loaders.__all__:
        assert getattr(loaders, name) is not None


def test_one_exception_root() -> None:
    assert issubclass(loaders.DataError, loaders.SoundbridgeError)
    assert issubclass(loaders.ConfigError, loaders.SoundbridgeError)


@pytest.mark.parametrize("name", MODULES)
def test_module_all_and_doctests(name: str) -> None:
    module = importlib.import_module(name)
    for exported in module.__all__:
        assert hasattr(module, exported), exported
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
