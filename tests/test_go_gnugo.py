"""Our Go rules against GNU Go's, move by move over GTP, where GNU Go is installed.

Random games are played on both boards at once: before every move the two must agree on
every legal point (``all_legal``), after it on the stones (``list_stones``), and at the end
on the score (``final_score``, area scoring with komi). The games are played out to the end
as Tromp-Taylor scoring assumes: random moves that never fill a player's own one-point eye,
until neither side has another, so every stone left on the board is alive and GNU Go's
judgement of dead stones has nothing to remove.
"""

from __future__ import annotations

import numpy as np
import pytest

from envs.experts.gnugo import GnuGo
from envs.experts.gtp import gnugo_available
from envs.go import GoGame, parse_vertex

pytestmark = pytest.mark.skipif(not gnugo_available(), reason="GNU Go is not installed")

SIZE = 7
# No move limit to speak of: random games with captures can run long, and the limit is a
# rule of ours, not of GNU Go's.
GAME = GoGame(SIZE, komi=6.5, max_moves=2000)


def own_eyes(game: GoGame, own: np.ndarray, opp: np.ndarray) -> np.ndarray:
    """bool[cells]: the true one-point eyes of ``own`` (bool[cells]): empty points whose
    every neighbour is its stone, with at most one opposing stone on the diagonals (none on
    the edge), the rule of thumb random playouts use so that false eyes get filled."""
    size = game.size
    mine, theirs = own.reshape(size, size), opp.reshape(size, size)
    empty = ~(mine | theirs)
    padded_own = np.pad(mine, 1, constant_values=True)
    padded_opp = np.pad(theirs, 1, constant_values=False)
    off_board = np.pad(np.zeros((size, size), bool), 1, constant_values=True)
    eyes = np.zeros((size, size), dtype=bool)
    for r in range(size):
        for c in range(size):
            if not empty[r, c]:
                continue
            R, C = r + 1, c + 1
            sides = [
                padded_own[R - 1, C],
                padded_own[R + 1, C],
                padded_own[R, C - 1],
                padded_own[R, C + 1],
            ]
            if not all(sides):
                continue
            corners = [(R - 1, C - 1), (R - 1, C + 1), (R + 1, C - 1), (R + 1, C + 1)]
            bad = sum(padded_opp[rr, cc] for rr, cc in corners)
            edge = any(off_board[rr, cc] for rr, cc in corners)
            eyes[r, c] = bad == 0 if edge else bad <= 1
    return eyes.ravel()


def random_game_agrees(engine: GnuGo, rng: np.random.Generator) -> tuple[float, float]:
    """Play one random game on both boards, asserting agreement at every move; return the
    final scores (ours, GNU Go's) as Black's margin."""
    engine.clear()
    state = GAME.initial_state()
    while not GAME.is_terminal(state):
        colour = "black" if GAME.to_play(state) == 0 else "white"
        legal = GAME.legal_mask(state)
        answer = engine.client.send(f"all_legal {colour}")
        theirs = sorted(parse_vertex(v, SIZE) for v in answer.split())
        ours = np.flatnonzero(legal[: GAME.pass_action]).tolist()
        assert ours == theirs, f"legal points differ after {GAME.notation([])}"
        candidates = legal[: GAME.pass_action] & ~own_eyes(GAME, state.own, state.opp)
        if candidates.any():
            action = int(rng.choice(np.flatnonzero(candidates)))
        else:
            action = GAME.pass_action
        engine.play(colour, action)
        state = GAME.step(state, action)
        board = GAME.board(state).ravel()
        for sign, name in ((1, "black"), (-1, "white")):
            stones = engine.client.send(f"list_stones {name}").split()
            assert (
                sorted(parse_vertex(v, SIZE) for v in stones)
                == np.flatnonzero(board == sign).tolist()
            )
    black_margin = GAME.score(state) * (1 if GAME.to_play(state) == 0 else -1)
    return float(black_margin), engine.final_score()


@pytest.mark.parametrize("games, seed", [pytest.param(40, 0, id="40-games")])
def test_random_games_agree_with_gnugo(games: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with GnuGo(SIZE, komi=GAME.komi, level=0) as engine:
        scores = [random_game_agrees(engine, rng) for _ in range(games)]
    ours, theirs = np.array(scores).T
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.slow
def test_five_hundred_random_games_agree_with_gnugo() -> None:
    test_random_games_agree_with_gnugo(500, seed=1)
