"""The deck being written: slide size and colours, how text reads on a slide (names for keys,
short money), how wide it runs, titles, footnotes and body text."""

from __future__ import annotations

import re
from typing import Any

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

from dacu.report.format import fen_short
from dacu.report.model import Text, tx

RED = RGBColor(0xC8, 0x10, 0x2E)
GREY = RGBColor(0x66, 0x66, 0x66)
W, H = Inches(13.333), Inches(7.5)
LEFT, TOP, BOTTOM = Inches(0.5), Inches(1.45), Inches(6.75)
BODY_W = Emu(W - 2 * LEFT)
DIFF_KEYS = ("gap", "diff", "delta")  # a column holding a difference: rates in points
SEVERITY = {
    "bad": tx("需改进", "to fix"),
    "warn": tx("注意", "watch"),
    "good": tx("做得好", "good"),
    "red": tx("严重", "red"),
    "yellow": tx("警告", "yellow"),
}
MONEY = re.compile(r"¥(-?[\d,]+(?:\.\d+)?)(?![\d.,万亿KMB])")  # ¥1,234.50 written in a text
ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d)?(?:[+-]\d\d:\d\d|Z)?")
HIDDEN_COLUMNS = ("cites",)  # machine references (key=value): kept in review.json, not on slides
LAYOUT_TITLE, LAYOUT_CONTENT, LAYOUT_TITLE_ONLY = 0, 1, 5
Box = tuple[int, int, int, int]  # left, top, width, height in EMU


class Deck:
    """The presentation being written, with the language and the id → name map."""

    def __init__(self, lang: str, names: dict[str, str]) -> None:
        self.prs = Presentation()
        self.prs.slide_width, self.prs.slide_height = W, H
        self.lang = lang
        words = {"all": "全店", "campaign": "活动文件", "plan": "规划"} if lang == "zh" else {}
        self.names = {**words, **names}

    def t(self, text: Text) -> str:
        """A text of the review as the slide shows it: names for keys, short money."""
        return self.prose(text[self.lang])

    def prose(self, text: str) -> str:
        text = re.sub(r"\b[a-z_]+=([\w-]+)", lambda m: self.names.get(m.group(1), m.group(1)), text)
        text = ISO_TIME.sub(r"\1 \2", text)
        return MONEY.sub(lambda m: fen_short(_fen(m.group(1)), self.lang), text)

    def slide(self, title: str, notes: list[str], layout: int = LAYOUT_TITLE_ONLY) -> Any:
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[layout])
        shape = slide.shapes.title
        shape.left, shape.top, shape.width, shape.height = LEFT, Inches(0.3), BODY_W, Inches(1.05)
        frame = shape.text_frame
        frame.word_wrap = True
        frame.text = title
        para = frame.paragraphs[0]
        para.alignment = PP_ALIGN.LEFT
        for run in para.runs:
            run.font.size = Pt(title_size(title))
            run.font.bold = True
            run.font.color.rgb = RED
        slide.notes_slide.notes_text_frame.text = "\n".join(n for n in notes if n)
        return slide

    def named(self, text: str) -> str:
        """`phase=burst` → 爆发期, `search_ads` → 直通车: the names people use."""
        text = self.prose(text)
        return self.names.get(text, text)


def _fen(yuan_text: str) -> int:
    return round(float(yuan_text.replace(",", "")) * 100)


def title_size(title: str) -> int:
    width = text_width(title, 1.0)  # in em
    return 24 if width <= 36 else 20 if width <= 86 else 16


def text_width(text: str, size: float) -> float:
    """Rendered width in points at `size` pt: CJK and full-width characters are 1 em, others ~0.65."""
    return sum(size if ord(ch) > 0x2E80 else 0.65 * size for ch in text)


def footnote(slide: Any, text: str) -> None:
    """What is missing or how a figure is made, at the foot of the slide (in full in the notes)."""
    box = slide.shapes.add_textbox(LEFT, Inches(6.8), BODY_W, Inches(0.6))
    box.text_frame.word_wrap = True
    width = BODY_W.pt - 14  # the box's inner width
    size = next((s for s in (10, 9, 8) if line_count(text, s, width) * s * 1.25 <= 40), None)
    if size is None:  # too long for the foot of a slide: the first sentence, the rest in notes
        size, text = 9, re.split(r"(?<=[。.；;])", text)[0] + "（详见备注 see notes）"
        while line_count(text, size, width) * size * 1.25 > 40:
            text = text[: len(text) * 3 // 4] + "…（详见备注 see notes）"
    box.text_frame.text = text
    for para in box.text_frame.paragraphs:
        for run in para.runs:
            run.font.size = Pt(size)
            run.font.color.rgb = GREY


def line_count(text: str, size: float, width: float) -> int:
    return int(text_width(text, size) // width) + 1


def body(slide: Any, lines: list[str], box: Box, size: int = 16) -> None:
    shape = slide.shapes.add_textbox(*box)
    frame = shape.text_frame
    frame.word_wrap = True
    frame.text = "\n".join(lines)
    for para in frame.paragraphs:
        para.space_after = Pt(6)
        for run in para.runs:
            run.font.size = Pt(size)
