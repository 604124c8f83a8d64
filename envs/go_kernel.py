"""Go's board logic, compiled with numba: legal points, playing a stone, and area scores.

Boards are ``int8[B, cells]`` with ``1`` for the stones of the player to move, ``2`` for the
opponent's and ``0`` for empty points; ``neighbours`` is ``int64[cells, 4]``, the points next
to each point padded with ``-1``. Every function loops over the batch one game at a time:
a group is found by a flood fill over its points, which on a 7x7 or 9x9 board is a few dozen
steps, and numba makes those steps cheap enough for a search that plays millions of moves.

The rules (the module :mod:`envs.go` explains the choices): a stone may not be played on the
ko point; a stone that leaves its own group without a liberty is suicide unless it captures;
a capture removes every opponent group left without a liberty.

Compiled once per machine (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

EMPTY, OWN, OPP = 0, 1, 2


@njit(cache=True)
def _liberties(board, neighbours, start, stack, seen, stamp):
    """The liberties of the group on ``start``, counted up to 2 (all the rules need), and
    the group's size; ``seen`` marks the visited points with ``stamp``."""
    colour = board[start]
    liberties = 0
    first_liberty = -1
    size = 0
    top = 0
    stack[top] = start
    top += 1
    seen[start] = stamp
    while top:
        top -= 1
        point = stack[top]
        size += 1
        for k in range(4):
            n = neighbours[point, k]
            if n < 0 or seen[n] == stamp:
                continue
            if board[n] == EMPTY:
                seen[n] = stamp  # count each liberty once
                if liberties == 0:
                    first_liberty = n
                liberties += 1
            elif board[n] == colour:
                seen[n] = stamp
                stack[top] = n
                top += 1
    return min(liberties, 2), first_liberty, size


@njit(cache=True)
def legal_points(boards, ko, neighbours):
    """bool[B, cells]: the points where the player to move may place a stone.

    Args:
        boards: int8[B, cells] as in the module docstring.
        ko: int[B] the point that may not be retaken at once, -1 for none.
        neighbours: int64[cells, 4].
    """
    games, cells = boards.shape
    legal = np.zeros((games, cells), dtype=np.bool_)
    stack = np.empty(cells, dtype=np.int64)
    seen = np.zeros(cells, dtype=np.int64)
    libs = np.empty(cells, dtype=np.int64)  # liberties (0..2) of the group on each point
    stamp = 0
    for g in range(games):
        board = boards[g]
        # Label every group's liberty count once, so each empty point asks its neighbours.
        for p in range(cells):
            libs[p] = -1
        for p in range(cells):
            if board[p] != EMPTY and libs[p] < 0:
                stamp += 1
                count, _, _ = _liberties(board, neighbours, p, stack, seen, stamp)
                # Mark the whole group by a second fill (the first one's marks mix in
                # liberties): cheap, and keeps _liberties the one flood fill.
                top = 0
                stack[top] = p
                top += 1
                libs[p] = count
                while top:
                    top -= 1
                    q = stack[top]
                    for k in range(4):
                        n = neighbours[q, k]
                        if n >= 0 and board[n] == board[p] and libs[n] < 0:
                            libs[n] = count
                            stack[top] = n
                            top += 1
        for p in range(cells):
            if board[p] != EMPTY or p == ko[g]:
                continue
            ok = False
            for k in range(4):
                n = neighbours[p, k]
                if n < 0:
                    continue
                if board[n] == EMPTY:
                    ok = True  # the new stone has a liberty of its own
                elif board[n] == OWN and libs[n] > 1:
                    ok = True  # it joins a group that keeps another liberty
                elif board[n] == OPP and libs[n] == 1:
                    ok = True  # it captures, which frees a liberty
            legal[g, p] = ok
    return legal


@njit(cache=True)
def play_stones(boards, points, neighbours):
    """Play a stone of the player to move on ``points`` (int[B], assumed legal) in place:
    captured opponent groups are removed from ``boards``.

    Returns int64[B]: the new ko point of each game (the single stone just captured, where
    the capturing stone stands alone with that point as its one liberty), or -1.
    """
    games, cells = boards.shape
    ko = np.full(games, -1, dtype=np.int64)
    stack = np.empty(cells, dtype=np.int64)
    seen = np.zeros(cells, dtype=np.int64)
    group = np.empty(cells, dtype=np.int64)
    stamp = 0
    for g in range(games):
        board = boards[g]
        p = points[g]
        board[p] = OWN
        captured = 0
        last_captured = -1
        for k in range(4):
            n = neighbours[p, k]
            if n < 0 or board[n] != OPP:
                continue
            stamp += 1
            count, _, _ = _liberties(board, neighbours, n, stack, seen, stamp)
            if count:
                continue
            # Remove the group: gather it first, since removing while filling would
            # hand the fill new empty points.
            size = 0
            top = 0
            stack[top] = n
            top += 1
            board[n] = EMPTY
            while top:
                top -= 1
                q = stack[top]
                group[size] = q
                size += 1
                for j in range(4):
                    m = neighbours[q, j]
                    if m >= 0 and board[m] == OPP:
                        board[m] = EMPTY
                        stack[top] = m
                        top += 1
            captured += size
            last_captured = group[0]
        if captured == 1:
            stamp += 1
            count, liberty, size = _liberties(board, neighbours, p, stack, seen, stamp)
            if size == 1 and count == 1 and liberty == last_captured:
                ko[g] = last_captured
    return ko


@njit(cache=True)
def area_scores(boards, neighbours):
    """int64[B]: each board's area score for the player to move, before komi: their stones
    and the empty regions only they border, minus the opponent's."""
    games, cells = boards.shape
    scores = np.zeros(games, dtype=np.int64)
    stack = np.empty(cells, dtype=np.int64)
    seen = np.zeros(cells, dtype=np.int64)
    stamp = 0
    for g in range(games):
        board = boards[g]
        stamp += 1
        score = 0
        for p in range(cells):
            if board[p] == OWN:
                score += 1
            elif board[p] == OPP:
                score -= 1
            elif seen[p] != stamp:
                # An empty region: whose is it? Fill it, noting the colours on its border.
                size = 0
                borders = 0  # bit 1: own stone, bit 2: opponent stone
                top = 0
                stack[top] = p
                top += 1
                seen[p] = stamp
                while top:
                    top -= 1
                    q = stack[top]
                    size += 1
                    for k in range(4):
                        n = neighbours[q, k]
                        if n < 0:
                            continue
                        if board[n] == EMPTY:
                            if seen[n] != stamp:
                                seen[n] = stamp
                                stack[top] = n
                                top += 1
                        else:
                            borders |= board[n]
                if borders == OWN:
                    score += size
                elif borders == OPP:
                    score -= size
        scores[g] = score
    return scores
