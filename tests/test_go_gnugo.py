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

from envs import get_game
from envs.experts import make_expert
from envs.experts.gnugo import GnuGo
from envs.experts.gtp import gnugo_available
from envs.go import GoGame, parse_vertex
from envs.players import sample_masked

pytestmark = pytest.mark.skipif(not gnugo_available(), reason="GNU Go is not installed")


def unlimited(size: int) -> GoGame:
    """Go on a ``size`` board with no move limit to speak of: random games with captures can
    run long, and the limit is a rule of ours, not of GNU Go's."""
    return GoGame(size, komi=6.5, max_moves=4 * size**4)


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


def random_game_agrees(
    game: GoGame, engine: GnuGo, rng: np.random.Generator
) -> tuple[float, float]:
    """Play one random game on both boards, asserting agreement at every move; return the
    final scores (ours, GNU Go's) as Black's margin."""
    engine.clear()
    state = game.initial_state()
    while not game.is_terminal(state):
        colour = "black" if game.to_play(state) == 0 else "white"
        legal = game.legal_mask(state)
        answer = engine.client.send(f"all_legal {colour}")
        theirs = sorted(parse_vertex(v, game.size) for v in answer.split())
        ours = np.flatnonzero(legal[: game.pass_action]).tolist()
        assert ours == theirs, f"legal points differ after {game.notation([])}"
        candidates = legal[: game.pass_action] & ~own_eyes(game, state.own, state.opp)
        if candidates.any():
            action = int(rng.choice(np.flatnonzero(candidates)))
        else:
            action = game.pass_action
        engine.play(colour, action)
        state = game.step(state, action)
        board = game.board(state).ravel()
        for sign, name in ((1, "black"), (-1, "white")):
            stones = engine.client.send(f"list_stones {name}").split()
            assert (
                sorted(parse_vertex(v, game.size) for v in stones)
                == np.flatnonzero(board == sign).tolist()
            )
    black_margin = game.score(state) * (1 if game.to_play(state) == 0 else -1)
    return float(black_margin), engine.final_score()


@pytest.mark.parametrize(
    "size, games, seed",
    [pytest.param(7, 40, 0, id="7x7-40-games"), pytest.param(9, 20, 0, id="9x9-20-games")],
)
def test_random_games_agree_with_gnugo(size: int, games: int, seed: int) -> None:
    game, rng = unlimited(size), np.random.default_rng(seed)
    with GnuGo(size, komi=game.komi, level=0) as engine:
        scores = [random_game_agrees(game, engine, rng) for _ in range(games)]
    ours, theirs = np.array(scores).T
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.slow
@pytest.mark.parametrize("size", [7, 9])
def test_five_hundred_random_games_agree_with_gnugo(size: int) -> None:
    test_random_games_agree_with_gnugo(size, 500, seed=1)


@pytest.mark.parametrize("name", ["go7", "go9"])
def test_the_profiles_teacher_plays_whole_games_on_its_board(name: str) -> None:
    """The expert each Go profile builds is GNU Go on that game's board: from random
    openings, its every move is legal under our rules, and its games end."""
    game, rng = get_game(name), np.random.default_rng(3)
    expert = make_expert(name)
    try:
        for _ in range(2):
            state = game.initial_state(1)
            for _ in range(4):  # a random opening, so that the games differ
                state = game.step(state, sample_masked(game.legal_mask(state), rng))
            while not game.is_terminal(state)[0]:
                move = expert.act(state, rng)
                assert game.legal_mask(state)[0, move[0]], game.render(state[0])
                state = game.step(state, move)
            assert int(state.ply[0]) < game.max_moves  # ended by two passes, not the limit
        assert expert.name == "gnugo-l0"
    finally:
        expert.close()
