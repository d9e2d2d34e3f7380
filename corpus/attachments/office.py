"""Word-processor and spreadsheet files: DOCX, XLSX and OpenDocument, read within the caps.

* DOCX and ODT/ODS/ODP text is streamed from its XML part
  (:mod:`corpus.attachments.xmlstream`), never built into a tree, and stopped at
  the character cap.  python-docx would load the whole part as an lxml tree: a
  886 KB DOCX inflating to 290 MB of XML took 5.5 GB that way.
* ODF repeat counts (``<text:s text:c="1500000000"/>``, repeated cells and
  rows) are clamped to ``max_repeat``.
* XLSX goes through openpyxl in read-only mode with the sheet's declared
  dimension ignored (``reset_dimensions``): a sheet declaring ``A1:XFD1048576``
  otherwise makes openpyxl pad 17 billion blank cells.  Rows, columns and cells
  read are capped.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from xml.parsers import expat

from corpus.attachments import xmlstream
from corpus.attachments.limits import Budget, CapReached
from corpus.attachments.result import Extraction, bad, joined, method_of, ok, short
from corpus.attachments.zipguard import ZipProblem, open_zip

_W = {"http://schemas.openxmlformats.org/wordprocessingml/2006/main", "http://purl.oclc.org/ooxml/wordprocessingml/main"}
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"


def _split(tag: str) -> tuple[str, str]:
    ns, _, local = tag.rpartition(" ")
    return ns, local


class _Blocks:
    """Paragraphs and table rows as lines, shared by the DOCX and ODF readers.

    Paragraphs can nest (text boxes, frames); a paragraph inside a table cell
    becomes part of the cell, and a row becomes one tab-separated line.
    """

    def __init__(self, sink: xmlstream.TextSink) -> None:
        self.sink = sink
        self.paras: list[list[str]] = []
        self.rows: list[list[str]] = []
        self.cells: list[list[str]] = []
        self.skip = 0  # depth inside a subtree whose text is not wanted

    def put(self, text: str) -> None:
        if self.paras and not self.skip:
            self.paras[-1].append(text)
            self.sink.grow(len(text))

    def end_para(self) -> None:
        text = "".join(self.paras.pop())
        if self.cells:
            self.cells[-1].append(text)
        else:
            self.sink.add(text)

    def end_cell(self, joiner: str, repeat: int = 1) -> None:
        text = joiner.join(self.cells.pop())
        if self.rows:
            self.rows[-1].extend([text] * repeat)
            self.sink.grow(len(text) * (repeat - 1))

    def end_row(self, repeat: int = 1) -> None:
        cells = self.rows.pop()
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            return
        line = "\t".join(cells)
        for n in range(repeat):
            if n:
                self.sink.grow(len(line))
            if self.cells:
                self.cells[-1].append(line)
            else:
                self.sink.add(line)

    def flush(self) -> None:
        """After a cap: keep what the open paragraphs and cells hold, without further checks."""
        pending = ["".join(p) for p in self.paras] + ["\t".join(c) for c in self.cells] + ["\t".join(r) for r in self.rows]
        self.sink.lines.extend(t for t in pending if t)


class _DocxHandler(_Blocks):
    def __init__(self, sink: xmlstream.TextSink) -> None:
        super().__init__(sink)
        self.in_text = 0
        self.in_run = 0

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.skip:
            self.skip += 1
            return
        ns, local = _split(tag)
        if ns == _MC and local == "Fallback":  # the same content again, for older readers
            self.skip = 1
        elif ns not in _W:
            return
        elif local == "p":
            self.paras.append([])
        elif local == "r":
            self.in_run += 1
        elif local == "t":
            self.in_text += 1
        elif self.in_run and local == "tab":  # (a w:tab outside a run is a tab stop, not a character)
            self.put("\t")
        elif self.in_run and local in ("br", "cr"):
            self.put("\n")
        elif self.in_run and local == "noBreakHyphen":
            self.put("-")
        elif local == "tr":
            self.rows.append([])
        elif local == "tc":
            self.cells.append([])

    def end(self, tag: str) -> None:
        if self.skip:
            self.skip -= 1
            return
        ns, local = _split(tag)
        if ns not in _W:
            return
        if local == "p" and self.paras:
            self.end_para()
        elif local == "r":
            self.in_run -= 1
        elif local == "t":
            self.in_text -= 1
        elif local == "tc" and self.cells:
            self.end_cell("\n")
        elif local == "tr" and self.rows:
            self.end_row()
        elif local == "tbl" and not self.cells:
            self.sink.add("")

    def data(self, text: str) -> None:
        if self.in_text:
            self.put(text)


class _OdfHandler(_Blocks):
    def __init__(self, sink: xmlstream.TextSink, max_repeat: int) -> None:
        super().__init__(sink)
        self.max_repeat = max_repeat
        self.row_repeats: list[int] = []
        self.cell_repeats: list[int] = []

    def _count(self, attrs: dict[str, str], name: str) -> int:
        try:
            value = int(attrs.get(name, "1"))
        except ValueError:
            return 1
        return max(1, min(value, self.max_repeat))

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.skip:
            self.skip += 1
            return
        ns, local = _split(tag)
        if ns == _TEXT:
            if local in ("p", "h"):
                self.paras.append([])
            elif local == "s":
                self.put(" " * self._count(attrs, f"{_TEXT} c"))
            elif local == "tab":
                self.put("\t")
            elif local == "line-break":
                self.put("\n")
            elif local == "note":  # footnote bodies would interrupt the sentence they hang from
                self.skip = 1
        elif ns == _TABLE:
            if local == "table-row":
                self.rows.append([])
                self.row_repeats.append(self._count(attrs, f"{_TABLE} number-rows-repeated"))
            elif local in ("table-cell", "covered-table-cell"):
                self.cells.append([])
                self.cell_repeats.append(self._count(attrs, f"{_TABLE} number-columns-repeated"))

    def end(self, tag: str) -> None:
        if self.skip:
            self.skip -= 1
            return
        ns, local = _split(tag)
        if ns == _TEXT and local in ("p", "h") and self.paras:
            self.end_para()
        elif ns == _TABLE and local in ("table-cell", "covered-table-cell") and self.cells:
            self.end_cell(" ", self.cell_repeats.pop())
        elif ns == _TABLE and local == "table-row" and self.rows:
            self.end_row(self.row_repeats.pop())

    def data(self, text: str) -> None:
        self.put(text)


def _stream_parts(
    data: bytes,
    choose: Callable[[list[str]], list[str]],
    make_handler: Callable[[xmlstream.TextSink], _DocxHandler | _OdfHandler],
    budget: Budget,
    label: str,
    method: str,
) -> Extraction:
    """Stream the XML parts ``choose`` picks (main part first) through fresh handlers into one text."""
    try:
        zf = open_zip(data, budget)
    except ZipProblem as problem:
        return bad(problem.status, problem.reason, method)
    sink = xmlstream.TextSink(budget)
    note = None
    seen: set[str] = set()
    with zf:
        names = zf.namelist()
        parts = choose(names)
        for part in parts:
            if part not in names:
                if part == parts[0]:
                    return bad("corrupt", f"not a readable {label} file (no {part})", method)
                continue
            handler = make_handler(sink)
            before = len(sink.lines)
            try:
                with zf.open(part) as fh:
                    xmlstream.stream(fh, handler, budget)
            except CapReached as cap:
                handler.flush()
                note = str(cap)
                break
            except (expat.ExpatError, xmlstream.XmlRefused) as exc:
                if part == parts[0]:
                    return bad("corrupt", f"not a readable {label} file ({short(exc)})", method)
                continue  # a broken header or footer spoils only itself
            except (RuntimeError, NotImplementedError) as exc:  # encrypted or unknown compression
                return bad("corrupt", f"not a readable {label} file ({short(exc)})", method)
            # Headers and footers repeat across sections: keep each distinct one once.
            added = "\n".join(sink.lines[before:])
            if part != parts[0] and added in seen:
                del sink.lines[before:]
            seen.add(added)
    return ok(sink.text(), method, reason=note, max_chars=budget.limits.max_chars)


def _natural(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def _docx_parts(names: list[str]) -> list[str]:
    extra = [n for n in names if n.startswith(("word/header", "word/footer")) and n.endswith(".xml")]
    return ["word/document.xml", *sorted(extra, key=_natural)]


def docx(data: bytes, budget: Budget) -> Extraction:
    method = "docx stream (stdlib zipfile+expat)"
    return _stream_parts(data, _docx_parts, _DocxHandler, budget, "DOCX", method)


def odf(data: bytes, budget: Budget) -> Extraction:
    method = "odf content.xml stream (stdlib zipfile+expat)"
    return _stream_parts(
        data, lambda _names: ["content.xml"], lambda sink: _OdfHandler(sink, budget.limits.max_repeat),
        budget, "OpenDocument", method,
    )


def xlsx(data: bytes, budget: Budget) -> Extraction:
    import openpyxl

    method = method_of("openpyxl")
    limits = budget.limits
    try:
        open_zip(data, budget).close()  # which also proves no part inflates past its declared size
    except ZipProblem as problem:
        return bad(problem.status, problem.reason, method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about every unusual style or extension
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except MemoryError:
            raise
        except Exception as exc:
            return bad("corrupt", f"not a readable XLSX file ({short(exc)})", method)
        out: list[str] = []
        size = 0
        cells = 0
        notes: list[str] = []
        wide = False
        try:
            for sheet in book.worksheets:
                out.append(f"# {sheet.title}")
                # The declared dimension (e.g. A1:XFD1048576) is the file's claim, not its content.
                sheet.reset_dimensions()
                for row in sheet.iter_rows(values_only=True):
                    cells += max(len(row), 1)
                    if cells > limits.max_cells:
                        notes.append(f"cut at {limits.max_cells:,} cells")
                        break
                    if budget.out_of_time():
                        notes.append(f"stopped after {limits.soft_seconds:g} s (time budget)")
                        break
                    if len(row) > limits.max_columns:
                        wide = True
                        row = row[: limits.max_columns]
                    values = ["" if v is None else str(v) for v in row]
                    while values and values[-1] == "":
                        values.pop()
                    if values:
                        line = "\t".join(values)
                        out.append(line)
                        size += len(line) + 1
                        if size > limits.max_chars:
                            break  # ok() cuts the text and says so
                if notes or size > limits.max_chars:
                    break
                out.append("")
        finally:
            book.close()
    if wide:
        notes.append(f"rows cut at {limits.max_columns:,} columns")
    return ok("\n".join(out), method, reason=joined(*notes), max_chars=limits.max_chars)
