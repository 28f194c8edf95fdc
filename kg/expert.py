"""Experts' answers: function labels, must-link / cannot-link pairs and concepts, with provenance.

The graph model is the contract of ``docs/experts.md``:

- every answer is an ``(:Answer {id, kind, expert, created, rationale, confidence, source:
  'expert'})`` node that the expert's ``(:Account)`` ``GAVE``; a function answer is ``ABOUT`` one
  ``Track`` and has a ``LABEL`` (a ``Function`` or an active ``Concept``); a link answer is
  ``ABOUT`` two tracks and made the ``(a)-[:EXPERT_CONSTRAINT {kind, rationale, author,
  created_at, answer_id}]->(b)`` edge the GNN trains with;
- nothing an expert says overwrites a dataset label: a song with a public ``SERVES_FUNCTION``
  keeps it, and :func:`expert_labels` combines answers only for the others (largest sum of
  confidences wins, a tie leaves the song unlabelled);
- an expert answers only for the cultures of the account's ``scopes`` (a society, or a region or
  world region above it); an admin answers for every song; a second answer by the same expert
  about the same song (or pair) replaces the first, in the same transaction;
- ``(:Concept {id: 'concept-<slug>', name, description, kind, expert, created, status,
  embedding})`` nodes name what the ontology lacks; an admin retires them or merges one into
  another (``MERGED_INTO {admin, at}``; answers naming the merged one count for the other).

Every function checks everything before it writes (bad input writes nothing) and takes the
expert's account lock before replacing an answer, so one expert answering twice at once leaves one
answer and two experts answering the same song at once leave two.

:func:`add_expert_constraint` is the operators' direct path: a constraint without an ``Answer``,
authored by a free-text name.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import neo4j
import neo4j.exceptions

from kg import queries as q
from kg.accounts import Account, get_account
from loaders.errors import SoundbridgeError

__all__ = [
    "CONCEPT_KINDS",
    "DIM",
    "KINDS",
    "MAX_RATIONALE",
    "Answer",
    "Concept",
    "ConstraintError",
    "ExpertConstraint",
    "ExpertError",
    "ExpertLabel",
    "ExpertNotFoundError",
    "ExpertPermissionError",
    "add_concept",
    "add_expert_constraint",
    "answer_function",
    "answer_link",
    "answers",
    "check_concept",
    "concept_id",
    "constraints",
    "expert_labels",
    "get_answer",
    "list_concepts",
    "merge_concepts",
    "retire_concept",
    "retract",
]

#: The kinds of a link answer (and of an ``EXPERT_CONSTRAINT`` edge).
KINDS = ("must_link", "cannot_link")
#: The kinds of a concept.
CONCEPT_KINDS = ("function", "affect")
#: The most characters a rationale or a concept's description may have.
MAX_RATIONALE = 2000
#: The most characters a concept's name may have.
MAX_NAME = 80
#: Numbers in a concept's embedding (all-MiniLM-L6-v2).
DIM = 384

_ANSWER_ID = re.compile(r"^ans-[0-9a-f]{12}$")
_LOG = "`soundbridge review log` lists the answers"
_CONCEPTS = "`soundbridge concepts list --all` lists the concepts"
_USERS = "`soundbridge users list` shows the accounts"
_ARTICLE = {"viewer": "a", "analyst": "an", "expert": "an", "admin": "an"}


class ConstraintError(SoundbridgeError):
    """An expert constraint was rejected (bad kind, unknown track, contradiction…)."""


class ExpertError(ConstraintError):
    """An expert's answer, retraction or concept was refused for bad input; nothing was written."""


class ExpertPermissionError(ExpertError):
    """The account may not do it: unknown, disabled, too low a role, or the song is out of scope."""


class ExpertNotFoundError(ExpertError):
    """A track, label, answer or concept the request names does not exist."""


@dataclass(frozen=True)
class ExpertConstraint:
    """A stored constraint, as returned by :func:`add_expert_constraint` and :func:`constraints`.

    ``answer_id`` is the answer that made it, ``None`` for an operator's constraint.
    """

    source: str
    target: str
    kind: str
    rationale: str
    author: str
    created_at: str
    answer_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The constraint as JSON-able values."""
        return {
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "rationale": self.rationale,
            "author": self.author,
            "created_at": self.created_at,
            "answer_id": self.answer_id,
        }


@dataclass(frozen=True)
class Answer:
    """One expert's answer, as stored.

    Args:
        id: ``ans-`` and 12 hex digits.
        kind: ``"function"``, ``"must_link"`` or ``"cannot_link"``.
        expert: the account that gave it.
        created: when (ISO 8601).
        tracks: the song (a function answer) or the pair, in the constraint's direction.
        rationale: the expert's reason ("" when a function answer gave none).
        confidence: 0 < p ≤ 1 for a function answer; ``None`` for a link.
        label: the function's or concept's name (function answers).
        label_id: its id (``"lullaby"``, ``"concept-harvest-song"``).
        label_kind: ``"function"`` or ``"concept"``.
        replaced: the id of the same expert's earlier answer this one replaced (only as returned
            by :func:`answer_function` / :func:`answer_link`).
        note: what the expert should know (only as returned by the answering functions): the song
            keeps its public dataset label, or another expert's opposite constraint also stands.

    Examples:
        >>> a = Answer("ans-0123456789ab", "function", "rosa", "2025-05-01T10:00:00Z",
        ...            ("NHS2-5KU4",), "", 0.9, "Lullaby", "lullaby", "function")
        >>> a.to_dict()["tracks"], a.to_dict()["label"]
        (['NHS2-5KU4'], 'Lullaby')
    """

    id: str
    kind: str
    expert: str
    created: str
    tracks: tuple[str, ...]
    rationale: str = ""
    confidence: float | None = None
    label: str | None = None
    label_id: str | None = None
    label_kind: str | None = None
    replaced: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-able values."""
        return {
            "id": self.id,
            "kind": self.kind,
            "expert": self.expert,
            "created": self.created,
            "tracks": list(self.tracks),
            "rationale": self.rationale,
            "confidence": self.confidence,
            "label": self.label,
            "label_id": self.label_id,
            "label_kind": self.label_kind,
            "replaced": self.replaced,
            "note": self.note,
        }


