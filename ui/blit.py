"""Cheap redraws of a matplotlib figure whose moving parts are few (blitting).

A full draw renders every tick label, title and legend again (~40-80 ms a chart);
`BlittedFigure` renders the figure once without its moving artists (the
background), then each frame restores that background and draws only the moving
artists, and encodes the pixels as JPEG (quality 90, no chroma subsampling: the lines
stay sharp). JPEG because a playing page gets a new map and seven charts every frame:
libjpeg-turbo encodes a chart in ~0.5 ms and the map in ~2-8 ms, PNG (zlib, even at
level 1) in ~13 ms and ~85 ms, and with several pages playing on one server the
encoding was a third of a frame's cost. Call `invalidate()` when something in the
background changes (an axis limit), so the next frame redraws it.
"""

import io
import math

from PIL import Image

IMAGE_FORMAT = "jpeg"  # what `BlittedFigure.image()` returns, for solara.Image(format=...)


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

    def image(self) -> bytes:
        """The figure as it is now, as JPEG bytes (`IMAGE_FORMAT`)."""
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
        # RGBX: the canvas's RGBA pixels as they are, alpha ignored (the figures are
        # opaque), which JPEG takes without a converted copy
        image = Image.frombuffer("RGBX", canvas.get_width_height(), canvas.buffer_rgba(),
                                 "raw", "RGBX", 0, 1)
        buffer = io.BytesIO()
        image.save(buffer, format="jpeg", quality=90, subsampling=0)
        return buffer.getvalue()
