"""Quarto shortcodes, resolved on the markdown text before pandoc sees it.

Supported: `{{< var a.b.c >}}` (from `_variables.yml`), `{{< meta a.b >}}` (document metadata),
`{{< embed path.ipynb#label >}}` (see `notebooks.py`), `{{< pagebreak >}}`; shortcodes nest
(innermost first, e.g. `{{< embed {{< var build.notebooks >}}/nb.ipynb#fig-x >}}`); the
escape `{{{< var x >}}}` gives the literal text `{{< var x >}}`. A shortcode must sit on one
line. Fenced code blocks whose attributes contain `shortcodes=false` are left untouched.
Anything else (unknown shortcode, unknown key, unclosed `{{<`) is a `RenderError` naming the
file and line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RenderError

_INNERMOST = re.compile(r"\{\{<\s*((?:(?!\{\{<|>\}\}).)*?)\s*>\}\}")
_ESCAPED = re.compile(r"\{\{\{<(.*?)>\}\}\}")
_FENCE = re.compile(r"^(\s{0,3})(`{3,}|~{3,})(.*)$")
_BLOCK_OPEN = "\ue010"
_BLOCK_CLOSE = "\ue011"

EmbedFn = Callable[[str, Path, int | None], str]
"""(target "path#label", file, line) -> markdown block."""


@dataclass
class ShortcodeContext:
    variables: dict[str, Any]
    metadata: dict[str, Any]
    fmt: str
    embed: EmbedFn | None = None


def lookup(tree: dict[str, Any], key: str) -> tuple[bool, Any]:
    """Dotted-key lookup as Quarto does it (`a.b.c`; `\\.` is a literal dot in a key)."""
    parts = [p.replace("\ue000", ".") for p in key.replace("\\.", "\ue000").split(".")]
    node: Any = tree
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def scalar_text(value: Any) -> str | None:
    """Text of a scalar the way Quarto (JavaScript) prints it; None for non-scalars."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        text = repr(value)
        return re.sub(r"e([+-])0*(\d)", r"e\1\2", text)
    if isinstance(value, str):
        return value
    if value is not None and hasattr(value, "isoformat"):  # YAML dates
        return value.isoformat()
    return None


def _split_args(inner: str) -> tuple[str, list[str]]:
    parts = inner.split()
    if not parts:
        return "", []
    return parts[0], parts[1:]


def _resolve_one(inner: str, ctx: ShortcodeContext, file: Path, line: int | None) -> str:
    name, args = _split_args(inner)
    if name == "var":
        if len(args) != 1:
            raise RenderError(f"`var` shortcode takes exactly one key, got {inner!r}",
                              file=file, line=line)
        found, value = lookup(ctx.variables, args[0])
        if not found:
            raise RenderError(f"unknown variable {args[0]!r} in {{{{< var {args[0]} >}}}} "
                              f"(not in _variables.yml; Quarto would print ?var:{args[0]})",
                              file=file, line=line)
        text = scalar_text(value)
        if text is None:
            raise RenderError(f"variable {args[0]!r} is a {type(value).__name__}, not a "
                              "single value (use a deeper key)", file=file, line=line)
        return text
    if name == "meta":
        if len(args) != 1:
            raise RenderError(f"`meta` shortcode takes exactly one key, got {inner!r}",
                              file=file, line=line)
        found, value = lookup(ctx.metadata, args[0])
        text = scalar_text(value) if found else None
        if text is None:
            raise RenderError(f"unknown or non-scalar metadata key {args[0]!r} in "
                              f"{{{{< meta {args[0]} >}}}}", file=file, line=line)
        return text
    if name == "embed":
        if len(args) != 1:
            raise RenderError("`embed` takes one argument, path.ipynb#label (options such as "
                              f"echo= are not supported here), got {inner!r}",
                              file=file, line=line)
        if ctx.embed is None:
            raise RenderError("`embed` is not allowed here", file=file, line=line)
        return _BLOCK_OPEN + ctx.embed(args[0], file, line) + _BLOCK_CLOSE
    if name == "pagebreak":
        if ctx.fmt == "typst":
            raw = "```{=typst}\n#pagebreak()\n```"
        else:
            raw = ("```{=html}\n<div class=\"page-break\" style=\"page-break-after: always;\">"
                   "</div>\n```")
        return _BLOCK_OPEN + raw + _BLOCK_CLOSE
    raise RenderError(f"unsupported shortcode {{{{< {inner} >}}}} (this renderer knows var, "
                      "meta, embed, pagebreak)", file=file, line=line)


