"""Quarto shortcodes, resolved on the markdown text before pandoc reads it, as strictly as Quarto.

Supported: `{{< var a.b >}}` (`_variables.yml`), `{{< meta a.b >}}` (document metadata),
`{{< embed path.ipynb#label >}}` (see `notebooks.py`), `{{< pagebreak >}}`, and the escape
`{{{< var x >}}}` (the literal text). Where Quarto 1.7 warns or leaves a `?var:`/`?meta:` mark,
this raises `RenderError` naming the file, line and shortcode; so do nested shortcodes and a
shortcode split over lines, which this renderer does not implement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from lenstop.manuscript.render.errors import RenderError

_SHORTCODE = re.compile(r"\{\{<\s*(.*?)\s*>\}\}")
_ESCAPED = re.compile(r"\{\{\{<(.*?)>\}\}\}")
_PIPE_ROW = re.compile(r"^\s*\|")
_SEPARATOR = re.compile(r"^\s*\|?(\s*:?-+:?\s*\|)+\s*(:?-+:?\s*)?$")
# Lua's tonumber() accepts these; Quarto then indexes the parent as a list and finds nothing
_LUA_NUMBER = re.compile(r"^\s*[-+]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")
BLOCK_OPEN = "\ue010"
BLOCK_CLOSE = "\ue011"
CELL_CLASS = "lenstop-cellpara"

EmbedFn = Callable[[str, list[str], Path, int | None], str]
"""(target "path#label", options, file, line) -> markdown block."""


@dataclass
class ShortcodeContext:
    """What shortcodes resolve against: variables, metadata, format, embedder."""
    variables: dict[str, Any]
    metadata: dict[str, Any]
    fmt: str
    embed: EmbedFn | None = None


def _segments(key: str) -> list[str]:
    """A dotted key split into segments (`\\.` is a literal dot)."""
    return [p.replace("\ue000", ".") for p in key.replace("\\.", "\ue000").split(".")]


def lookup(tree: dict[str, Any], key: str, kind: str, file: Path, line: int | None) -> Any:
    """The value at a dotted `key`, or `RenderError` where Quarto 1.7 resolves nothing."""
    node: Any = tree
    for depth, part in enumerate(_segments(key)):
        if depth > 0 and _LUA_NUMBER.match(part):
            raise RenderError(
                f"{{{{< {kind} {key} >}}}}: the segment {part!r} is a number, and Quarto 1.7 "
                f"never resolves a numeric segment below the top level (it prints ?{kind}:{key});"
                f" rename the key so that it does not parse as a number (e.g. m{part.strip()})",
                file=file, line=line)
        if not isinstance(node, dict) or part not in {str(k): v for k, v in node.items()}:
            raise RenderError(f"unknown {kind} key {key!r} in {{{{< {kind} {key} >}}}} "
                              f"(Quarto 1.7 prints ?{kind}:{key} and warns)", file=file, line=line)
        node = {str(k): v for k, v in node.items()}[part]
    return node


def _haskell_show(value: float) -> str:
    """A non-integral float as pandoc (Haskell `show`) prints it: 0.5, 12.5, 5.0e-2, 1.5e7."""
    if value < 0:
        return "-" + _haskell_show(-value)
    if 0.1 <= value < 1e7:
        return repr(value)
    dec = Decimal(repr(value)).normalize()
    digits = "".join(str(d) for d in dec.as_tuple().digits)
    return f"{digits[0]}.{digits[1:] or '0'}e{dec.adjusted()}"


def scalar_text(value: Any) -> str | None:
    """Text of a YAML scalar as Quarto 1.7 prints it; None for a type it does not print.

    Quarto reads YAML as JavaScript numbers and hands them to pandoc, which prints them as
    Haskell does: whole numbers as integers (2.0 -> `2`, 1.0e7 -> `10000000`), others with
    `show` (0.05 -> `5.0e-2`, 12.50 -> `12.5`). Quote a value in YAML to keep it as typed.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
        return _haskell_show(value)
    if isinstance(value, str):
        return value
    return None


def _value_text(value: Any, kind: str, key: str, file: Path, line: int | None) -> str:
    """The printed text of a var/meta value, or RenderError where Quarto differs."""
    text = scalar_text(value)
    if text is None:
        what = {dict: "a mapping (Quarto 1.7 prints nothing)",
                list: f"a list (Quarto 1.7 prints ?invalid {kind} type:{key})"}.get(
                    type(value), f"a {type(value).__name__} value")
        raise RenderError(f"{{{{< {kind} {key} >}}}} names {what}; use a key whose value is "
                          "a string, number or boolean (quote dates)", file=file, line=line)
    if "\n" in text.strip("\n"):
        raise RenderError(f"{{{{< {kind} {key} >}}}}: the value spans several lines; this "
                          "renderer inserts values inline, so keep it on one line",
                          file=file, line=line)
    return text.strip("\n")


