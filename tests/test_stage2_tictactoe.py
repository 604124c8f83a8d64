"""Stage 2's promise on tic-tac-toe, checked exhaustively (slow: a few minutes of training).

From scratch, the default stage-2 run must reach perfect play: the network alone picks an
optimal move in every reachable unfinished position (graded by exhaustive minimax, not by
the run's own metrics), and inside the search it never loses to the perfect expert.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from envs import TICTACTOE
from envs.experts import make_expert
from models.checkpoint import load_checkpoint
from tests.test_training_scripts import only_run, run_script
from train.arena.duels import duel
from train.arena.network_players import SearchPlayer
from train.arena.strength import solver_positions
from train.search.evaluators import NetworkEvaluator
from train.search.search import MCTSConfig


@pytest.mark.slow
def test_selfplay_from_scratch_reaches_perfect_tictactoe(tmp_path: Path) -> None:
    run_script(
        "train_selfplay",
        *("--init", "scratch", "--game", "tictactoe", "--eval-games", "0"),
        *("--run-dir", "runs"),
        cwd=tmp_path,
    )
    model = load_checkpoint(only_run(tmp_path / "runs") / "latest.pt").model
    evaluate = NetworkEvaluator(model, TICTACTOE)

    positions, action_values, _ = solver_positions(TICTACTOE)
    priors, _ = evaluate(positions, TICTACTOE.legal_mask(positions))
    chosen = action_values[np.arange(len(positions)), priors.argmax(axis=1)]
    wrong = np.flatnonzero(chosen < action_values.max(axis=1))
    assert len(positions) == 4520
    assert len(wrong) == 0, [TICTACTOE.render(positions[i]) for i in wrong[:3]]

    searcher = SearchPlayer(TICTACTOE, evaluate, MCTSConfig(simulations=64))
    result = duel(TICTACTOE, searcher, make_expert(TICTACTOE), 200, np.random.default_rng(0))
    assert result.losses == 0
