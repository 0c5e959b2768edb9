"""larimar-small's corpus: English prose that Debian ships, as documents of sentences in reading order.

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`, which also installs the packages named here).
Nothing is downloaded: every source is a file some Debian package installs.

Sources (each yields documents; a document is a list of sentences in reading order, so that consecutive sentences
can be packed into one segment as the recall pipeline's segmenter packs them):
  fortunes   /usr/share/games/fortunes (fortunes, fortunes-min, fortune-anarchism, fortunes-bofh-excuses): one entry
  man        /usr/share/man/man{1,5,8} roff sources: one page
  pydoc      docstrings of the Python code under /usr/lib/python3.11 and /usr/lib/python3/dist-packages: one module
  pyhtml     the Python 3.11 documentation's reST sources (python3.11-doc, html/_sources): one file
  info       GNU info manuals under /usr/share/info: one file
  doc        README/*.txt/*.md files under /usr/share/doc (changelogs and copyright files skipped): one file
  licenses   /usr/share/common-licenses: one licence
  debref     the Debian Reference (debian-reference-en, HTML): one chapter

Held out, whole sources (evaluation only; none of their sentences is trained on): the fortune files science, pets,
sports, medicine (as larimar-tiny); the Python documentation's howto/ folder; the Debian Reference (the whole
package); the GNU coding standards (gnu-standards, standards.info). HELDOUT below is the rule the code applies.
"""
from __future__ import annotations

import gzip
import html.parser
import re
from pathlib import Path

import larimar_tiny as L

PYHTML = Path("/usr/share/doc/python3.11/html/_sources")
DEBREF = Path("/usr/share/doc/debian-reference-en/docs")
INFO = Path("/usr/share/info")
DOC = Path("/usr/share/doc")
LICENSES = Path("/usr/share/common-licenses")
MAN_SECTIONS = ("/usr/share/man/man1", "/usr/share/man/man5", "/usr/share/man/man8")

# Words that belong to evaluation needles and tasks: a sentence that contains one is never trained on.
NEEDLE_WORDS = ("pass key", "passkey", "special magic", "san francisco", "dolores park")


def heldout(source: str, name: str) -> bool:
    """Whole sources kept for evaluation."""
    return ((source == "fortunes" and name in L.HELDOUT_FILES) or (source == "pyhtml" and name.startswith("howto/"))
            or source == "debref" or (source == "info" and name.startswith("standards.info")))


_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_OK = re.compile(r"^[A-Za-z0-9 .,;:!?'\"()\-&$%/#@+=*<>\[\]_~]+$")


def sentences(paragraph: str):
    """A paragraph's sentences, one line each: 3-60 words, plain ASCII prose, starting with a capital or digit."""
    flat = re.sub(r"\s+", " ", paragraph).strip()
    out = []
    for s in _SENT_END.split(flat):
        s = s.strip()
        words = s.split(" ")
        if not (3 <= len(words) <= 60 and 12 <= len(s) <= 400 and _OK.match(s) and re.search(r"[a-z]{2}", s)):
            continue
        if not (s[0].isupper() or s[0].isdigit() or s[0] in "\"'("):
            continue
        low = s.lower()
        if any(w in low for w in NEEDLE_WORDS):
            continue
        # mostly symbols (tables, option lists, code): not prose
        if sum(c.isalpha() or c == " " for c in s) < 0.8 * len(s):
            continue
        out.append(s)
    return out


def _doc(paragraphs):
    return [s for p in paragraphs for s in sentences(p)]


def _read(path: Path) -> str:
    b = path.read_bytes()
    if path.suffix == ".gz":
        b = gzip.decompress(b)
    return b.decode("utf-8", "replace")


def _blank_paragraphs(text: str, code_indent=4):
    """Paragraphs split at blank lines; indented blocks (code, tables) and bullet-only lines dropped."""
    paras, cur = [], []
    for line in text.splitlines():
        if not line.strip():
            if cur:
                paras.append(" ".join(cur))
            cur = []
            continue
        if len(line) - len(line.lstrip(" ")) >= code_indent or line.lstrip().startswith(("*", "$ ", "#", "|", "+-")):
            if cur:
                paras.append(" ".join(cur))
            cur = []
            continue
        cur.append(line.strip())
    if cur:
        paras.append(" ".join(cur))
    return paras


# --------------------------------------------------------------------------------------------------- sources
def fortunes():
    for path in sorted(L.FORTUNE_DIR.iterdir()):
        if not path.is_file() or path.suffix in (".dat", ".u8") or path.name in L.NON_ENGLISH \
                or path.name.startswith("mario."):
            continue
        for i, entry in enumerate(L._fortune_entries(path)):
            lines = [s.strip() for s in entry.splitlines() if s.strip() and not s.strip().startswith("--")]
            yield path.name, _doc([" ".join(lines)])


