"""Charts for self-contained reports: a matplotlib Figure on the Agg canvas, saved as PNG bytes
to inline in HTML or place in a PDF. No pyplot state, so it is safe in a worker."""

from __future__ import annotations

import io

from matplotlib.figure import Figure

DPI = 110


def png(fig: Figure) -> bytes:
    """The figure as PNG, without the Software tag: the same chart gives the same bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