@dataclass(frozen=True)
class ExpertLabel:
    """The label experts' answers give a song without a public one (see :func:`expert_labels`).

    Args:
        track: the song.
        label: the winning function's or concept's name (a merged concept's answers count for
            the concept it was merged into).
        label_id: its id.
        kind: ``"function"`` or ``"concept"``.
        experts: who answered it, by name.
        last: the latest of those answers (ISO 8601), for "expert label, by USER on DATE".
        score: the sum of their confidences.
        answers: the answers behind it, newest first.
    """

    track: str
    label: str
    label_id: str
    kind: str
    experts: tuple[str, ...]
    last: str
    score: float
    answers: tuple[Answer, ...]

    def to_dict(self) -> dict[str, Any]:
        """The label as JSON-able values."""
        return {
            "track": self.track,
            "label": self.label,
            "label_id": self.label_id,
            "kind": self.kind,
            "experts": list(self.experts),
            "last": self.last,
            "score": self.score,
            "answers": [a.to_dict() for a in self.answers],
        }


@dataclass(frozen=True)
class Concept:
    """A concept the ontology lacks, proposed by an expert.

    Args:
        id: ``concept-<slug>`` (see :func:`concept_id`).
        name: its name, as the expert wrote it.
        description: what it means (its embedding is this text's).
        kind: ``"function"`` or ``"affect"``.
        expert: who proposed it.
        created: when (ISO 8601).
        status: ``"active"``, ``"retired"`` or ``"merged"``.
        merged_into: the concept it was merged into, if merged.
        embedding: the description's MiniLM embedding (384 numbers; left out of ``to_dict``
            unless asked for).
    """

    id: str
    name: str
    description: str
    kind: str
    expert: str
    created: str
    status: str = "active"
    merged_into: str | None = None
    embedding: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self, *, embedding: bool = False) -> dict[str, Any]:
        """The concept as JSON-able values; ``embedding=True`` adds the 384 numbers."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "expert": self.expert,
            "created": self.created,
            "status": self.status,
            "merged_into": self.merged_into,
        }
        if embedding:
            out["embedding"] = list(self.embedding)
        return out


# --- checks ---------------------------------------------------------------------------------------


def _show(value: object, limit: int = 60) -> str:
    """``repr`` of a value a person typed, cut short: a 1 MB id must not become a 1 MB message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "…'"


def _ensure_schema(driver: neo4j.Driver) -> None:
    for statement in q.EXPERT_SCHEMA:
        try:
            driver.execute_query(statement)
        except neo4j.exceptions.ClientError as e:
            # two processes making the constraint at the same moment: the other one won
            if "AlreadyExists" not in (e.code or ""):
                raise


def _actor(driver: neo4j.Driver, username: object, role: str, doing: str) -> Account:
    """The enabled account ``username`` with at least ``role``, else a one-line refusal."""
    if not isinstance(username, str) or not username.strip():
        raise ExpertPermissionError(f"{doing} needs an account name; give the {role}'s account")
    account = get_account(driver, username)
    if account is None:
        raise ExpertPermissionError(f"no account named {_show(username)} ({_USERS})")
    if account.disabled:
        raise ExpertPermissionError(
            f"account {username!r} is disabled and cannot {doing}; an admin can make a new one"
        )
    if not account.can(role):
        needs = "the expert or admin role" if role == "expert" else "the admin role"
        raise ExpertPermissionError(
            f"account {username!r} is {_ARTICLE[account.role]} {account.role}; to {doing} needs "
            f"{needs} "
            f"(soundbridge users add NAME --role {role})"
        )
    return account


