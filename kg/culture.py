"""The Culture tree: society → HRAF region → HRAF world region.

CCMC files each society under one of 38 HRAF regions (``HRAF_region``); the HRAF *Outline of World
Cultures* groups those into macro regions (Africa, Asia, Europe, Middle America and the Caribbean,
Middle East, North America, Oceania, South America). The grouping is the curated table
``kg/data/hraf_world_regions.csv``. CCMC's ``region`` column is another geographic scheme
(botanical-style regions such as "Western South America") that does not nest with HRAF's; it stays a
property (``ccmc_region``) of the society, never a level.

Last.fm needs a few cultures CCMC lacks (Brazilian, Canadian, Spain's Spanish…): those come from the
curated ``kg/data/lastfm_culture_nodes.csv`` and hang under existing regions; culture-bearing tags
map onto culture ids through ``kg/data/lastfm_culture_tags.csv`` (documented in docs/schema.md).

Identifiers: a CCMC society keeps its CCMC id (``CCMCnucl1643``); regions are ``HRAF-<slug>``
(``HRAF-central-andes``), world regions ``WR-<slug>`` (``WR-south-america``) and Last.fm cultures
``LFM-<slug>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from loaders.errors import DataError

__all__ = [
    "LEVELS",
    "CultureTree",
    "build_culture_tree",
    "lastfm_culture_tags",
    "region_id",
    "slug",
    "world_region_id",
]

LEVELS = ("society", "region", "world_region")


def slug(name: str) -> str:
    """Lower-case, ASCII-only, dash-separated form of a name.

    Examples:
        >>> slug("Middle America and the Caribbean")
        'middle-america-and-the-caribbean'
    """
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def region_id(hraf_region: str) -> str:
    """Culture id of an HRAF region: ``region_id("Central Andes") == "HRAF-central-andes"``."""
    return f"HRAF-{slug(hraf_region)}"


def world_region_id(world_region: str) -> str:
    """Culture id of an HRAF world region. Example: ``"WR-south-america"``."""
    return f"WR-{slug(world_region)}"


def _data_table(name: str) -> tuple[pd.DataFrame, str]:
    ref = resources.files("kg") / "data" / name
    with resources.as_file(ref) as path:
        return pd.read_csv(path, dtype="string", keep_default_na=False), str(path)


@dataclass(frozen=True)
class CultureTree:
    """Culture nodes and their ``PART_OF`` edges.

    Attributes:
        nodes: one row per culture: ``id``, ``name``, ``level`` (one of :data:`LEVELS`), ``source``
            (``ccmc``, ``hraf`` or ``lastfm``) and, for CCMC societies, ``latitude``, ``longitude``,
            ``glottocode``, ``ccmc_region``, ``hraf_region``.
        part_of: ``child``, ``parent`` culture ids; every society has exactly one parent region and
            every region one parent world region.
    """

    nodes: pd.DataFrame
    part_of: pd.DataFrame

    def ancestors(self, culture_id: str) -> list[str]:
        """Ids from ``culture_id``'s parent up to its world region."""
        parent = dict(zip(self.part_of["child"], self.part_of["parent"], strict=True))
        out: list[str] = []
        while culture_id in parent:
            culture_id = parent[culture_id]
            out.append(culture_id)
        return out


def build_culture_tree(societies: pd.DataFrame) -> CultureTree:
    """Build the three-level Culture tree from CCMC's societies and the curated tables.

    Args:
        societies: ``loaders.ccmc.load_ccmc(...).societies`` (``society_id, name, latitude,
            longitude, glottocode, region, hraf_region``).

    Raises:
        DataError: when a society's HRAF region is missing from ``hraf_world_regions.csv`` or a
            Last.fm culture names a parent that does not exist.
    """
    world_map, world_path = _data_table("hraf_world_regions.csv")
    to_world = dict(zip(world_map["hraf_region"], world_map["world_region"], strict=True))

    rows: list[dict[str, object]] = []
    edges: list[tuple[str, str]] = []
    for world in sorted(set(to_world.values())):
        rows.append(
            {"id": world_region_id(world), "name": world, "level": "world_region", "source": "hraf"}
        )
    for region, world in sorted(to_world.items()):
        rows.append({"id": region_id(region), "name": region, "level": "region", "source": "hraf"})
        edges.append((region_id(region), world_region_id(world)))

    for s in societies.itertuples(index=False):
        if s.hraf_region not in to_world:
            raise DataError(
                world_path,
                f"society {s.society_id} ({s.name}) is in HRAF region {s.hraf_region!r}, which has "
                "no world region here; add a row 'hraf_region,world_region' for it",
            )
        rows.append(
            {
                "id": s.society_id,
                "name": s.name,
                "level": "society",
                "source": "ccmc",
                "latitude": float(s.latitude),  # type: ignore[arg-type]
                "longitude": float(s.longitude),  # type: ignore[arg-type]
                "glottocode": s.glottocode,
                "ccmc_region": s.region,
                "hraf_region": s.hraf_region,
            }
        )
        edges.append((str(s.society_id), region_id(str(s.hraf_region))))

    extra, extra_path = _data_table("lastfm_culture_nodes.csv")
    known = {str(r["id"]) for r in rows}
    for line, e in enumerate(extra.itertuples(index=False), start=2):
        if e.level not in LEVELS:
            raise DataError(extra_path, f"level {e.level!r} is not one of {LEVELS}", line=line)
        rows.append({"id": e.culture_id, "name": e.name, "level": e.level, "source": "lastfm"})
        known.add(str(e.culture_id))
    for line, e in enumerate(extra.itertuples(index=False), start=2):
        if e.parent_id not in known:
            raise DataError(
                extra_path,
                f"parent {e.parent_id!r} of {e.culture_id!r} is not a known culture id "
                "(use HRAF-<region>, WR-<world region> or another LFM- row)",
                line=line,
            )
        edges.append((str(e.culture_id), str(e.parent_id)))

    nodes = pd.DataFrame(rows)
    return CultureTree(nodes=nodes, part_of=pd.DataFrame(edges, columns=["child", "parent"]))


def lastfm_culture_tags(tree: CultureTree) -> pd.DataFrame:
    """The curated Last.fm tag → culture mapping, checked against ``tree``.

    Returns:
        ``tag`` (lower-case tag text), ``culture_id``; a tag may map to several cultures
        (``latin`` → South America and Middle America).

    Raises:
        DataError: a row names a culture id that is not in the tree.
    """
    table, path = _data_table("lastfm_culture_tags.csv")
    known = set(tree.nodes["id"])
    for line, row in enumerate(table.itertuples(index=False), start=2):
        if row.culture_id not in known:
            raise DataError(
                path, f"culture id {row.culture_id!r} is not in the Culture tree", line=line
            )
    table["tag"] = table["tag"].str.lower()
    return table
