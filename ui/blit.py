"""Cheap redraws of a matplotlib figure whose moving parts are few (blitting).

A full draw renders every tick label, title and legend again (~40-80 ms a chart);
`BlittedFigure` renders the figure once without its moving artists (the
background), then each frame restores that background and draws only the moving
artists, and encodes the pixels as PNG. Call `invalidate()` when something in the
background changes (an axis limit), so the next frame redraws it.
"""

import io
import math

from PIL import Image


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above `value` (at least 1): axis tops
    that change seldom as a run's values grow."""
    if value <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value)


class BlittedFigure:
    """A figure (with an Agg canvas) and the artists that move from frame to frame."""

    def __init__(self, figure, moving: list):
        self.figure = figure
        self.moving = moving
        self.background = None

    def invalidate(self) -> None:
        self.background = None

    def png(self) -> bytes:
        canvas = self.figure.canvas
        if self.background is None:
            for artist in self.moving:
                artist.set_visible(False)
            canvas.draw()
            self.background = canvas.copy_from_bbox(self.figure.bbox)
            for artist in self.moving:
                artist.set_visible(True)
        else:
            canvas.restore_region(self.background)
        for artist in self.moving:  # in an axes, or on the figure (a title)
            (artist.axes or self.figure).draw_artist(artist)
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(),
                                 "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()
