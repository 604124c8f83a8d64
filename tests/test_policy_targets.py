"""Policy targets: the visit distribution and Gumbel AlphaZero's completed-Q policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs import CONNECT4, State
from models.net import NetConfig, PolicyValueNet
from train.search.evaluators import NetworkEvaluator, UniformEvaluator
from train.search.search import MCTSConfig, SearchResult, search
from train.search.targets import completed_q, completed_q_policy, search_policy, visit_policy
from train.selfplay.games import play_selfplay_games

# Four actions: 0 and 1 visited, 2 legal but never tried, 3 illegal.
LEGAL = np.array([[True, True, True, False]])


def _result(visits, q, priors) -> SearchResult:
    return SearchResult(
        visits=np.array([visits], dtype=np.int32),
        q=np.array([q], dtype=np.float32),
        root_value=np.zeros(1, dtype=np.float32),
        priors=np.array([priors], dtype=np.float32),
        legal=LEGAL,
        action=np.array([np.argmax(visits)]),
    )


RESULT = _result([6, 2, 0, 0], [0.5, -0.25, 0.0, 0.0], [0.4, 0.4, 0.2, 0.0])


def test_completed_q_keeps_visited_q_and_gives_the_rest_the_lowest_seen_at_most_a_draw() -> None:
    np.testing.assert_allclose(completed_q(RESULT), [[0.5, -0.25, -0.25, 0.0]])
    winning = _result([6, 2, 0, 0], [0.9, 0.5, 0.0, 0.0], [0.4, 0.4, 0.2, 0.0])
    np.testing.assert_allclose(completed_q(winning), [[0.9, 0.5, 0.0, 0.0]])


def test_completed_q_policy_is_the_softmax_of_log_prior_plus_scaled_q() -> None:
    scale = (50 + 6) * 0.1
    logits = np.log([0.4, 0.4, 0.2]) + scale * completed_q(RESULT)[0, :3]
    expected = np.exp(logits) / np.exp(logits).sum()
    target = completed_q_policy(RESULT)
    np.testing.assert_allclose(target[0, :3], expected, rtol=1e-5)
    assert target[0, 3] == 0.0 and target.dtype == np.float32


def test_equal_q_everywhere_gives_back_the_prior() -> None:
    # sigma(q) is the same for every move, so it cancels in the softmax.
    result = _result([3, 3, 2, 0], [0.2, 0.2, 0.2, 0.0], [0.5, 0.3, 0.2, 0.0])
    np.testing.assert_allclose(completed_q_policy(result)[0], [0.5, 0.3, 0.2, 0.0], 1e-5)


def test_a_better_q_raises_a_moves_share() -> None:
    shares = [
        completed_q_policy(_result([4, 4, 0, 0], [q, 0.0, 0.0, 0.0], [0.4, 0.4, 0.2, 0]))
        for q in (-0.5, 0.0, 0.5)
    ]
    assert shares[0][0, 0] < shares[1][0, 0] < shares[2][0, 0]
    for target in shares:
        assert target.sum() == pytest.approx(1.0, abs=1e-6)


def test_winning_moves_take_the_completed_q_target() -> None:
    # X completes four in a row with columns 3 or 7 ("445566") or 1 ("121212"). In the first
    # the uniform prior spreads some visits over other moves, and completed Q moves that mass
    # to the wins; in the second the search spends every visit on the win, and the untried
    # moves, capped at a draw, must not pull the target back to the prior.
    cases = {"445566": [2, 6], "121212": [0]}
    states = State.stack([CONNECT4.parse(p) for p in cases])
    config = MCTSConfig(simulations=32)
    result = search(CONNECT4, states, UniformEvaluator(CONNECT4), config, np.random.default_rng(0))
    by_visits, by_q = visit_policy(result), completed_q_policy(result)
    assert by_q[0, cases["445566"]].sum() > by_visits[0, cases["445566"]].sum()
    for row, wins in enumerate(cases.values()):
        assert by_q[row, wins].sum() > 0.95


def test_selfplay_records_the_chosen_policy_target() -> None:
    # Deterministic games (no noise, greedy moves): searching each recorded position again
    # must give back its recorded completed-Q target; the moves follow the visits either way.
    torch.manual_seed(0)
    model = PolicyValueNet(NetConfig("connect4", blocks=1, channels=8, value_hidden=8)).eval()
    evaluate, config = NetworkEvaluator(model, CONNECT4), MCTSConfig(simulations=16)
    played = {
        kind: play_selfplay_games(
            CONNECT4,
            evaluate,
            config,
            4,
            np.random.default_rng(3),
            temperature_moves=0,
            add_noise=False,
            policy_target=kind,
        )
        for kind in ("visits", "completed-q")
    }
    assert played["visits"].moves == played["completed-q"].moves
    records = played["completed-q"]
    again = search(CONNECT4, records.states, evaluate, config, np.random.default_rng(4))
    np.testing.assert_allclose(records.policies, completed_q_policy(again), atol=1e-5)
    np.testing.assert_allclose(played["visits"].policies, visit_policy(again), atol=1e-6)
    assert not np.allclose(records.policies, played["visits"].policies, atol=1e-3)
    assert not records.policies[~CONNECT4.legal_mask(records.states)].any()


def test_unknown_policy_target_is_refused() -> None:
    state = CONNECT4.initial_state(1)
    result = search(CONNECT4, state, UniformEvaluator(CONNECT4), MCTSConfig(4), None)
    with pytest.raises(ValueError, match="unknown policy target"):
        search_policy(result, "mean")  # type: ignore[arg-type]
