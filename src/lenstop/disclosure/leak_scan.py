"""The leak scan: no patient id and no individual date of an extract in a shareable file.

One of the three rules for anything built from a registry extract (the others: where the
extract and its outputs may live, `lenstop.disclosure.placement`; counts below the minimum cell size
shown as '<k', `lenstop.disclosure.suppression`). `scan`
   reads every output the way a person would (PDF text, SVG text, embedded SVG in HTML,
   notebook sources and outputs, JSON, YAML, logs) and reports where a value was found,
   never the value itself.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lenstop import config
from lenstop.errors import PrivacyError

# ------------------------------------------------------------------ what a file says

_DATA_URI = re.compile(r"data:([\w.+/-]+)((?:;[\w.+-]+=[\w.+-]+)*)(;base64)?,([^\"'\s)>]+)")
_IMAGE_MIME = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _html_text(text: str) -> Iterator[tuple[str, str]]:
    """The page with binary data URIs cut out, then each embedded text resource (SVG...)."""
    embedded: list[str] = []

    def cut(m: re.Match) -> str:
        mime, b64, payload = m.group(1), m.group(3), m.group(4)
        if mime.startswith(("image/svg", "text/")) or mime.endswith(("json", "xml")):
            try:
                raw = base64.b64decode(payload) if b64 else payload.encode()
                embedded.append(raw.decode("utf-8", errors="replace"))
            except ValueError:
                embedded.append(payload)
        return "data:"

    yield "", _DATA_URI.sub(cut, text)
    for i, part in enumerate(embedded, 1):
        yield f"embedded resource {i}", part


def _pdf_text(path: Path) -> Iterator[tuple[str, str]]:
    import pypdf

    reader = pypdf.PdfReader(path)
    yield "metadata", " ".join(str(v) for v in (reader.metadata or {}).values())
    for i, page in enumerate(reader.pages, 1):
        text = (page.extract_text() or "").replace("\xa0", " ")
        yield f"page {i}", text.replace("-\n", "-")  # ids broken at a line end


def _png_text(data: bytes) -> Iterator[tuple[str, str]]:
    """Text chunks (tEXt, zTXt, iTXt) of a PNG: its only text; the pixels cannot be read."""
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"tEXt":
            yield "text chunk", body.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            yield "text chunk", key.decode("latin-1") + " " + zlib.decompress(
                rest[1:]).decode("latin-1", errors="replace")
        elif kind == b"iTXt":
            yield "text chunk", body.decode("utf-8", errors="replace")
        pos += 12 + length


def _notebook_text(text: str) -> Iterator[tuple[str, str]]:
    nb = json.loads(text)
    yield "metadata", json.dumps(nb.get("metadata", {}), ensure_ascii=False)
    for i, cell in enumerate(nb.get("cells", []), 1):
        src = cell.get("source", "")
        yield f"cell {i}", "".join(src) if isinstance(src, list) else src
        for out in cell.get("outputs", []):
            for key in ("text", "traceback", "evalue", "ename"):
                if key in out:
                    value = out[key]
                    yield f"cell {i} output", "\n".join(value) if isinstance(value, list) \
                        else str(value)
            for mime, value in (out.get("data") or {}).items():
                if mime in _IMAGE_MIME:
                    continue  # raster pixels: no text to find
                value = "".join(value) if isinstance(value, list) else value
                value = value if isinstance(value, str) else json.dumps(value)
                yield from ((f"cell {i} output {w}".strip(), t) for w, t in _html_text(value))


def texts(path: Path) -> Iterator[tuple[str, str]]:
    """(where, text) pieces of one file, read as a person would read the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        yield from _pdf_text(path)
        return
    data = path.read_bytes()
    if suffix == ".png" or data.startswith(b"\x89PNG"):
        yield from _png_text(data)
        return
    text = data.decode("utf-8", errors="replace")
    if suffix == ".ipynb":
        try:
            yield from _notebook_text(text)
            return
        except ValueError:
            pass  # not a readable notebook: scan it as text
    yield from _html_text(text)


