"""A test-only game, Connect Three on a 4 x 4 board: its rules, its profile, nothing else.

It proves that adding a game is one rules class, one profile and one registry call: the
tests register it (``envs.registry.register_game``) and run it through both stages, the
evaluation and the gym environment without any other module knowing it. Games last at
most 16 plies, so every step takes a fraction of a second.

The bitboard follows Connect Four's: each column has 4 cells from the bottom up and an
always-empty sentinel bit on top, so shifting a line never wraps into the next column::

     3  8 13 18      <- top row       (sentinels: 4 9 14 19)
     2  7 12 17
     1  6 11 16
     0  5 10 15      <- bottom row
     1  2  3  4      <- notation: the column, 1-indexed
"""

from __future__ import annotations

import numpy as np

from envs.core import LineGame, State, Symmetry, permutation_from_grid
from envs.players import Player, sample_masked
from envs.profile import ILLEGAL, GameProfile, GradedPositions, NetSize, all_positions

ROWS, COLS = 4, 4
_H1 = ROWS + 1  # bits per column, sentinel included
_BOTTOM = np.array([1 << (c * _H1) for c in range(COLS)], dtype=np.uint64)
_TOP = np.array([1 << (c * _H1 + ROWS - 1) for c in range(COLS)], dtype=np.uint64)
_COLUMN = np.array([((1 << ROWS) - 1) << (c * _H1) for c in range(COLS)], dtype=np.uint64)
_CELL_BITS = np.array(
    [1 << (c * _H1 + ROWS - 1 - r) for r in range(ROWS) for c in range(COLS)], dtype=np.uint64
)
# A line of three along direction d (in bits): vertical 1, horizontal 5, diagonals 4 and 6.
_DIRECTIONS = tuple(np.uint64(d) for d in (1, _H1, _H1 - 1, _H1 + 1))


def _mirror() -> tuple[Symmetry, ...]:
    grid = np.arange(ROWS * COLS).reshape(ROWS, COLS)
    identity = Symmetry("identity", np.arange(ROWS * COLS), np.arange(COLS))
    mirror = Symmetry(
        "mirror", permutation_from_grid(np.fliplr(grid)), np.arange(COLS)[::-1].copy()
    )
    return (identity, mirror)


class ConnectThree(LineGame):
    name = "connect3"
    rows = ROWS
    cols = COLS
    num_actions = COLS
    cell_bits = _CELL_BITS
    symmetries = _mirror()
    occupied_message = "column {move} is full"

    def _legal(self, own: np.ndarray, opp: np.ndarray) -> np.ndarray:
        return (np.asarray(own | opp)[..., None] & _TOP) == 0

    def _apply(self, own: np.ndarray, opp: np.ndarray, action: np.ndarray) -> np.ndarray:
        return own | (((own | opp) + _BOTTOM[action]) & _COLUMN[action])

    def _has_line(self, bits: np.ndarray) -> np.ndarray:
        bits = np.asarray(bits, dtype=np.uint64)
        found = np.zeros(bits.shape, dtype=bool)
        for d in _DIRECTIONS:
            found |= (bits & (bits >> d) & (bits >> (d + d))) != 0
        return found

    def parse_move(self, token: str) -> int:
        if len(token) != 1 or token not in "1234":
            raise ValueError(f"{token!r} is not a column 1..4")
        return int(token) - 1

    def format_move(self, action: int) -> str:
        return str(action + 1)


CONNECT3 = ConnectThree()


class TacticsExpert:
    """The toy's scripted expert: wins at once if it can, else blocks the opponent's win,
    else plays uniformly among the legal moves (a distribution stage 1 imitates)."""

    def __init__(self) -> None:
        self.game = CONNECT3
        self.name = "tactics"
        self.temperature = 0.0

    def policy(self, state: State) -> np.ndarray:
        """float32[B, A]: uniform over the winning moves, else the blocks, else the legal."""
        game = self.game
        legal = game.legal_mask(state)
        actions = np.arange(game.num_actions)
        own, opp = np.asarray(state.own)[..., None], np.asarray(state.opp)[..., None]
        wins = game._has_line(game._apply(own, opp, actions)) & legal
        blocks = game._has_line(game._apply(opp, own, actions)) & legal
        can_win, can_block = wins.any(-1, keepdims=True), blocks.any(-1, keepdims=True)
        chosen = np.where(can_win, wins, np.where(can_block, blocks, legal))
        return (chosen / chosen.sum(axis=-1, keepdims=True)).astype(np.float32)

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        return sample_masked(self.policy(state), rng)


def _expert(depth: int | None, temperature: float | None) -> Player:
    if depth is not None or temperature:
        raise ValueError("the connect3 expert takes no depth and no temperature")
    return TacticsExpert()


def _grader() -> GradedPositions:
    """Every unfinished position, each move valued by exhaustive negamax, ply by ply from the
    last (a small game's retrograde analysis, in numpy)."""
    everything = all_positions(CONNECT3, include_terminal=True)
    key = everything.own | (everything.opp << np.uint64(32))
    order = np.argsort(key)
    value = np.where(CONNECT3.is_won(everything), -1, 0).astype(np.int8)
    outcomes = np.full((len(key), CONNECT3.num_actions), ILLEGAL, dtype=np.int8)
    live = ~CONNECT3.is_terminal(everything)
    for ply in range(CONNECT3.num_cells - 1, -1, -1):
        rows = np.flatnonzero(live & (everything.ply == ply))
        for action in range(CONNECT3.num_actions):
            legal = CONNECT3.legal_mask(everything[rows])[:, action]
            child = CONNECT3.step(everything[rows[legal]], action)
            found = order[np.searchsorted(key[order], child.own | (child.opp << np.uint64(32)))]
            outcomes[rows[legal], action] = -value[found]
        value[rows] = outcomes[rows].max(axis=-1)
    return GradedPositions(everything[live], outcomes[live], None)


CONNECT3_PROFILE = GameProfile(
    net=NetSize(blocks=1, channels=8, value_hidden=8),
    imitation_defaults={"games": 60, "epochs": 1, "random_opening": 2, "temperature": 0.0},
    selfplay_defaults={
        "iterations": 2,
        "games_per_iteration": 8,
        "temperature_moves": 4,
        "random_opening": 0,
        "sample_reuse": 2.0,
        "merge_duplicates": False,
        "value_target_q": 0.0,
        "policy_target": "visits",
    },
    report_defaults={"sims": (0, 4), "positions": 50, "thinking_games": 4},
    duel_openings=1,
    expert=_expert,
    grader=_grader,
    env_id="apprentice-test/ConnectThree-v0",
)
