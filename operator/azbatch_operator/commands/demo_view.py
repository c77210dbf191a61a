"""What the demo shows: the story's steps with their outcomes, `kubectl get bp` and the extensions.

Everything is read from the Kubernetes API as kubectl would read it. The table has exactly the CRD's
printer columns (`crd.printer_columns`, priority 0: what `kubectl get bp` prints), and each
extension's node counts say "provisioning" for what is still provisioning, never "failed".
Two renderings of the same content: a rich one for a terminal (`render`) and plain text for logs,
pipes and tests (`plain_table`, `extension_lines`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from azbatch_operator.crd import printer_columns

TABLE_TITLE = "kubectl get bp"
_SEGMENT = re.compile(r'\.([A-Za-z0-9_]+)|\[\?\(@\.([A-Za-z0-9_]+)=="([^"]*)"\)\]')


@dataclass
class Chapter:
    """One step of the story: its headline, then what came of it."""

    title: str
    outcome: list[str] = field(default_factory=list)
    done: bool = False
    progress: str = ""  # while it runs: what it waits for now

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "outcome": list(self.outcome)}


# -- reading objects as kubectl does --------------------------------------------------------------


def columns() -> list[dict[str, Any]]:
    """The columns `kubectl get bp` prints: NAME, then the CRD's printer columns of priority 0."""
    return [c for c in printer_columns() if not c.get("priority")]


def headers() -> list[str]:
    return ["NAME", *(str(c["name"]).upper() for c in columns())]


def json_path(obj: Mapping[str, Any], path: str) -> Any:
    """The value at a printer column's JSONPath (the forms the CRD uses: `.a.b`, `[?(@.k=="v")]`)."""
    consumed = "".join(m.group(0) for m in _SEGMENT.finditer(path))
    if consumed != path:
        raise ValueError(f"JSONPath {path!r} has a form the demo view does not read")
    values: list[Any] = [obj]
    for match in _SEGMENT.finditer(path):
        key, filter_key, filter_value = match.groups()
        if key is not None:
            values = [v[key] for v in values if isinstance(v, Mapping) and key in v]
        else:
            values = [
                item
                for v in values
                if isinstance(v, list)
                for item in v
                if isinstance(item, Mapping) and str(item.get(filter_key)) == filter_value
            ]
    return values[0] if values else None


def age(timestamp: str | None, now: dt.datetime | None = None) -> str:
    """kubectl's short age: 45s, 3m12s, 47m, 5h10m, 3d."""
    if not timestamp:
        return "<unknown>"
    moment = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = max(int(((now or dt.datetime.now(dt.UTC)) - moment).total_seconds()), 0)
    minutes, hours = seconds // 60, seconds // 3600
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def row(obj: Mapping[str, Any], now: dt.datetime | None = None) -> list[str]:
    cells = [str(obj["metadata"]["name"])]
    for column in columns():
        value = json_path(obj, str(column["jsonPath"]))
        if column.get("type") == "date":
            cells.append(age(value, now))
        else:
            cells.append("<none>" if value is None else str(value))
    return cells


def plain_table(pools: Iterable[Mapping[str, Any]], now: dt.datetime | None = None) -> str:
    """The table as kubectl prints it: upper-case headers, columns three spaces apart."""
    rows = [headers(), *(row(p, now) for p in _sorted(pools))]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def extension_counts(extension: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(state, nodes) of one status.extensions entry, in the order a reader wants them."""
    counts = extension.get("nodes") or {}
    known = {state: int(counts.get(state) or 0) for state in ("failed", "transitioning", "succeeded")}
    unseen = max(int(counts.get("total") or 0) - sum(known.values()), 0)
    named = [
        ("failed", known["failed"]),
        ("provisioning", known["transitioning"]),
        ("succeeded", known["succeeded"]),
        ("not inspected yet", unseen),
    ]
    return [(state, n) for state, n in named if n]


def extension_lines(pools: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per extension of each pool: `keyvault-linux  secretext: 1 provisioning`."""
    found = [
        (str(obj["metadata"]["name"]), f"{extension.get('name')}:", extension_counts(extension))
        for obj in _sorted(pools)
        for extension in (obj.get("status") or {}).get("extensions") or ()
    ]
    width = max((len(name) for name, _, _ in found), default=0)
    return [
        f"{name.ljust(width)}   {label} {', '.join(f'{n} {state}' for state, n in counts) or 'no nodes yet'}"
        for name, label, counts in found
    ]


# -- the terminal view ----------------------------------------------------------------------------

_STATE_STYLE = {
    "failed": "bold red",
    "provisioning": "yellow",
    "succeeded": "green",
    "not inspected yet": "dim",
}
_CELL_STYLE = {"True": "green", "False": "bold red", "Unknown": "yellow"}


def render(pools: Sequence[Mapping[str, Any]], chapters: Sequence[Chapter], *, note: str = "") -> Group:
    """The live view: the steps and their outcomes, `kubectl get bp`, each extension's nodes."""
    parts: list[Any] = [Text("azbatch-operator demo: the real operator on local stand-ins", style="bold")]
    if not chapters:
        parts.append(Text("Starting the Azure emulator, the Kubernetes stand-in and the operator…"))
    for chapter in chapters:
        mark, style = ("✓", "green") if chapter.done else ("▶", "yellow")
        line = Text(f"{mark} ", style=style)
        line.append(chapter.title, style="bold")
        parts.append(line)
        for outcome in chapter.outcome:  # wrapped lines keep the indent
            indent = 4 + len(outcome) - len(outcome.lstrip())
            parts.append(Padding(Text(outcome.lstrip()), (0, 0, 0, indent)))
        if chapter.progress and not chapter.done:
            parts.append(Padding(Text(f"… {chapter.progress}", style="dim"), (0, 0, 0, 4)))
    parts.append(_table(pools, note))
    extensions = _extensions(pools)
    if extensions is not None:
        parts.append(extensions)
    return Group(*parts)


def _table(pools: Sequence[Mapping[str, Any]], note: str) -> Table:
    table = Table(title=TABLE_TITLE, title_justify="left", expand=False, box=None, pad_edge=False)
    for header in headers():
        table.add_column(header, no_wrap=True)
    for obj in _sorted(pools):
        table.add_row(*(Text(cell, style=_CELL_STYLE.get(cell, "")) for cell in row(obj)))
    if note:
        table.caption = note
    return table


def _extensions(pools: Sequence[Mapping[str, Any]]) -> Table | None:
    table = Table(title="extensions on the nodes (status.extensions)", title_justify="left", box=None)
    table.add_column("NAME", no_wrap=True)
    table.add_column("EXTENSION", no_wrap=True)
    table.add_column("NODES")
    for obj in _sorted(pools):
        for extension in (obj.get("status") or {}).get("extensions") or ():
            counts = Text()
            for index, (state, n) in enumerate(extension_counts(extension)):
                counts.append(", " if index else "")
                counts.append(f"{n} {state}", style=_STATE_STYLE[state])
            table.add_row(obj["metadata"]["name"], str(extension.get("name")), counts or Text("no nodes yet"))
    return table if table.row_count else None


def _sorted(pools: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(pools, key=lambda o: str(o["metadata"]["name"]))
