"""The block grid: layers mark cells, a marked cell is pixelated whole, nothing else moves."""

from __future__ import annotations

import numpy as np

from window.privacy.grid import BlockGrid


def test_a_mask_pixel_marks_the_cell_it_falls_in_at_any_mask_resolution() -> None:
    grid = BlockGrid(640, 360, 16)  # 40 × 22.5 cells: the last row is cut
    assert (grid.rows, grid.cols) == (23, 40)
    small = np.zeros((180, 320), np.uint8)  # the motion layer's half resolution
    small[8, 8] = 255  # frame pixels 16–17: cell (1, 1) only
    small[179, 319] = 1  # the last frame pixels: the cut last row, last column
    assert [tuple(c) for c in np.argwhere(grid.cells_of(small))] == [(1, 1), (22, 39)]
    odd = np.zeros((90, 100), np.uint8)  # 6.4 frame px per mask px: borders cut pixels
    odd[0, 5] = 1  # frame x 32–38.4: cells 2 (and nothing else), row 0
    odd[10, 7] = 1  # frame x 44.8–51.2, y 40–44: cells 2 and 3, row 2
    assert [tuple(c) for c in np.argwhere(grid.cells_of(odd))] == [(0, 2), (2, 2), (2, 3)]


def test_boxes_mark_every_cell_they_touch() -> None:
    grid = BlockGrid(64, 64, 16)
    cells = grid.empty()
    grid.mark_boxes(cells, np.array([[15.5, 0, 16.5, 1], [-40, 60, 10, 100]], np.float32))
    assert [tuple(c) for c in np.argwhere(cells)] == [(0, 0), (0, 1), (3, 0)]


def test_marked_cells_become_single_colour_blocks_and_nothing_else_changes() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    before = img.copy()
    grid = BlockGrid(640, 360, 16)
    cells = grid.empty()
    cells[2, 3] = cells[2, 5] = cells[22, 39] = 1
    assert grid.pixelate(img, cells) == 16 * 16 * 2 + 16 * 8
    for r, c in ((2, 3), (2, 5)):
        block = img[r * 16:(r + 1) * 16, c * 16:(c + 1) * 16].reshape(-1, 3)
        assert (block == block[0]).all()
        assert not np.array_equal(block, before[r * 16:(r + 1) * 16,
                                                c * 16:(c + 1) * 16].reshape(-1, 3))
    corner = img[352:, 624:].reshape(-1, 3)
    assert (corner == corner[0]).all()
    changed = (img != before).any(axis=2)
    changed[32:48, 48:64] = changed[32:48, 80:96] = changed[352:, 624:] = False
    assert not changed.any()  # the unmarked cell between them, and all the rest: untouched