def _resolve_one(inner: str, ctx: ShortcodeContext, file: Path, line: int | None) -> str:
    """One shortcode (the text between `{{<` and `>}}`) -> its replacement."""
    parts = inner.split()
    name, args = (parts[0], parts[1:]) if parts else ("", [])
    if name in ("var", "meta"):
        if len(args) != 1:
            raise RenderError(f"`{name}` takes exactly one key: {{{{< {inner} >}}}}",
                              file=file, line=line)
        tree = ctx.variables if name == "var" else ctx.metadata
        return _value_text(lookup(tree, args[0], name, file, line), name, args[0], file, line)
    if name == "embed":
        if not args or ctx.embed is None:
            raise RenderError(f"`embed` needs a target and may only stand alone in the body: "
                              f"{{{{< {inner} >}}}}", file=file, line=line)
        return BLOCK_OPEN + ctx.embed(args[0], args[1:], file, line) + BLOCK_CLOSE
    if name == "pagebreak" and not args:
        if ctx.fmt == "typst":
            raw = "``` {=typst}\n#pagebreak()\n```"
        else:
            raw = '``` {=html}\n<div style="page-break-after: always;"></div>\n```'
        return BLOCK_OPEN + raw + BLOCK_CLOSE
    raise RenderError(f"unknown shortcode {{{{< {inner} >}}}}: Quarto 1.7 leaves it in the text "
                      f"and warns \"Shortcode '{name}' not found\" (this renderer knows var, "
                      "meta, embed and pagebreak)", file=file, line=line)


def resolve_text(text: str, ctx: ShortcodeContext, file: Path, line: int | None,
                 *, allow_blocks: bool = False, table_row: bool = False) -> str:
    """Resolve every shortcode in `text` (one source line, or one metadata string)."""
    escapes: list[str] = []

    def _stash(m: re.Match[str]) -> str:
        escapes.append("{{<" + m.group(1) + ">}}")
        return f"\ue001{len(escapes) - 1}\ue002"

    text = _ESCAPED.sub(_stash, text)
    if re.search(r"\{\{<(?:(?!>\}\}).)*\{\{<", text):
        raise RenderError("nested shortcodes are not supported by this renderer; write the "
                          "inner value out", file=file, line=line)
    cells_only = set()
    if table_row:  # cells holding one shortcode only: Quarto makes them paragraphs
        for cell in re.split(r"(?<!\\)\|", text)[1:-1]:
            if _SHORTCODE.fullmatch(cell.strip()):
                cells_only.add(cell.strip())

    def _sub(m: re.Match[str]) -> str:
        value = _resolve_one(m.group(1), ctx, file, line)
        if table_row and "|" in value:
            raise RenderError(f"{m.group(0)} puts a '|' into a pipe table row", file=file,
                              line=line)
        if m.group(0) in cells_only:
            return f"[{value}]{{.{CELL_CLASS}}}"
        return value

    text = _SHORTCODE.sub(_sub, text)
    if "{{<" in text or ">}}" in text:
        raise RenderError("unbalanced shortcode delimiters: a shortcode must open and close "
                          "on one line", file=file, line=line)
    if BLOCK_OPEN in text:
        before, _, rest = text.partition(BLOCK_OPEN)
        block, _, after = rest.partition(BLOCK_CLOSE)
        if not allow_blocks or before.strip() or after.strip() or BLOCK_OPEN in after:
            raise RenderError("embed and pagebreak must stand alone on their own line",
                              file=file, line=line)
        text = "\n" + block + "\n"
    return re.sub(r"\ue001(\d+)\ue002", lambda m: escapes[int(m.group(1))], text)


def _widen_separator(line: str) -> str:
    """A pipe-table separator scaled past 72 characters, keeping each column's share."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    factor = 72 // max(1, sum(len(c) for c in cells)) + 1
    out = []
    for cell in cells:
        n = len(cell) * factor
        left, right = cell.startswith(":"), cell.endswith(":")
        out.append((":" if left else "") + "-" * (n - left - right) + (":" if right else ""))
    return "|" + "|".join(out) + "|"


def resolve_markdown(body: str, ctx: ShortcodeContext, file: Path, first_line: int) -> str:
    """Resolve the shortcodes of a markdown body line by line (error lines are file lines).

    A pipe table with a shortcode in a row gets column widths from its separator's dashes, as
    in Quarto (its shortcode syntax makes pandoc see a long table); a cell holding only a
    shortcode becomes a paragraph there too.
    """
    lines = body.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        lineno = first_line + i
        if (_PIPE_ROW.match(lines[i]) and i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1])
                and "|" in lines[i + 1]):
            end = i + 1
            while end + 1 < len(lines) and _PIPE_ROW.match(lines[end + 1]):
                end += 1
            rows = [i, *range(i + 2, end + 1)]
            widen = any(_SHORTCODE.search(_ESCAPED.sub("", lines[r])) for r in rows)
            for r in range(i, end + 1):
                if r == i + 1:
                    out.append(_widen_separator(lines[r]) if widen else lines[r])
                else:
                    out.append(resolve_text(lines[r], ctx, file, first_line + r,
                                            table_row=True))
            i = end + 1
            continue
        if "shortcodes=false" in lines[i].replace(" ", ""):
            raise RenderError("`shortcodes=false` is not supported by this renderer",
                              file=file, line=lineno)
        out.append(resolve_text(lines[i], ctx, file, lineno, allow_blocks=True))
        i += 1
    return "\n".join(out)


def resolve_metadata(value: Any, ctx: ShortcodeContext, file: Path, source: str) -> Any:
    """Resolve shortcodes inside metadata strings (error line: first occurrence in `source`)."""
    if isinstance(value, dict):
        return {k: resolve_metadata(v, ctx, file, source) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_metadata(v, ctx, file, source) for v in value]
    if isinstance(value, str) and "{{<" in value:
        lines = value.split("\n")
        out = []
        for part in lines:
            m = _SHORTCODE.search(part)
            idx = source.find(m.group(0)) if m else -1
            line = source.count("\n", 0, idx) + 1 if idx >= 0 else None
            out.append(resolve_text(part, ctx, file, line))
        return "\n".join(out)
    return value
