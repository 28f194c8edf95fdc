"""Pure data in, typed tables out: one loader per source dataset.

Each loader takes the dataset's own folder (``<data root>/ccmc``, …; see :func:`data_root`) and
returns a frozen dataclass of pandas DataFrames with explicit dtypes (string ids as ``string``,
integer ids as ``Int64``, measurements as ``float64``), or raises :class:`DataError` naming the
file, the line or key, and what was expected. Nothing is ever half-loaded.
"""

from loaders.cantometrics import LINES, Cantometrics, decode, load_cantometrics, society_profiles
from loaders.ccmc import CCMC, load_ccmc
from loaders.config import DATA_ENV, data_root
from loaders.errors import ConfigError, DataError, SoundbridgeError
from loaders.kgcn import KGCN, load_kgcn
from loaders.lastfm import LastFM, load_lastfm
from loaders.netease import NetEase, load_netease
from loaders.nhs import MIR_FEATURES, load_mir_features, load_nhs_metadata

__all__ = [
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