def man_pages():
    for root in MAN_SECTIONS:
        for path in sorted(Path(root).glob("*.gz")):
            try:
                paras = L.man_page_paragraphs(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
            except (OSError, EOFError):
                continue
            yield path.name, _doc(paras)


def pydoc():
    for path, paras in L.docstring_paragraphs():
        yield str(path), _doc(paras)


_RST_ROLE = re.compile(r":[a-z:]+:`~?!?([^`<]*?)(?:\s*<[^>]*>)?`")


def _rst_text(text: str):
    lines = []
    for line in text.splitlines():
        if line.startswith("..") or re.fullmatch(r"\s*[=\-~^\"'`#*+]{3,}\s*", line) or line.strip().startswith(":"):
            lines.append("")
            continue
        line = _RST_ROLE.sub(r"\1", line)
        line = re.sub(r"``([^`]*)``", r"\1", line)
        line = re.sub(r"`([^`<]*?)(?:\s*<[^>]*>)?`_*", r"\1", line)
        line = re.sub(r"\*\*([^*]+)\*\*|\*([^*]+)\*", lambda m: m.group(1) or m.group(2), line)
        lines.append(line)
    return _blank_paragraphs("\n".join(lines), code_indent=3)


def pyhtml():
    for path in sorted(PYHTML.rglob("*.rst.txt")):
        yield str(path.relative_to(PYHTML)), _doc(_rst_text(path.read_text(encoding="utf-8", errors="replace")))


def info():
    for path in sorted(INFO.glob("*.info*")):
        text = re.sub(r"\x1f[^\n]*\n(File:[^\n]*\n)?", "\n\n", _read(path))
        text = re.sub(r"^\* Menu:.*?(?=\n\n)", "", text, flags=re.M | re.S)
        text = re.sub(r"\*[Nn]ote\s+([^:]*)::", r"\1", text)
        yield path.name, _doc(_blank_paragraphs(text))


def doc_files():
    for path in sorted(DOC.rglob("*")):
        name = path.name.lower()
        if not path.is_file() or path.is_symlink() or "changelog" in name or "copyright" in name or \
                "python3.11/html" in str(path) or "debian-reference" in str(path):
            continue
        stem = name[:-3] if name.endswith(".gz") else name
        if not (stem.startswith("readme") or stem.endswith((".txt", ".md")) or stem in ("news", "todo", "faq")):
            continue
        try:
            text = _read(path)
        except (OSError, EOFError, UnicodeError):
            continue
        yield str(path.relative_to(DOC)), _doc(_blank_paragraphs(re.sub(r"[`#]+", "", text)))


def licenses():
    for path in sorted(LICENSES.iterdir()):
        if path.is_file() and not path.is_symlink():
            yield path.name, _doc(_blank_paragraphs(path.read_text(errors="replace")))


class _Paragraphs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.paras, self.cur, self.depth = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("pre", "code", "script", "style", "table"):
            self.depth += 1
        if tag in ("p", "li", "div", "h1", "h2", "h3", "td", "br"):
            self.flush()

    def handle_endtag(self, tag):
        if tag in ("pre", "code", "script", "style", "table"):
            self.depth = max(0, self.depth - 1)
        if tag in ("p", "li", "div", "h1", "h2", "h3", "td"):
            self.flush()

    def handle_data(self, data):
        if self.depth == 0:
            self.cur.append(data)

    def flush(self):
        if self.cur:
            self.paras.append("".join(self.cur))
        self.cur = []


def debref():
    for path in sorted(DEBREF.glob("*.en.html")):
        p = _Paragraphs()
        p.feed(path.read_text(errors="replace"))
        p.flush()
        yield path.name, _doc(p.paras)


SOURCES = {"fortunes": fortunes, "man": man_pages, "pydoc": pydoc, "pyhtml": pyhtml, "info": info,
           "doc": doc_files, "licenses": licenses, "debref": debref}


def load_documents():
    """{'train': [[sentence, ...], ...], 'heldout': [...], 'sources': {source: [n_train_docs, n_heldout_docs]}}.
    Sentences that occur in a held-out document are removed from the training documents; repeated training
    sentences are kept once (the first occurrence in source order)."""
    train, held, count = [], [], {}
    for name, fn in SOURCES.items():
        c = count.setdefault(name, [0, 0])
        for doc_name, doc in fn():
            if not doc:
                continue
            if heldout(name, doc_name):
                held.append(doc)
                c[1] += 1
            else:
                train.append(doc)
                c[0] += 1
    held_set = {s for d in held for s in d}
    seen = set()
    out = []
    for d in train:
        kept = [s for s in d if s not in held_set and not (s in seen or seen.add(s))]
        if kept:
            out.append(kept)
    hseen = set()
    hout = []
    for d in held:
        kept = [s for s in d if not (s in hseen or hseen.add(s))]
        if kept:
            hout.append(kept)
    return {"train": out, "heldout": hout, "sources": count}