def _rationale(rationale: object, *, required: bool) -> str:
    if not isinstance(rationale, str):
        raise ExpertError(f"the rationale must be text, not {type(rationale).__name__}")
    text = rationale.strip()
    if required and not text:
        raise ExpertError(
            "the rationale is empty: say why the two songs belong together (or apart), e.g. "
            "'both are Quechua harvest dances'"
        )
    if len(text) > MAX_RATIONALE:
        raise ExpertError(
            f"the rationale has {len(text):,} characters; keep it to {MAX_RATIONALE:,}"
        )
    return text


def _confidence(confidence: object) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise ExpertError(f"confidence {_show(confidence)} is not a number; give 0 < p <= 1")
    p = float(confidence)
    if not math.isfinite(p) or not 0.0 < p <= 1.0:
        raise ExpertError(
            f"confidence {p:g} is out of range; give a number with 0 < p <= 1 (1 = certain)"
        )
    return p


def _track_id(track: object, what: str = "track") -> str:
    if not isinstance(track, str) or not track.strip():
        raise ExpertError(f"the {what} id is empty; give a Track id such as 'NHS2-TBMU'")
    return track


@dataclass(frozen=True)
class _Track:
    id: str
    cultures: tuple[tuple[str, str], ...]  # (id, name), society first, then region, world region
    public: str | None


def _tracks(driver: neo4j.Driver, ids: Sequence[str]) -> dict[str, _Track]:
    records, _, _ = driver.execute_query(
        q.TRACKS_FOR_ANSWER, ids=list(ids), routing_=neo4j.RoutingControl.READ
    )
    missing = [r["id"] for r in records if not r["found"]]
    if missing:
        shown = ", ".join(_show(t) for t in missing)
        raise ExpertNotFoundError(
            f"unknown track {shown}; track ids are CCMC song ids such as 'NHS2-TBMU' "
            '(soundbridge cypher "MATCH (t:Track) RETURN t.id, t.name" lists them)'
        )
    out = {}
    for r in records:
        cultures = sorted(r["cultures"], key=lambda c: c["depth"])
        out[r["id"]] = _Track(
            r["id"],
            tuple((c["id"], c["name"]) for c in cultures),
            r["public"][0] if r["public"] else None,
        )
    return out


def _check_scope(driver: neo4j.Driver, account: Account, track: _Track) -> None:
    if account.can("admin"):
        return
    if {c for c, _ in track.cultures} & set(account.scopes):
        return
    records, _, _ = driver.execute_query(
        q.CULTURE_NAMES, ids=list(account.scopes), routing_=neo4j.RoutingControl.READ
    )
    names = {r["id"]: r["name"] for r in records}
    scope = ", ".join(f"{names.get(c, c)} ({c})" for c in account.scopes) or "no culture"
    if track.cultures:
        (society_id, society), *above = track.cultures
        where = f"a song of {society} ({society_id}" + "".join(f", {n}" for _, n in above) + ")"
    else:
        where = "a song with no culture in the graph"
    raise ExpertPermissionError(
        f"{track.id} is {where}, outside the scope of expert {account.username!r} ({scope}); "
        "an expert for that culture or an admin may answer it"
    )


@dataclass(frozen=True)
class _Label:
    id: str
    name: str
    kind: str  # 'function' | 'concept'
    status: str
    merged_into: str | None


def _label_candidates(driver: neo4j.Driver) -> list[_Label]:
    records, _, _ = driver.execute_query(q.LABEL_CANDIDATES, routing_=neo4j.RoutingControl.READ)
    return [
        _Label(r["id"], r["name"], r["kind"], r["status"] or "active", r["merged_into"])
        for r in records
    ]


def _resolve_label(driver: neo4j.Driver, label: object) -> _Label:
    """The Function (id or name) or active Concept (id or exact name; case ignored) ``label``."""
    if not isinstance(label, str) or not label.strip():
        raise ExpertError("the label is empty; give a function (e.g. 'Lullaby') or a concept")
    candidates = _label_candidates(driver)
    wanted = label.strip()
    named = [c for c in candidates if c.id == wanted] or [
        c for c in candidates if c.name.casefold() == wanted.casefold()
    ]
    usable = [c for c in named if c.status == "active"]
    if usable:
        # names are unique among functions and active concepts (add_concept refuses a clash)
        return sorted(usable, key=lambda c: c.kind != "function")[0]
    if named:
        c = named[0]
        if c.status == "merged":
            into = next((d for d in candidates if d.id == c.merged_into), None)
            target = f"{into.name!r} ({into.id})" if into else repr(c.merged_into)
            raise ExpertError(
                f"concept {c.name!r} ({c.id}) was merged into {target}; answer with that one"
            )
        raise ExpertError(
            f"concept {c.name!r} ({c.id}) is retired; answer with an active function or "
            f"concept ({_CONCEPTS})"
        )
    active = [c.name for c in candidates if c.status == "active"]
    close = difflib.get_close_matches(wanted.casefold(), [n.casefold() for n in active], n=3)
    by_fold = {n.casefold(): n for n in active}
    hint = (
        "did you mean " + " or ".join(repr(by_fold[c]) for c in close) + "?"
        if close
        else "known: " + ", ".join(sorted(active))
    )
    raise ExpertNotFoundError(f"unknown function or concept {_show(label)}; {hint} ({_CONCEPTS})")


