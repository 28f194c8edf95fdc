"""NHS2 (Expanded Natural History of Song) acoustic features and metadata, ``nhs-expanded/``.

The same 1,007 songs as :mod:`loaders.ccmc`, keyed by the same ids (``"NHS2-02B5"``).

* ``data/audio_Extraction_raw_median_all.csv``: 38 MIRtoolbox descriptors per song (medians over
  frames of spectral, tonal, rhythm and dynamics features, and their standard deviations), raw
  (not z-scored).
* ``data/metadata_plus.csv``: context, HRAF region, Glottocode, language family and coordinates
  (plus z-scored copies of the features, not loaded). It is the source of
  :func:`load_nhs_metadata` rather than ``data/metadata.csv``, which holds the same four columns
  but spells one region ``"Plains"`` instead of ``"Plains and Plateau"``.

The contexts of 201 songs are withheld on purpose (blank, ``<NA>`` here). Note that this release's
contexts and Glottocodes differ from D-PLACE's CCMC release for a handful of songs; use
:mod:`loaders.ccmc` as the reference for labels and societies.

Citation: Bertolo et al. (2025), Open Mind; doi:10.5281/zenodo.8237500 (CC BY-NC-SA 4.0).
"""

from __future__ import annotations

import os

import pandas as pd

from loaders.tables import Column, read_table, require_folder

__all__ = ["MIR_FEATURES", "load_mir_features", "load_nhs_metadata"]

#: The MIRtoolbox feature columns, in file order.
MIR_FEATURES: tuple[str, ...] = (
    "ex_simple_lowenergy_mean",
    "ex_simple_brightness_mean",
    "ex_simple_roughness_mean",
    "ex_simple_centroid_mean",
    "ex_spectral_centroid_mean",
    "ex_spectral_brightness_mean",
    "ex_spectral_spread_mean",
    "ex_spectral_skewness_mean",
    "ex_spectral_kurtosis_mean",
    "ex_spectral_rolloff95_mean",
    "ex_spectral_rolloff85_mean",
    "ex_spectral_spectenropy_mean",
    "ex_spectral_flatness_mean",
    "ex_spectral_roughness_mean",
    "ex_spectral_irregularity_mean",
    "ex_tonal_keyclarity_mean",
    "ex_tonal_mode_mean",
    "ex_rhythm_tempo_mean",
    "ex_rhythm_attack_time_mean",
    "ex_rhythm_attack_slope_mean",
    "ex_dynamics_rms_mean",
    "ex_spectral_centroid_std",
    "ex_spectral_brightness_std",
    "ex_spectral_spread_std",
    "ex_spectral_skewness_std",
    "ex_spectral_kurtosis_std",
    "ex_spectral_rolloff95_std",
    "ex_spectral_rolloff85_std",
    "ex_spectral_spectenropy_std",
    "ex_spectral_flatness_std",
    "ex_spectral_roughness_std",
    "ex_spectral_irregularity_std",
    "ex_tonal_keyclarity_std",
    "ex_tonal_mode_std",
    "ex_rhythm_tempo_std",
    "ex_rhythm_attack_time_std",
    "ex_rhythm_attack_slope_std",
    "ex_dynamics_rms_std",
)

_WHAT = "the NHS2 expanded dataset (data/ with the MIRtoolbox features and metadata)"


def load_mir_features(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """Load the raw MIRtoolbox features of every song.

    Args:
        folder: the dataset folder (``<data root>/nhs-expanded``).

    Returns:
        One row per song (1,007): ``track_id`` (string) and the :data:`MIR_FEATURES` columns
        (float64, none missing). Shapes: ``(num_songs, 1 + len(MIR_FEATURES))``.

    Raises:
        DataError: a missing file or column, a non-numeric or empty feature, a duplicate song.

    Examples:
        >>> from loaders.config import data_root
        >>> load_mir_features(data_root() / "nhs-expanded").shape  # doctest: +SKIP
        (1007, 39)
    """
    root = require_folder(folder, _WHAT)
    table = read_table(
        root / "data" / "audio_Extraction_raw_median_all.csv",
        [Column("song", "track_id", required=True)]
        + [Column(f, f, "float64", required=True) for f in MIR_FEATURES],
        what="MIRtoolbox features per song (song, ex_simple_lowenergy_mean, …)",
    )
    table.require_unique(["track_id"], what="song id")
    return table.frame.reset_index(drop=True)


def load_nhs_metadata(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """Load the per-song metadata, with language family and coordinates.

    Args:
        folder: the dataset folder (``<data root>/nhs-expanded``).

    Returns:
        One row per song (1,007), from ``data/metadata_plus.csv``: ``track_id``, ``function``
        (``<NA>`` for the 201 withheld songs), ``region`` (HRAF region), ``glottocode``,
        ``family_id`` (Glottolog family, ``"aust1307"``), ``family_name`` (string; both ``<NA>``
        for 36 songs, mostly in isolates such as Basque and Zuni), ``latitude``, ``longitude``
        (float64; ``NaN`` for 94 songs).

    Raises:
        DataError: a missing file or column, a malformed value, a duplicate song.

    Examples:
        >>> from loaders.config import data_root
        >>> meta = load_nhs_metadata(data_root() / "nhs-expanded")  # doctest: +SKIP
        >>> meta["function"].isna().sum()  # doctest: +SKIP
        201
    """
    root = require_folder(folder, _WHAT)
    table = read_table(
        root / "data" / "metadata_plus.csv",
        [
            Column("song", "track_id", required=True),
            Column("type", "function"),
            Column("region", "region", required=True),
            Column("glottocode", "glottocode", required=True),
            Column("family_id", "family_id"),
            Column("family_name", "family_name"),
            Column("latitude", "latitude", "float64"),
            Column("longitude", "longitude", "float64"),
        ],
        what="NHS2 song metadata (song, glottocode, type, region, family_id, family_name, "
        "latitude, longitude, …)",
        na=("NA",),
    )
    table.require_unique(["track_id"], what="song id")
    return table.frame.reset_index(drop=True)