# ------------------------------------------------------------------ what counts as a leak

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_FORMS = (
    # (pattern, order of year/month/day groups, or a month-name form)
    (re.compile(r"(?<![\d.])(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?![\d])"), "ymd"),
    (re.compile(r"(?<![\d.])(\d{1,2})([-/.])(\d{1,2})\2(\d{4})(?![\d])"), "dmy|mdy"),
    (re.compile(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?[\s-]+" + _MON + r"[\s-]+(\d{4})(?!\d)",
                re.I), "d mon y"),
    (re.compile(_MON + r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)", re.I), "mon d y"),
)


def _date(y: str, m: str, d: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def dates_in(text: str) -> Iterator[tuple[dt.date, int]]:
    """Every calendar date written in `text` (ISO, d/m/y, m/d/y, '19 Jul 2013', 'July 19,
    2013'), with its offset; ambiguous d/m/y forms yield both readings."""
    for pattern, order in _DATE_FORMS:
        for m in pattern.finditer(text):
            g = m.groups()
            if order == "ymd":
                found = [_date(g[0], g[2], g[3])]
            elif order == "dmy|mdy":
                found = [_date(g[3], g[2], g[0]), _date(g[3], g[0], g[2])]
            elif order == "d mon y":
                found = [_date(g[2], str(_MONTHS.index(g[1].lower()[:3]) + 1), g[0])]
            else:
                found = [_date(g[2], str(_MONTHS.index(g[0].lower()[:3]) + 1), g[1])]
            for day in {d for d in found if d}:
                yield day, m.start()


_TOKEN = re.compile(r"(?<![\w-])(?<!\d\.)[A-Za-z0-9](?:[\w-]*[A-Za-z0-9])?")
_PLAIN_ID = re.compile(r"[A-Za-z0-9](?:[\w-]*[A-Za-z0-9])?")


def distinctive(patient_id: str) -> bool:
    """An id specific enough to search for: letters and digits (5+ characters), or 6+ digits.

    Short or purely numeric short ids ('17', '1234') occur in any output as ordinary numbers;
    they cannot be told apart from counts and coordinates, so they are not searched.
    """
    pid = str(patient_id).strip()
    if pid.isdigit():
        return len(pid) >= 6
    return len(pid) >= 5 and any(c.isdigit() for c in pid) and any(c.isalpha() for c in pid)


def _id_hits(text: str, ids: set[str], max_parts: int) -> Iterator[tuple[str, int]]:
    """Ids standing as whole tokens in `text` (also inside longer tokens split at - or _)."""
    tokens = set(_TOKEN.findall(text))
    hits = tokens & ids
    if max_parts > 1:
        for token in tokens - hits:
            if "-" not in token and "_" not in token:
                continue
            parts = re.split(r"([-_])", token)  # words and their separators
            words = len(parts[::2])
            for i in range(words):
                for j in range(i + 1, min(words, i + max_parts) + 1):
                    if (candidate := "".join(parts[2 * i:2 * j - 1])) in ids:
                        hits.add(candidate)
    for value in hits:
        yield value, text.find(value)


@dataclass(frozen=True)
class Leak:
    """A row-level value found in an output file. `format()` names the place, never the value."""

    file: Path
    kind: str  # "patient id", "date" or "canary"
    where: str
    value: str = field(repr=False, compare=True)

    def format(self) -> str:
        return f"{self.file}: {self.where}: a {self.kind} of the extract"


COMMON_DATE = 5
"""A date shared by this many patients or more is not an individual date (see Needles)."""


@dataclass
class Needles:
    """What to look for: the extract's patient ids and individual dates, and any canaries."""

    ids: set[str] = field(default_factory=set)
    dates: set[dt.date] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)
    skipped_ids: int = 0
    """Ids too generic to search for (see `distinctive`)."""

    @classmethod
    def from_extract(cls, data: str | Path, sheet: str | None = None,
                     common: int = COMMON_DATE, work: str | Path | None = None) -> Needles:
        """Patient ids and the individual dates of a (valid) extract.

        A date shared by `common` or more patients (an administrative censoring date, a
        data cut-off) identifies nobody and may be quoted, so it is not searched for.
        `work` is a build's `.build/` folder, whose cached cohort spares a validation.
        """
        from collections import Counter

        import pandas as pd

        from lenstop.cohort.cache import load_or_validate
        from lenstop.ingest.schema import DATE_COLUMNS

        cohort, _ = load_or_validate(data, work, sheet)
        ids = {str(i).strip() for i in cohort["patient_id"].dropna()}
        keep = {i for i in ids if distinctive(i)}
        cells = cohort[list(DATE_COLUMNS)].reset_index(drop=True).melt(ignore_index=False)
        cells = cells.dropna().assign(value=lambda f: pd.to_datetime(f["value"]).dt.date)
        patients = cells.reset_index().drop_duplicates(["index", "value"])["value"]
        dates = {d for d, n in Counter(patients).items() if n < common}
        return cls(ids=keep, dates=dates, skipped_ids=len(ids) - len(keep))


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def scan(paths: Iterable[str | Path], needles: Needles,
         allow_dates: Iterable[dt.date] = ()) -> list[Leak]:
    """Every place in `paths` (files, or folders read recursively) holding a needle.

    Patient ids are matched as whole tokens, dates in any common written form, canary
    strings anywhere (also across line breaks). `allow_dates` are dates that may appear
    for other reasons (the report date, dates quoted in the manuscript sources).
    """
    dates = set(needles.dates) - set(allow_dates)
    max_parts = max((len(re.split(r"[-_]", i)) for i in needles.ids), default=1)
    odd_ids = {i for i in needles.ids if not _PLAIN_ID.fullmatch(i)}
    leaks: list[Leak] = []
    for path in _files(paths):
        for where, text in texts(path):
            found: dict[tuple[str, str], int] = {}
            for value, pos in _id_hits(text, needles.ids, max_parts):
                found.setdefault(("patient id", value), pos)
            for value in odd_ids:  # ids with spaces or punctuation: plain substring search
                if (pos := text.find(value)) >= 0:
                    found.setdefault(("patient id", value), pos)
            if dates:
                for day, pos in dates_in(text):
                    if day in dates:
                        found.setdefault(("date", day.isoformat()), pos)
            if needles.strings:
                flat = re.sub(r"\s+", "", text)
                for value in needles.strings:
                    if (pos := text.find(value)) >= 0 or re.sub(r"\s+", "", value) in flat:
                        found.setdefault(("canary", value), max(pos, 0))
            for (kind, value), pos in sorted(found.items(), key=lambda kv: kv[1]):
                place = f"{where}, line {_line(text, pos)}" if where else \
                    f"line {_line(text, pos)}"
                leaks.append(Leak(Path(path), kind, place, value))
    return leaks


def _files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file())
        elif p.is_file():
            yield p


