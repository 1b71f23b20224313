"""`lockgen matrix --html` (issue 16 item 5): the page for a matrix document written here by hand (the fields of
docs/json.md), parsed back with html.parser: each cell's status and values, words next to every colour, a legend,
the fleet and lock it came from, nothing loaded from elsewhere, every value escaped."""

from __future__ import annotations

from html.parser import HTMLParser

from lockgen.ops.report_html import render_matrix

LOCK_SHA = "5f" * 32
DOC = {
    "schema": 1,
    "project": "demo",
    "fleet": {"driver": "580.65.06", "gpus": [["T4", "7.5"], ["H100", "9.0"]], "policy": "toolkit"},
    "lock": {"file": "uv.lock", "sha256": LOCK_SHA, "exclude_newer": "2026-11-01T00:00:00Z"},
    "gpus": None,
    "verify": True,
    "rows": [
        {
            "driver": "535",
            "window": "11.8-12.2",
            "window_cuda": ["11.8", "12.0", "12.1", "12.2"],
            "status": "failed",
            "kind": "no-solution",
            "error": "serve needs vllm>=0.8.5.post1, a CUDA 12.4 build",
            "members": {},
            "environments": [],
            "runs": None,
        },
        {
            "driver": "570",
            "window": "11.8-12.8",
            "window_cuda": ["11.8", "12.8"],
            "status": "ok",
            "kind": None,
            "error": None,
            "members": {},
            "environments": [
                {
                    "environment": "serve",
                    "project": "serve",
                    "cuda": "12.8",
                    "torch": "2.9.0",
                    "packages": {"torch": "2.9.0", "vllm": "0.11.2"},
                    "in_window": True,
                    "verify": "ok (no GPU here)",
                },
                {
                    "environment": "train",
                    "project": "train",
                    "cuda": "12.8",
                    "torch": "2.10.0",
                    "packages": {"torch": "2.10.0", "unsloth": "2026.10.9"},
                    "in_window": True,
                    "verify": "broken: import - <script>alert(1)</script>",
                },
            ],
            "runs": {"serve": "ok (no GPU here)", "train": "broken: import - <script>alert(1)</script>"},
        },
        {
            "driver": "580",
            "window": "11.8-13.0",
            "window_cuda": ["11.8", "13.0"],
            "status": "outside-window",
            "kind": "outside-window",
            "error": "resolved outside its own window 11.8-13.0: train (linux x86_64): CUDA 13.1",
            "members": {},
            "environments": [
                {
                    "environment": "serve",
                    "project": "serve",
                    "cuda": "13.0",
                    "torch": "2.14.0",
                    "packages": {"torch": "2.14.0"},
                    "in_window": True,
                    "verify": None,
                },
                {
                    "environment": "train",
                    "project": "train",
                    "cuda": "13.1",
                    "torch": "2.15.0",
                    "packages": {"torch": "2.15.0"},
                    "in_window": False,
                    "verify": None,
                },
            ],
            "runs": None,
        },
        {
            "driver": "590",
            "window": "11.8-13.1",
            "window_cuda": ["11.8", "13.1"],
            "status": "ok",
            "kind": None,
            "error": None,
            "members": {},
            "environments": [
                {
                    "environment": "serve",
                    "project": "serve",
                    "cuda": "13.0",
                    "torch": "2.14.0",
                    "packages": {"torch": "2.14.0"},
                    "in_window": True,
                    "verify": None,
                }
            ],
            "runs": None,
        },
    ],
    "failed": 2,
}