def resolve_text(text: str, ctx: ShortcodeContext, file: Path, line: int | None,
                 *, allow_blocks: bool = False) -> str:
    """Resolve every shortcode in `text` (one source line, or a metadata string)."""
    escapes: list[str] = []

    def _stash(m: re.Match[str]) -> str:
        escapes.append("{{<" + m.group(1) + ">}}")
        return f"\ue001{len(escapes) - 1}\ue002"

    text = _ESCAPED.sub(_stash, text)
    for _ in range(100):
        m = _INNERMOST.search(text)
        if m is None:
            break
        text = text[: m.start()] + _resolve_one(m.group(1), ctx, file, line) + text[m.end():]
    if "{{<" in text or ">}}" in text:
        raise RenderError("unbalanced shortcode delimiters ({{< without >}} on the same line)",
                          file=file, line=line)
    if _BLOCK_OPEN in text:
        if not allow_blocks:
            raise RenderError("a block shortcode (embed, pagebreak) cannot be used here",
                              file=file, line=line)
        before, _, rest = text.partition(_BLOCK_OPEN)
        block, _, after = rest.partition(_BLOCK_CLOSE)
        if before.strip() or after.strip() or _BLOCK_OPEN in after:
            raise RenderError("embed/pagebreak must stand alone on its own line",
                              file=file, line=line)
        indent = before
        text = "\n" + "\n".join(indent + ln if ln else ln for ln in block.split("\n")) + "\n"
    return re.sub(r"\ue001(\d+)\ue002", lambda m: escapes[int(m.group(1))], text)


def resolve_markdown(body: str, ctx: ShortcodeContext, file: Path, first_line: int) -> str:
    """Resolve shortcodes line by line in a markdown body (error lines are file lines)."""
    out: list[str] = []
    fence: str | None = None
    skip_fence = False
    for offset, line in enumerate(body.split("\n")):
        lineno = first_line + offset
        fm = _FENCE.match(line)
        if fence is None and fm:
            fence = fm.group(2)
            skip_fence = "shortcodes=false" in fm.group(3).replace(" ", "")
            out.append(line if skip_fence else resolve_text(line, ctx, file, lineno))
            continue
        if fence is not None:
            if fm and fm.group(2)[0] == fence[0] and len(fm.group(2)) >= len(fence) \
                    and not fm.group(3).strip():
                fence = None
                out.append(line)
                continue
            out.append(line if skip_fence else resolve_text(line, ctx, file, lineno))
            continue
        out.append(resolve_text(line, ctx, file, lineno, allow_blocks=True))
    return "\n".join(out)


def resolve_metadata(value: Any, ctx: ShortcodeContext, file: Path, source: str) -> Any:
    """Resolve shortcodes inside metadata strings (error line: first occurrence in `source`)."""
    if isinstance(value, dict):
        return {k: resolve_metadata(v, ctx, file, source) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_metadata(v, ctx, file, source) for v in value]
    if isinstance(value, str) and "{{<" in value:
        idx = source.find(value.split("{{<", 1)[1].split(">}}", 1)[0])
        line = source.count("\n", 0, idx) + 1 if idx >= 0 else None
        return resolve_text(value, ctx, file, line)
    return value