def allowed_dates(sources: Iterable[str | Path]) -> set[dt.date]:
    """Dates written in the manuscript sources, plus the report date: not from the data."""
    allowed = {config.build_date()}
    for path in _files(sources):
        for _where, text in texts(path):
            allowed |= {day for day, _pos in dates_in(text)}
    return allowed


def check(paths: Iterable[str | Path], data: str | Path, sources: Iterable[str | Path] = (),
          sheet: str | None = None, work: str | Path | None = None) -> int:
    """Raise PrivacyError if a patient id or date of `data` appears in `paths`; return the
    number of files scanned (`work`: a build's `.build/` folder, see Needles.from_extract)."""
    files = list(_files(paths))
    needles = Needles.from_extract(data, sheet=sheet, work=work)
    if needles.skipped_ids:
        print(f"  note: {needles.skipped_ids} patient ids are too short or plain to search for "
              "(see privacy.distinctive); check those outputs by eye")
    leaks = scan(files, needles, allow_dates=allowed_dates(sources))
    if leaks:
        shown = [leak.format() for leak in leaks[:20]]
        more = f"\n  ... and {len(leaks) - 20} more" if len(leaks) > 20 else ""
        raise PrivacyError(
            f"{len(leaks)} patient-level value(s) of {Path(data).name} found in the outputs; "
            "nothing was published:\n  " + "\n  ".join(shown) + more)
    return len(files)