def _answer(record: neo4j.Record | dict[str, Any], **extra: Any) -> Answer:
    about = list(record["about"])
    sources = list(record["sources"])
    if sources and len(about) == 2:
        # a link's pair in the direction of its EXPERT_CONSTRAINT edge
        other = about[1] if about[0] == sources[0] else about[0]
        tracks: tuple[str, ...] = (sources[0], other)
    else:
        tracks = tuple(sorted(about))
    labels = list(record["labels"])
    label = labels[0] if labels else None
    confidence = record["confidence"]
    return Answer(
        id=record["id"],
        kind=record["kind"],
        expert=record["expert"],
        created=record["created"],
        tracks=tracks,
        rationale=record["rationale"],
        confidence=None if confidence is None else float(confidence),
        label=label["name"] if label else None,
        label_id=label["id"] if label else None,
        label_kind=("concept" if label["concept"] else "function") if label else None,
        **extra,
    )


def _new_answer_id() -> str:
    return f"ans-{secrets.token_hex(6)}"


def _lock(tx: neo4j.ManagedTransaction, expert: str) -> None:
    if tx.run(q.LOCK_ACCOUNT, expert=expert).single() is None:
        raise ExpertPermissionError(f"account {expert!r} disappeared; nothing was written")


def _replace(
    tx: neo4j.ManagedTransaction, expert: str, kinds: Sequence[str], track: str, other: str | None
) -> str | None:
    """Delete the expert's earlier answers of ``kinds`` about the song (or pair); the last id."""
    ids = [
        r["id"]
        for r in tx.run(
            q.EXPERT_ANSWERS_ABOUT, expert=expert, kinds=list(kinds), track=track, other=other
        )
    ]
    if ids:
        tx.run(q.DELETE_ANSWERS, ids=ids).consume()
    return ids[-1] if ids else None


# --- answers --------------------------------------------------------------------------------------


def answer_function(
    driver: neo4j.Driver,
    track_id: str,
    label: str,
    *,
    expert: str,
    confidence: float = 1.0,
    rationale: str = "",
) -> Answer:
    """Store an expert's answer to "what is this song for?".

    A second answer by the same expert about the same song replaces the first (in the same
    transaction). A song with a public dataset label may be answered too: the answer is stored,
    the dataset label stays the song's function, and the returned answer's ``note`` says so.

    Args:
        driver: an open driver.
        track_id: the song, e.g. ``"NHS2-5KU4"``.
        label: a Function (id or name, e.g. ``"Lullaby"``) or an active Concept (id or exact
            name); case is ignored.
        expert: the answering account: enabled, role expert (the song inside its scope) or admin.
        confidence: 0 < p ≤ 1 (1 = certain).
        rationale: why, up to 2,000 characters (optional).

    Returns:
        The stored :class:`Answer`, with ``replaced`` and ``note`` filled in.

    Raises:
        ExpertPermissionError: unknown, disabled or viewer/analyst account; song out of scope.
        ExpertNotFoundError: unknown track or label (the message lists close names).
        ExpertError: confidence out of range, rationale too long, a retired or merged concept.

    Examples:
        >>> # answer_function(driver, "NHS2-5KU4", "Lullaby", expert="rosa", confidence=0.9)
    """
    p = _confidence(confidence)
    why = _rationale(rationale, required=False)
    track_id = _track_id(track_id)
    account = _actor(driver, expert, "expert", "answer")
    track = _tracks(driver, [track_id])[track_id]
    _check_scope(driver, account, track)
    resolved = _resolve_label(driver, label)
    note = (
        f"{track_id} keeps its public dataset label {track.public!r}; the answer is stored "
        "but never overrides it"
        if track.public
        else ""
    )
    _ensure_schema(driver)
    answer_id = _new_answer_id()

    def write(tx: neo4j.ManagedTransaction) -> Answer:
        _lock(tx, account.username)
        replaced = _replace(tx, account.username, ("function",), track_id, None)
        record = tx.run(
            q.CREATE_FUNCTION_ANSWER,
            expert=account.username,
            track=track_id,
            label=resolved.id,
            id=answer_id,
            confidence=p,
            rationale=why or None,
        ).single()
        if record is None:  # the song or the concept went between the checks and the write
            raise ExpertNotFoundError(
                f"{track_id} or {resolved.name!r} changed while answering; nothing was "
                "written, try again"
            )
        return _answer(record, replaced=replaced, note=note)

    with driver.session() as session:
        return session.execute_write(write)