# what each cell must say in words (the colour only repeats it), written from the document above
EXPECTED = {
    ("535", "*"): ("fails", ["fails (no-solution)", "serve needs vllm>=0.8.5.post1"]),
    ("570", "serve"): ("verified", ["ok, verified", "CUDA 12.8", "torch 2.9.0", "vllm 0.11.2", "ok (no GPU here)"]),
    ("570", "train"): ("broken", ["verify broken", "CUDA 12.8", "unsloth 2026.10.9", "<script>alert(1)</script>"]),
    ("580", "serve"): ("ok", ["ok", "CUDA 13.0", "torch 2.14.0"]),
    ("580", "train"): ("outside", ["outside the window", "CUDA 13.1", "torch 2.15.0"]),
    ("590", "serve"): ("ok", ["ok", "CUDA 13.0"]),
    ("590", "train"): ("none", ["no CUDA"]),
}


class Page(HTMLParser):
    """Cells with data-driver (their attributes and text), every tag and attribute, the legend items, all text."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], dict[str, str]] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.legend: dict[str, str] = {}
        self.text: list[str] = []
        self.style = ""
        self._open: list[tuple[str, list[str]]] = []  # (kind, text parts) of the cell or legend item being read
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        self._in_style = tag == "style"
        if tag == "td" and a.get("data-driver"):
            key = (str(a["data-driver"]), str(a["data-environment"]))
            self.cells[key] = {"status": str(a["data-status"]), "class": str(a.get("class")), "text": ""}
            self._open.append(("cell:" + "\0".join(key), []))
        elif tag == "li" and a.get("data-status"):
            self._open.append(("legend:" + str(a["data-status"]), []))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False
        if tag in ("td", "li") and self._open:
            kind, parts = self._open.pop()
            text = " ".join(" ".join(parts).split())
            if kind.startswith("cell:"):
                d, e = kind[5:].split("\0")
                self.cells[(d, e)]["text"] = text
            else:
                self.legend[kind[7:]] = text

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data
            return
        self.text.append(data)
        for _, parts in self._open:
            parts.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def test_cells_say_what_the_document_says() -> None:
    page = parse(render_matrix(DOC))
    assert set(page.cells) == set(EXPECTED)
    for key, (status, words) in EXPECTED.items():
        cell = page.cells[key]
        assert cell["status"] == status and cell["class"] == status, (key, cell)
        for w in words:
            assert w in cell["text"], (key, w, cell["text"])


def test_colour_never_carries_the_meaning_alone() -> None:
    """Every status has its own colour AND its own words; cells of different statuses never read the same."""
    page = parse(render_matrix(DOC))
    labels = {"ok": "ok", "verified": "ok, verified", "outside": "outside the window", "broken": "verify broken"}
    labels |= {"fails": "fails", "none": "no CUDA"}
    for cell in page.cells.values():
        assert labels[cell["status"]] in cell["text"]
    # the legend names every status in words, next to its swatch
    assert set(page.legend) == set(labels)
    for status, label in labels.items():
        assert page.legend[status].split(":")[0].endswith(label), page.legend[status]
    # each status has a colour of its own in the style sheet
    colours = {s: page.style.split(f"td.{s} {{ background: ")[1].split(";")[0] for s in labels}
    assert len(set(colours.values())) == len(labels), colours


def test_the_page_names_the_fleet_and_lock_it_came_from() -> None:
    text = " ".join(" ".join(parse(render_matrix(DOC)).text).split())
    for needle in ("demo", "driver 580.65.06", "T4 (7.5)", "H100 (9.0)", "toolkit", LOCK_SHA, "2026-11-01T00:00:00Z"):
        assert needle in text, needle
    assert "4, 2 failed" in text


def test_self_contained_and_escaped() -> None:
    html = render_matrix(DOC)
    page = parse(html)
    tags = {t for t, _ in page.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}, tags
    for _, attrs in page.tags:
        for name, value in attrs.items():
            assert name not in ("src", "href") and not name.startswith("on"), (name, value)
            assert "://" not in (value or ""), (name, value)
    assert "url(" not in page.style and "@import" not in page.style and "@font-face" not in page.style
    assert "<script>alert(1)</script>" not in html  # shown as text (&lt;script&gt;), never as a tag
