"""The block grid: the frame cut into ``block``×``block`` cells, the unit of pixelation.

Every layer marks the cells it wants blurred: face boxes, the foreground of the motion layer
(the people themselves, not their bounding boxes), zones. A cell is blurred whole or not at
all, so a blurred region never shows detail finer than one block, not even at its outline.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from .pixelate import Image, pixelate_whole

# rows × cols of 0/1 (uint8): 1 = blur this cell.
Cells = npt.NDArray[np.uint8]


class BlockGrid:
    def __init__(self, width: int, height: int, block: int) -> None:
        if block < 1:
            raise ValueError("block must be at least 1 pixel")
        self.width, self.height, self.block = width, height, block
        self.cols = -(-width // block)
        self.rows = -(-height // block)
        self._cache: dict[tuple[int, int], tuple[npt.NDArray[np.intp], ...]] = {}

    def empty(self) -> Cells:
        return np.zeros((self.rows, self.cols), np.uint8)

    def span(self, box: npt.NDArray[np.float32]) -> tuple[slice, slice]:
        """The rows and columns of cells a box (x0, y0, x1, y1 in frame pixels) touches,
        clipped to the frame (empty slices for a box outside it)."""
        b = self.block
        x0, y0, x1, y1 = (float(v) for v in box[:4])
        c0, r0 = max(0, int(x0 // b)), max(0, int(y0 // b))
        c1, r1 = min(self.cols, int(-(-x1 // b))), min(self.rows, int(-(-y1 // b)))
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))

    def mark_boxes(self, cells: Cells, boxes: npt.NDArray[np.float32]) -> None:
        """Mark every cell a box (x0, y0, x1, y1 in frame pixels) touches."""
        for box in boxes:
            cells[self.span(box)] = 1

    def cells_of(self, mask: npt.NDArray[np.uint8], *, more_than: int = 0) -> Cells:
        """The cells that hold more than ``more_than`` non-zero pixels of ``mask``, a mask of
        the whole frame at any resolution (the motion layer's is 320 pixels wide). Exact:
        each cell's source pixels are counted through an integral image, no resampling; a
        mask pixel that a cell border cuts through counts for both cells."""
        mh, mw = mask.shape[:2]
        lx, hx, ly, hy = self._spans(mw, mh)
        s = cv2.integral((mask > 0).view(np.uint8))
        counts = (s[hy[:, None], hx[None, :]] - s[ly[:, None], hx[None, :]]
                  - s[hy[:, None], lx[None, :]] + s[ly[:, None], lx[None, :]])
        out: Cells = (counts > more_than).astype(np.uint8)
        return out

    def _spans(self, mw: int, mh: int) -> tuple[npt.NDArray[np.intp], ...]:
        """For a ``mw``×``mh`` mask: first and past-the-end mask pixel of every column and
        row of cells (each spans at least one pixel)."""
        spans = self._cache.get((mw, mh))
        if spans is None:
            out = []
            for n, size, m in ((self.cols, self.width, mw), (self.rows, self.height, mh)):
                k = m / size
                edge = np.arange(n + 1) * self.block * k
                lo = np.clip(np.floor(edge[:-1]), 0, m - 1).astype(np.intp)
                hi = np.maximum(lo + 1, np.clip(np.ceil(edge[1:]), 1, m)).astype(np.intp)
                out += [lo, hi]
            spans = (out[0], out[1], out[2], out[3])
            self._cache[(mw, mh)] = spans
        return spans

    def pixelate(self, image: Image, cells: Cells) -> int:
        """Pixelate the marked cells of ``image`` in place; the number of pixels blurred."""
        if not cells.any():
            return 0
        b = self.block
        c0, r0, nc, nr = cv2.boundingRect(cells)
        x0, y0 = c0 * b, r0 * b
        x1, y1 = min(self.width, (c0 + nc) * b), min(self.height, (r0 + nr) * b)
        region = np.ascontiguousarray(image[y0:y1, x0:x1])
        pix = pixelate_whole(region, b)
        sub = np.ascontiguousarray(cells[r0:r0 + nr, c0:c0 + nc])
        mask = cv2.resize(sub, (nc * b, nr * b), interpolation=cv2.INTER_NEAREST)
        mask = np.ascontiguousarray(mask[: y1 - y0, : x1 - x0])
        cv2.copyTo(pix, mask, region)
        image[y0:y1, x0:x1] = region
        return int(cv2.countNonZero(mask))

    def pixelate_within(self, image: Image, cells: Cells, box: tuple[int, int, int, int],
                        block: int) -> None:
        """Pixelate ``image`` in ``box`` (x0, y0, x1, y1) with blocks of ``block`` pixels, but
        only where ``cells`` are marked (in place): coarser blocks, no more area."""
        b = self.block
        x0, y0 = max(0, box[0] // b * b), max(0, box[1] // b * b)
        x1, y1 = min(self.width, box[2]), min(self.height, box[3])
        if x1 <= x0 or y1 <= y0:
            return
        r0, c0 = y0 // b, x0 // b
        r1, c1 = -(-y1 // b), -(-x1 // b)
        sub = np.ascontiguousarray(cells[r0:r1, c0:c1])
        if not sub.any():
            return
        mask = cv2.resize(sub, ((c1 - c0) * b, (r1 - r0) * b), interpolation=cv2.INTER_NEAREST)
        mask = np.ascontiguousarray(mask[: y1 - y0, : x1 - x0])
        region = np.ascontiguousarray(image[y0:y1, x0:x1])
        cv2.copyTo(pixelate_whole(region, block), mask, region)
        image[y0:y1, x0:x1] = region