def answer_link(
    driver: neo4j.Driver, a: str, b: str, kind: str, *, expert: str, rationale: str
) -> Answer:
    """Store an expert's answer that two songs must (or must not) be linked, and why.

    Makes the ``Answer`` (``ABOUT`` both songs) and the ``(a)-[:EXPERT_CONSTRAINT {kind,
    rationale, author, created_at, answer_id}]->(b)`` edge. A second answer by the same expert
    about the same pair (either order, either kind) replaces the first. Another expert's
    constraint of the opposite kind between the pair is allowed: both stand, and the returned
    answer's ``note`` names it.

    Args:
        driver: an open driver.
        a: the first song.
        b: the second song; must differ from ``a``.
        kind: ``"must_link"`` or ``"cannot_link"``.
        expert: the answering account (both songs inside its scope, or an admin).
        rationale: why, 1–2,000 characters (required: a link without a reason cannot be reviewed).

    Returns:
        The stored :class:`Answer` (``tracks == (a, b)``).

    Raises:
        ExpertPermissionError, ExpertNotFoundError, ExpertError: as :func:`answer_function`; also
        a bad kind, an empty rationale, or the same song twice.

    Examples:
        >>> # answer_link(driver, "NHS2-5KU4", "NHS2-9Y4I", "must_link", expert="rosa",
        >>> #             rationale="the same lullaby, sung by two women")
    """
    if kind not in KINDS:
        raise ExpertError(f"link kind {_show(kind)} is not one of {', '.join(KINDS)}")
    why = _rationale(rationale, required=True)
    a, b = _track_id(a, "first track"), _track_id(b, "second track")
    if a == b:
        raise ExpertError(f"a link needs two different songs; got {_show(a)} twice")
    account = _actor(driver, expert, "expert", "answer")
    tracks = _tracks(driver, [a, b])
    for t in (a, b):
        _check_scope(driver, account, tracks[t])
    records, _, _ = driver.execute_query(
        q.CONSTRAINTS_BETWEEN, a=a, b=b, routing_=neo4j.RoutingControl.READ
    )
    opposite = [
        r
        for r in records
        if r["kind"] != kind and r["author"] != account.username and r["kind"] in KINDS
    ]
    note = "; ".join(
        f"{a} and {b} also have a {r['kind']} by {r['author']}"
        + (f" ({r['answer_id']})" if r["answer_id"] else "")
        + ", which stands too"
        for r in opposite
    )
    _ensure_schema(driver)
    answer_id = _new_answer_id()

    def write(tx: neo4j.ManagedTransaction) -> Answer:
        _lock(tx, account.username)
        replaced = _replace(tx, account.username, KINDS, a, b)
        record = tx.run(
            q.CREATE_LINK_ANSWER,
            expert=account.username,
            a=a,
            b=b,
            kind=kind,
            id=answer_id,
            rationale=why,
        ).single()
        if record is None:
            raise ExpertNotFoundError(
                f"{a} or {b} went while answering; nothing was written, try again"
            )
        return _answer(record, replaced=replaced, note=note)

    with driver.session() as session:
        return session.execute_write(write)


def get_answer(driver: neo4j.Driver, answer_id: str) -> Answer | None:
    """The answer ``answer_id``, or ``None``."""
    records, _, _ = driver.execute_query(
        q.GET_ANSWER, id=answer_id, routing_=neo4j.RoutingControl.READ
    )
    return _answer(records[0]) if records else None


def retract(driver: neo4j.Driver, answer_id: str, *, by: str) -> Answer:
    """Retract an answer: delete exactly what it made, so the graph is as it was before it.

    That is the ``Answer`` node, its ``GAVE``, ``ABOUT`` and ``LABEL`` relationships and, for a
    link, its ``EXPERT_CONSTRAINT`` edge.

    Args:
        driver: an open driver.
        answer_id: ``ans-`` and 12 hex digits.
        by: who retracts: the answer's own expert, or an admin.

    Returns:
        The answer as it was.

    Raises:
        ExpertNotFoundError: no such answer.
        ExpertPermissionError: ``by`` is not the answer's expert nor an admin (or is disabled).

    Examples:
        >>> # retract(driver, "ans-0123456789ab", by="rosa")
    """
    if not isinstance(answer_id, str) or not _ANSWER_ID.match(answer_id):
        raise ExpertError(
            f"{_show(answer_id)} is not an answer id ('ans-' and 12 hex digits; {_LOG})"
        )
    account = _actor(driver, by, "expert", "retract answers")
    answer = get_answer(driver, answer_id)
    if answer is None:
        raise ExpertNotFoundError(f"no answer {answer_id} ({_LOG})")
    if answer.expert != account.username and not account.can("admin"):
        raise ExpertPermissionError(
            f"{answer_id} is {answer.expert}'s answer; only {answer.expert} or an admin may "
            "retract it"
        )

    def write(tx: neo4j.ManagedTransaction) -> None:
        tx.run(q.DELETE_ANSWERS, ids=[answer_id]).consume()

    with driver.session() as session:
        session.execute_write(write)
    return answer


def answers(
    driver: neo4j.Driver, *, expert: str | None = None, track: str | None = None
) -> list[Answer]:
    """The answers, newest first; ``expert`` and ``track`` narrow the log.

    Examples:
        >>> # [a.id for a in answers(driver, expert="rosa", track="NHS2-5KU4")]
    """
    records, _, _ = driver.execute_query(
        q.LIST_ANSWERS, expert=expert, track=track, routing_=neo4j.RoutingControl.READ
    )
    return [_answer(r) for r in records]


