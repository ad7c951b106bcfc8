"""The data dictionary rendered from `schema` as markdown, so the document cannot drift."""

from __future__ import annotations

from .schema import COLUMNS, RULES

BEGIN, END = "<!-- dictionary:begin -->", "<!-- dictionary:end -->"


def markdown_table() -> str:
    """Columns table and cross-column rules table, as they appear in `data/README.md`."""
    lines = [
        "| column | type | unit | allowed values | blank allowed | definition |",
        "|---|---|---|---|---|---|",
    ]
    for c in COLUMNS:
        blank = "yes" if c.nullable else "no"
        if not c.required:
            blank += " (optional column)"
        lines.append(f"| `{c.name}` | {c.kind} | {c.unit or ''} | {c.rule_text()} | {blank} | "
                     f"{c.definition} |")
    lines += ["", "| rule | column reported | meaning |", "|---|---|---|"]
    lines += [f"| `{r.id}` | `{r.column}` | {r.text} |" for r in RULES]
    return "\n".join(lines)


def between_markers(text: str) -> str:
    """The part of a document between the dictionary markers."""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
