"""loaders.files.replacing: the target changes whole or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loaders.files import replacing


def test_replacing_swaps_in_the_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "cache.npz"
    with replacing(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".npz"
        np.savez(tmp, x=np.arange(3))
    with np.load(target) as f:
        assert f["x"].tolist() == [0, 1, 2]
    assert [p.name for p in target.parent.iterdir()] == ["cache.npz"]


def test_replacing_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