def expert_labels(driver: neo4j.Driver) -> dict[str, ExpertLabel]:
    """The function label experts give each song that has no public dataset label.

    The rule of ``docs/experts.md``: over the song's function answers (one per expert), the label
    with the largest sum of confidences wins; a tie gives no label (the song stays in the review
    queue and the model's prediction stands). An answer naming a merged concept counts for the
    concept it was merged into; one naming a retired concept no longer counts. One query.

    Returns:
        Track id → :class:`ExpertLabel`, for the songs with a winning label only.

    Examples:
        >>> # expert_labels(driver)["NHS2-5KU4"].label  ->  'Lullaby'
    """
    records, _, _ = driver.execute_query(
        q.FUNCTION_ANSWERS_FOR_LABELS, routing_=neo4j.RoutingControl.READ
    )
    by_track: dict[str, list[tuple[str, str, bool, Answer]]] = {}
    for r in records:
        by_track.setdefault(r["track"], []).append(
            (r["final_id"], r["final_name"], bool(r["final_concept"]), _answer(r))
        )
    out: dict[str, ExpertLabel] = {}
    for track, rows in by_track.items():
        sums: dict[str, float] = {}
        for label_id, _, _, answer in rows:
            sums[label_id] = sums.get(label_id, 0.0) + (answer.confidence or 0.0)
        # rounded, so that 0.3 + 0.6 ties with 0.9 as a person would expect
        best = max(round(s, 9) for s in sums.values())
        winners = [label for label, s in sums.items() if round(s, 9) == best]
        if len(winners) != 1:
            continue
        (winner,) = winners
        behind = sorted(
            (row for row in rows if row[0] == winner), key=lambda row: row[3].created, reverse=True
        )
        _, name, is_concept, _ = behind[0]
        out[track] = ExpertLabel(
            track=track,
            label=name,
            label_id=winner,
            kind="concept" if is_concept else "function",
            experts=tuple(sorted({row[3].expert for row in behind})),
            last=behind[0][3].created,
            score=round(sums[winner], 9),
            answers=tuple(row[3] for row in behind),
        )
    return out


def constraints(driver: neo4j.Driver) -> list[ExpertConstraint]:
    """Every ``EXPERT_CONSTRAINT`` edge (experts' answers and operators'), in one query.

    Returns:
        :class:`ExpertConstraint` per edge, by source, target and time; ``answer_id`` is
        ``None`` for an operator's constraint.
    """
    records, _, _ = driver.execute_query(
        q.ALL_EXPERT_CONSTRAINTS, routing_=neo4j.RoutingControl.READ
    )
    return [
        ExpertConstraint(
            source=r["source"],
            target=r["target"],
            kind=r["kind"],
            rationale=r["rationale"],
            author=r["author"] or "",
            created_at=r["created_at"] or "",
            answer_id=r["answer_id"],
        )
        for r in records
    ]


# --- concepts -------------------------------------------------------------------------------------


