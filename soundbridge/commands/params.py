"""Parameter types shared by the commands: text and paths that must not be empty.

An empty or blank argument (``soundbridge search ""``, ``--out "$UNSET"``) is always a mistake:
refused where click parses it, it is a one-line usage error (exit 2) that says what to give,
instead of a failure deep inside a model or a file written to the current folder.
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["CULTURE", "NonBlank", "NonBlankPath"]


class NonBlank(click.ParamType):
    """Text with something in it; ``example`` completes "give …" in the refusal.

    Examples:
        >>> NonBlank("a word").convert(" jazz ", None, None)
        ' jazz '
        >>> NonBlank("a word").convert("  ", None, None)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        click.exceptions.BadParameter: blank; give a word
    """

    name = "text"

    def __init__(self, example: str) -> None:
        self.example = example

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = value if isinstance(value, str) else str(value)
        if not text.strip():
            self.fail(f"{'blank' if text else 'empty'}; give {self.example}", param, ctx)
        return text


class NonBlankPath(click.Path):
    """A :class:`click.Path` that refuses an empty or blank value (it would mean ``.``)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail(f"{'blank' if value else 'empty'}; give a path", param, ctx)
        return super().convert(value, param, ctx)


#: A culture as the commands take it: a name, an id, a Glottocode or an alias.
CULTURE = NonBlank('a culture name, id, Glottocode or alias, e.g. "Central Andes"')
