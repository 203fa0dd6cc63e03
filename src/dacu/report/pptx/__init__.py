"""review.pptx: an editable deck for the 复盘 meeting — native PowerPoint charts and tables.

Every slide has a real title placeholder, so the outline view reads as the story: the title
slide, the agenda, per section a headline slide ("3. GMV 结构：…") and one slide per further
idea (a chart beside its table where both fit), one slide per incident of the live record, the
findings and, last, the action plan (what, owner, due date). Speaker notes carry the numbers
behind each slide. Money reads ¥12.3万 / ¥1.20亿 (axes in 万 or 亿), rate differences in
percentage points, keys by their names (爆发期, not phase=burst).

One module per concern: `deck` (the presentation, text on slides), `charts`, `tables` (fitting
and paging) and `slides` (the story, slide by slide).
"""

from dacu.report.pptx.charts import chart_notes
from dacu.report.pptx.deck import Deck
from dacu.report.pptx.slides import continued, render_pptx
from dacu.report.pptx.tables import Grid, table_notes, table_text

__all__ = ["Deck", "Grid", "chart_notes", "continued", "render_pptx", "table_notes", "table_text"]
