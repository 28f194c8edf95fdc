"""The input fingerprint the build steps use to skip unchanged work."""

import os
from pathlib import Path

from loaders.config import inputs_fingerprint


def test_fingerprint_follows_files_and_settings(tmp_path: Path) -> None:
    f = tmp_path / "plays.dat"
    f.write_text("a")
    first = inputs_fingerprint([f], {"seed": 0})
    assert inputs_fingerprint([f], {"seed": 0}) == first
    assert inputs_fingerprint([f], {"seed": 1}) != first
    f.write_text("ab")  # another size
    assert inputs_fingerprint([f], {"seed": 0}) != first
    second = inputs_fingerprint([f], {"seed": 0})
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched, same size
    assert inputs_fingerprint([f], {"seed": 0}) != second
