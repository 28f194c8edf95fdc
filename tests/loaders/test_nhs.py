"""NHS2 expanded: MIRtoolbox features and metadata."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loaders import MIR_FEATURES, DataError, load_mir_features, load_nhs_metadata

Builder = Callable[..., Path]


def test_real_features(real_data: Path) -> None:
    features = load_mir_features(real_data / "nhs-expanded")
    assert features.shape == (1007, 1 + 38)
    assert list(features.columns) == ["track_id", *MIR_FEATURES]
    assert str(features["track_id"].dtype) == "string"
    assert (features[list(MIR_FEATURES)].dtypes == np.float64).all()
    assert features[list(MIR_FEATURES)].notna().all().all()
    row = features.set_index("track_id").loc["NHS2-02B5"]
    assert row["ex_simple_lowenergy_mean"] == pytest.approx(0.553349875930521)
    assert row["ex_rhythm_tempo_mean"] == pytest.approx(123.826428204191)


def test_real_metadata(real_data: Path) -> None:
    meta = load_nhs_metadata(real_data / "nhs-expanded")
    assert meta.dtypes.astype(str).to_dict() == {
        "track_id": "string",
        "function": "string",
        "region": "string",
        "glottocode": "string",
        "family_id": "string",
        "family_name": "string",
        "latitude": "float64",
        "longitude": "float64",
    }
    assert len(meta) == 1007 and meta["track_id"].is_unique
    assert meta["function"].isna().sum() == 201
    assert meta["family_id"].isna().sum() == 36 and meta["latitude"].isna().sum() == 94
    row = meta.set_index("track_id").loc["NHS2-02B5"]
    assert (row["glottocode"], row["family_name"], row["region"]) == (
        "wole1240",
        "Austronesian",
        "Micronesia",
    )
    assert row["latitude"] == pytest.approx(7.37957)


def test_tiny_folder(tiny_nhs: Builder) -> None:
    root = tiny_nhs()
    features = load_mir_features(root)
    assert features["ex_simple_brightness_mean"].tolist() == [1.5, -1.0]
    meta = load_nhs_metadata(root)
    assert meta["family_name"].tolist() == ["Abkhaz-Adyge", pd.NA]  # "NA" is missing
    assert meta["function"].tolist() == ["Dance", pd.NA]
    assert np.isnan(meta["latitude"][1])


def test_missing_file(tiny_nhs: Builder) -> None:
    root = tiny_nhs({"data/metadata_plus.csv": None})
    with pytest.raises(DataError, match=r"metadata_plus\.csv: file not found; expected NHS2 song"):
        load_nhs_metadata(root)


def test_missing_feature_column(tiny_nhs: Builder) -> None:
    root = tiny_nhs({"data/audio_Extraction_raw_median_all.csv": "song,ex_dynamics_rms_std\nA,1\n"})
    with pytest.raises(DataError) as err:
        load_mir_features(root)
    message = str(err.value)
    assert "median_all.csv line 1: missing column(s) 'ex_simple_lowenergy_mean', " in message
    assert "found header: 'song', 'ex_dynamics_rms_std'" in message


def test_wrong_type(tiny_nhs: Builder) -> None:
    path = "data/audio_Extraction_raw_median_all.csv"
    text = Path(tiny_nhs() / path).read_text().replace("NHS2-A002,0,", "NHS2-A002,loud,")
    with pytest.raises(DataError) as err:
        load_mir_features(tiny_nhs({path: text}))
    assert (
        "line 3: column 'ex_simple_lowenergy_mean': 'loud' is not a number; expected a number"
        in str(err.value)
    )


def test_duplicate_song(tiny_nhs: Builder) -> None:
    path = "data/audio_Extraction_raw_median_all.csv"
    text = Path(tiny_nhs() / path).read_text().replace("NHS2-A002", "NHS2-A001")
    with pytest.raises(DataError, match="line 3: duplicate song id 'NHS2-A001'"):
        load_mir_features(tiny_nhs({path: text}))


def test_wrong_encoding(tiny_nhs: Builder) -> None:
    path = "data/metadata_plus.csv"
    data = Path(tiny_nhs() / path).read_bytes().replace(b"Western Europe", b"Occident \xe9")
    with pytest.raises(DataError, match=r"metadata_plus\.csv line 3: byte 0xe9 .* UTF-8"):
        load_nhs_metadata(tiny_nhs({path: data}))
