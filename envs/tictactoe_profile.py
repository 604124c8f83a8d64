"""Tic-tac-toe's profile (:class:`~envs.profile.GameProfile`): how the project trains and
judges the game of :mod:`envs.tictactoe`. The figures behind each default are in the README."""

from __future__ import annotations

import numpy as np

from envs.players import Player
from envs.profile import GameProfile, GradedPositions, NetSize, all_positions
from envs.tictactoe import TICTACTOE


def _expert(depth: int | None, temperature: float | None) -> Player:
    from envs.experts.tictactoe_expert import TicTacToeExpert

    if depth is not None:
        raise ValueError("the tic-tac-toe expert is perfect: it takes no depth")
    return TicTacToeExpert(TICTACTOE, temperature=temperature or 0.0)


def _grader() -> GradedPositions:
    """All 4,520 unfinished positions, valued by exhaustive minimax (the expert's table)."""
    from envs.experts.tictactoe_expert import tictactoe_action_values

    positions = all_positions(TICTACTOE)
    outcomes = np.asarray(tictactoe_action_values(positions), dtype=np.int8)
    return GradedPositions(positions, outcomes, None)


TICTACTOE_PROFILE = GameProfile(
    # Tic-tac-toe needs almost nothing: 1 x 32 costs 0.2 MMAC per position.
    net=NetSize(blocks=1, channels=32, value_hidden=32),
    # Sized so the default stage 1 takes about a minute on a 2-core laptop. Six random plies
    # before the perfect expert takes over: its own games cover ~1,300 of tic-tac-toe's 4,520
    # positions, these ~3,300, and the network then plays the best move in 99.9% of all
    # positions rather than 86% (measured; see the README).
    imitation_defaults={"games": 2_000, "epochs": 15, "random_opening": 6, "temperature": 0.0},
    # The network alone must play all 4,520 positions perfectly, including those only a bad
    # opponent reaches, so games start after 0-8 random plies and every move is sampled;
    # 1,024 games an iteration because a fork seen a handful of times is not learnt.
    selfplay_defaults={
        "iterations": 20,
        "games_per_iteration": 1024,
        "temperature_moves": 9,
        "random_opening": 8,
        "sample_reuse": 8.0,
        "merge_duplicates": True,
        "value_target_q": 0.0,
        "policy_target": "visits",
    },
    # A network inside MCTS costs one evaluation per simulation; tic-tac-toe's are cheap
    # enough for 256 simulations in the default report.
    report_defaults={"sims": (0, 16, 64, 256), "positions": 500, "thinking_games": 40},
    # Duels start from the empty board: two random plies there can already decide the game.
    duel_openings=0,
    expert=_expert,
    grader=_grader,
    env_id="apprentice/TicTacToe-v0",
)
