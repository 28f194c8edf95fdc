"""The KGCN paper's music knowledge graph over the HetRec Last.fm artists, ``kgcn-music/``.

Two headerless tab-separated files with CRLF line ends: ``kg.txt`` (``head, relation, tail``:
anonymous entity ids linked by 60 Freebase relations such as ``music.artist.origin``) and
``item_index2entity_id.txt`` (``artist_id, entity_id``: a HetRec ``artists.dat`` id and its entity
in the graph). Entity ids are dense from 0; the 3,846 artists take entities 0–3,845.

Citation: Wang et al. (2019), Knowledge Graph Convolutional Networks for Recommender Systems, WWW
(MIT).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from loaders.tables import Column, read_table, require_folder

__all__ = ["KGCN", "load_kgcn"]


@dataclass(frozen=True, eq=False)
class KGCN:
    """The KGCN graph.

    Attributes:
        triples: one row per line of ``kg.txt`` (15,518): ``head`` (Int64), ``relation``
            (string, ``"music.artist.origin"``), ``tail`` (Int64).
        item_entities: one row per artist (3,846): ``artist_id`` (Int64, a HetRec
            ``artists.dat`` id), ``entity_id`` (Int64, its entity in ``triples``).
    """

    triples: pd.DataFrame
    item_entities: pd.DataFrame


def load_kgcn(folder: str | os.PathLike[str]) -> KGCN:
    """Load the KGCN music knowledge graph from its own folder.

    Args:
        folder: the dataset folder (``<data root>/kgcn-music``).

    Returns:
        The :class:`KGCN` tables. The artist ids are not checked against Last.fm here (another
        dataset); join them to :attr:`loaders.lastfm.LastFM.artists`.

    Raises:
        DataError: a missing file, a line without three (two) tab-separated fields, a
            non-integer id, an artist or entity mapped twice.

    Examples:
        >>> from loaders.config import data_root
        >>> kg = load_kgcn(data_root() / "kgcn-music")  # doctest: +SKIP
        >>> len(kg.triples), kg.triples["relation"].nunique()  # doctest: +SKIP
        (15518, 60)
    """
    root = require_folder(
        folder, "the KGCN music knowledge graph (kg.txt, item_index2entity_id.txt)"
    )
    triples = read_table(
        root / "kg.txt",
        [
            Column("head", "head", "Int64", required=True),
            Column("relation", "relation", required=True),
            Column("tail", "tail", "Int64", required=True),
        ],
        what="the KGCN music graph's triples (head<TAB>relation<TAB>tail, no header)",
        sep="\t",
        quoted=False,
        header=False,
    )
    items = read_table(
        root / "item_index2entity_id.txt",
        [
            Column("artist_id", "artist_id", "Int64", required=True),
            Column("entity_id", "entity_id", "Int64", required=True),
        ],
        what="the KGCN item map (Last.fm artist id<TAB>KG entity id, no header)",
        sep="\t",
        quoted=False,
        header=False,
    )
    items.require_unique(["artist_id"], what="artist id")
    items.require_unique(["entity_id"], what="entity id")
    return KGCN(
        triples=triples.frame.reset_index(drop=True),
        item_entities=items.frame.reset_index(drop=True),
    )