def concept_id(name: str) -> str:
    """The id of a concept named ``name``: ``concept-`` and a slug of it.

    Letters lose their accents and case; a name with no Latin letter or digit (a name in its own
    script) gets the first 12 hex digits of its SHA-1 instead.

    Examples:
        >>> concept_id("Harvest song"), concept_id("  Fête-du-Vodoun! ")
        ('concept-harvest-song', 'concept-fete-du-vodoun')
        >>> concept_id("ᎠᏍᎦᏯ")
        'concept-cee454247319'
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    if not slug:
        slug = hashlib.sha1(name.strip().encode()).hexdigest()[:12]
    return f"concept-{slug}"


def _concept(record: neo4j.Record | dict[str, Any]) -> Concept:
    return Concept(
        id=record["id"],
        name=record["name"],
        description=record["description"] or "",
        kind=record["kind"],
        expert=record["expert"] or "",
        created=record["created"] or "",
        status=record["status"] or "active",
        merged_into=record["merged_into"],
        embedding=tuple(float(x) for x in (record["embedding"] or ())),
    )


def _embedding(embedding: object) -> list[float]:
    try:
        values = [float(x) for x in embedding]  # type: ignore[attr-defined]
    except (TypeError, ValueError) as e:
        raise ExpertError(
            f"the embedding must be {DIM} numbers (gnn.features.embed_texts([description])[0])"
        ) from e
    if len(values) != DIM or not all(math.isfinite(x) for x in values):
        what = f"{len(values)} numbers" if len(values) != DIM else "numbers that are not finite"
        raise ExpertError(
            f"the embedding has {what}; give the description's {DIM}-number MiniLM embedding "
            "(gnn.features.embed_texts([description])[0])"
        )
    return values


def check_concept(
    driver: neo4j.Driver,
    name: str,
    description: str,
    *,
    expert: str,
    kind: str = "function",
) -> str:
    """Check a new concept as :func:`add_concept` will, without its embedding; write nothing.

    For callers that compute the embedding (a model load, seconds) only for a concept that will be
    accepted.

    Returns:
        The id the concept would get.

    Raises:
        ExpertError, ExpertPermissionError: as :func:`add_concept`.
    """
    return _check_concept(driver, name, description, expert, kind)[2]


def _check_concept(
    driver: neo4j.Driver, name: object, description: object, expert: object, kind: object
) -> tuple[str, str, str, str]:
    """``(name, description, id, username)``, stripped and checked."""
    if not isinstance(name, str) or not name.strip():
        raise ExpertError("the concept's name is empty; give a short name, e.g. 'Harvest song'")
    name = name.strip()
    if len(name) > MAX_NAME or any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ExpertError(
            f"concept name {_show(name)} is not one short line; use at most {MAX_NAME} "
            "characters and no line breaks"
        )
    if not isinstance(description, str) or not description.strip():
        raise ExpertError(
            f"the description of {name!r} is empty; say what the concept means (its embedding "
            "places it among the functions)"
        )
    description = description.strip()
    if len(description) > MAX_RATIONALE:
        raise ExpertError(
            f"the description has {len(description):,} characters; keep it to {MAX_RATIONALE:,}"
        )
    if kind not in CONCEPT_KINDS:
        raise ExpertError(f"concept kind {_show(kind)} is not one of {', '.join(CONCEPT_KINDS)}")
    account = _actor(driver, expert, "expert", "add concepts")
    new_id = concept_id(name)
    for c in _label_candidates(driver):
        if c.kind == "function" and name.casefold() in (c.name.casefold(), c.id.casefold()):
            raise ExpertError(
                f"{name!r} is the function {c.name!r} already; answer with it instead"
            )
        if c.kind == "concept" and c.status == "active" and c.name.casefold() == name.casefold():
            raise ExpertError(f"concept {c.name!r} ({c.id}) exists already; answer with it")
        if c.id == new_id:
            raise ExpertError(
                f"concept id {new_id} is taken by {c.name!r} ({c.status}); name the new concept "
                "differently"
            )
    return name, description, new_id, account.username


def add_concept(
    driver: neo4j.Driver,
    name: str,
    description: str,
    *,
    expert: str,
    kind: str = "function",
    embedding: Sequence[float],
) -> Concept:
    """Add a concept the ontology lacks (a culture-specific function or affect).

    Args:
        driver: an open driver.
        name: 1–80 characters on one line; must not equal (case ignored) a Function's name or an
            active Concept's.
        description: what it means, 1–2,000 characters.
        expert: who proposes it (role expert or admin).
        kind: ``"function"`` or ``"affect"``.
        embedding: the description's MiniLM sentence embedding, 384 numbers
            (:func:`gnn.features.embed_texts`).

    Returns:
        The new, active :class:`Concept`, id ``concept-<slug>`` (:func:`concept_id`).

    Raises:
        ExpertError: a bad name, description, kind or embedding, or a name (or id) taken.
        ExpertPermissionError: the account may not add concepts.

    Shapes:
        embedding: ``(384,)``.

    Examples:
        >>> # add_concept(driver, "Agbadza", "Ewe war dance, now danced at funerals",
        >>> #             expert="rosa", embedding=embed_texts([description])[0])
    """
    name, description, new_id, username = _check_concept(driver, name, description, expert, kind)
    vector = _embedding(embedding)
    _ensure_schema(driver)
    try:
        records, _, _ = driver.execute_query(
            q.CREATE_CONCEPT,
            id=new_id,
            name=name,
            description=description,
            kind=kind,
            expert=username,
            embedding=vector,
        )
    except neo4j.exceptions.ConstraintError as e:
        raise ExpertError(
            f"concept id {new_id} was taken a moment ago; {_CONCEPTS}, then name it differently"
        ) from e
    return _concept(records[0])


def list_concepts(driver: neo4j.Driver, *, include_retired: bool = False) -> list[Concept]:
    """The active concepts by name; ``include_retired=True`` adds the retired and merged ones."""
    records, _, _ = driver.execute_query(
        q.LIST_CONCEPTS, all=include_retired, routing_=neo4j.RoutingControl.READ
    )
    return [_concept(r) for r in records]


def _get_concept(driver: neo4j.Driver, concept: object) -> Concept:
    if not isinstance(concept, str) or not concept.strip():
        raise ExpertError("the concept id is empty; give one such as 'concept-harvest-song'")
    records, _, _ = driver.execute_query(
        q.GET_CONCEPT, id=concept, routing_=neo4j.RoutingControl.READ
    )
    if not records:
        raise ExpertNotFoundError(f"no concept {_show(concept)} ({_CONCEPTS})")
    return _concept(records[0])


def _must_be_active(c: Concept, doing: str) -> None:
    if c.status == "merged":
        raise ExpertError(f"concept {c.id} was merged into {c.merged_into}; {doing} that one")
    if c.status != "active":
        raise ExpertError(f"concept {c.id} is {c.status} already")


def retire_concept(driver: neo4j.Driver, id: str, *, admin: str) -> Concept:
    """Retire a concept: new answers may not name it, and its answers stop counting.

    Nothing is deleted: the node keeps its answers and gets ``status: 'retired'``,
    ``retired_by`` and ``retired_at``.

    Raises:
        ExpertPermissionError: ``admin`` is not an enabled admin.
        ExpertNotFoundError: no such concept.
        ExpertError: the concept is not active.
    """
    account = _actor(driver, admin, "admin", "retire concepts")
    _must_be_active(_get_concept(driver, id), "retire")

    def write(tx: neo4j.ManagedTransaction) -> Concept:
        tx.run(q.LOCK_CONCEPTS, ids=[id]).consume()
        record = tx.run(q.RETIRE_CONCEPT, id=id, admin=account.username).single()
        if record is None:
            raise ExpertError(f"concept {id} changed a moment ago; {_CONCEPTS}")
        return _concept(record)

    with driver.session() as session:
        return session.execute_write(write)


def merge_concepts(driver: neo4j.Driver, source_id: str, into_id: str, *, admin: str) -> Concept:
    """Merge concept ``source_id`` into ``into_id``: its answers count for ``into_id`` from now on.

    History is kept: ``(source)-[:MERGED_INTO {admin, at}]->(into)`` and ``source.status =
    'merged'``; both must be active and different.

    Returns:
        The merged source concept (``status == "merged"``, ``merged_into == into_id``).

    Raises:
        ExpertPermissionError: ``admin`` is not an enabled admin.
        ExpertNotFoundError: either concept does not exist.
        ExpertError: the same concept twice, or one that is not active.
    """
    account = _actor(driver, admin, "admin", "merge concepts")
    source, into = _get_concept(driver, source_id), _get_concept(driver, into_id)
    if source.id == into.id:
        raise ExpertError(f"cannot merge {source.id} into itself; give two different concepts")
    _must_be_active(source, "merge")
    _must_be_active(into, "merge into")

    def write(tx: neo4j.ManagedTransaction) -> Concept:
        tx.run(q.LOCK_CONCEPTS, ids=sorted([source.id, into.id])).consume()
        record = tx.run(
            q.MERGE_CONCEPT, source=source.id, into=into.id, admin=account.username
        ).single()
        if record is None:
            raise ExpertError(
                f"{source.id} or {into.id} stopped being active a moment ago; {_CONCEPTS}"
            )
        return _concept(record)

    with driver.session() as session:
        return session.execute_write(write)


# --- the operators' path --------------------------------------------------------------------------


def add_expert_constraint(
    driver: neo4j.Driver,
    source: str,
    target: str,
    *,
    kind: str,
    rationale: str,
    author: str,
    database: str | None = None,
) -> ExpertConstraint:
    """Record that an expert says two tracks must (or must not) be linked, and why.

    Adding the same constraint again updates its rationale and author and keeps ``created_at``.

    Args:
        driver: an open driver.
        source: id of the first track (e.g. ``"NHS2-TBMU"``).
        target: id of the second track; must differ from ``source``.
        kind: ``"must_link"`` or ``"cannot_link"``.
        rationale: the expert's reason, in words (required: constraints without a reason cannot be
            reviewed later).
        author: who says so (a name or an ORCID).
        database: the database; ``None`` is the server default.

    Raises:
        ConstraintError: bad kind, empty rationale/author, the same track twice, a track that does
            not exist, or a constraint of the opposite kind already between the two tracks.
    """
    if kind not in KINDS:
        raise ConstraintError(f"kind {kind!r} is not one of {KINDS}")
    if not isinstance(rationale, str) or not rationale.strip():
        raise ConstraintError(
            "rationale is empty: say why the expert links (or separates) the two "
            "tracks, e.g. 'both are Quechua harvest dances'"
        )
    if not isinstance(author, str) or not author.strip():
        raise ConstraintError("author is empty: give the expert's name or ORCID")
    if source == target:
        raise ConstraintError(f"a constraint needs two different tracks; got {source!r} twice")
    with driver.session(database=database) as session:
        found = {r["id"]: r["found"] for r in session.run(q.TRACKS_EXIST, ids=[source, target])}
        missing = [t for t in (source, target) if not found.get(t)]
        if missing:
            raise ConstraintError(
                f"unknown track id(s) {missing}; track ids are CCMC song ids such as 'NHS2-TBMU' "
                "(MATCH (t:Track) RETURN t.id lists them)"
            )
        for r in session.run(q.CONSTRAINT_BETWEEN, source=source, target=target):
            if r["kind"] != kind:
                raise ConstraintError(
                    f"{source} and {target} already have a {r['kind']} constraint by {r['author']} "
                    f"({r['rationale']!r}); remove it before adding a {kind}"
                )
        rec = session.execute_write(
            lambda tx: tx.run(
                q.MERGE_EXPERT_CONSTRAINT,
                source=source,
                target=target,
                kind=kind,
                rationale=rationale.strip(),
                author=author.strip(),
            ).single(strict=True)
        )
    return ExpertConstraint(
        source=source,
        target=target,
        kind=rec["kind"],
        rationale=rec["rationale"],
        author=rec["author"],
        created_at=rec["created_at"],
    )
