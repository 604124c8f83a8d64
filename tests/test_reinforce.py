"""Policy-gradient self-play (train/learn/reinforce.py): games against the pool, the loss,
the loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from envs import TICTACTOE, State
from envs.experts import TicTacToeExpert
from envs.players import RandomPlayer
from models.checkpoint import load_checkpoint
from models.net import NetConfig, PolicyValueNet
from train.arena.duels import duel
from train.arena.network_players import PolicyPlayer
from train.learn.losses import policy_value_loss
from train.learn.optim import make_optimizer
from train.learn.reinforce import ReinforceConfig, run_reinforce
from train.learn.tb import RunLogger
from train.learn.updates import reinforce_targets, train_one_pass
from train.search.evaluators import NetworkEvaluator, UniformEvaluator
from train.selfplay.pool_games import play_against_pool

TINY = NetConfig("tictactoe", blocks=1, channels=16, value_hidden=16)


def _tiny_net(seed: int) -> PolicyValueNet:
    torch.manual_seed(seed)
    return PolicyValueNet(TINY).eval()


class _Recording:
    """An evaluator that remembers every batch it was asked to score."""

    def __init__(self, evaluate) -> None:
        self.evaluate = evaluate
        self.calls: list[State] = []

    def __call__(self, states: State, legal: np.ndarray):
        self.calls.append(states)
        return self.evaluate(states, legal)


def _expert_evaluator(states: State, legal: np.ndarray):
    return TicTacToeExpert(TICTACTOE).policy(states), np.zeros(len(states), np.float32)


def _replay(moves: str) -> list[State]:
    """Every position of a game (before each move, then the final one), one move at a time."""
    positions = [TICTACTOE.initial_state()]
    for action in TICTACTOE.parse_actions(moves):
        positions.append(TICTACTOE.play(positions[-1], action))
    return positions


def test_only_learner_positions_with_outcomes_from_replayed_games():
    game = TICTACTOE
    learner = _Recording(NetworkEvaluator(_tiny_net(0), game))
    opponent = _Recording(UniformEvaluator(game))
    n = 41
    states, actions, outcomes, stats = play_against_pool(
        game, learner, opponent, n, np.random.default_rng(0), temperature=1.0
    )

    assert stats.learner_first.sum() == n - n // 2  # the learner opens half the games
    assert len(states) == len(actions) == len(outcomes) == len(stats.game_index)
    # What is returned is exactly what the learner was asked about, nothing of the opponent's,
    # and together the two sides saw every position of every game once.
    asked = State.concat(learner.calls)
    for field in ("own", "opp", "ply"):
        np.testing.assert_array_equal(getattr(asked, field), getattr(states, field))
    assert len(states) + sum(len(c) for c in opponent.calls) == stats.game_lengths.sum()
    # One call per side per ply at most (a tic-tac-toe game lasts at most 9 plies).
    assert len(learner.calls) + len(opponent.calls) <= 9 + 9

    # Replay each game from its move string and check each returned position against it.
    for i in range(len(states)):
        g = stats.game_index[i]
        positions = _replay(stats.moves[g])
        ply = int(states.ply[i])
        before = positions[ply]
        assert (int(before.own), int(before.opp)) == (int(states.own[i]), int(states.opp[i]))
        assert actions[i] == TICTACTOE.parse_actions(stats.moves[g])[ply]
        assert (ply % 2 == 0) == stats.learner_first[g]  # it was the learner's turn
        final = positions[-1]
        # The winner made the last move; the first player made it when the game is odd-length.
        if game.is_won(final):
            first_won = (len(positions) - 1) % 2 == 1
            expected = 1.0 if first_won == stats.learner_first[g] else -1.0
        else:
            expected = 0.0
        assert outcomes[i] == expected
    assert {-1.0, 0.0, 1.0} <= set(outcomes.tolist())  # every sign was exercised


@pytest.mark.parametrize("expert_is_learner", [True, False])
def test_perfect_player_never_loses(expert_is_learner):
    # The perfect player can't lose, whichever side is the learner: the signs follow.
    game = TICTACTOE
    sides = (_expert_evaluator, UniformEvaluator(game))
    learner, opponent = sides if expert_is_learner else sides[::-1]
    _, _, outcomes, stats = play_against_pool(
        game, learner, opponent, 64, np.random.default_rng(1), temperature=1.0
    )
    sign = 1.0 if expert_is_learner else -1.0
    assert (sign * outcomes >= 0).all()
    assert (sign * stats.learner_result >= 0).all()
    assert (sign * stats.learner_result > 0).mean() > 0.5  # random play loses most games


def test_policy_loss_is_reinforce_with_baseline():
    rng = np.random.default_rng(2)
    b, a = 32, 9
    legal = rng.random((b, a)) < 0.6
    legal[np.arange(b), rng.integers(0, a, b)] = True
    actions = np.array([rng.choice(np.flatnonzero(row)) for row in legal])
    outcomes = rng.choice([-1.0, 0.0, 1.0], b).astype(np.float32)
    values = rng.uniform(-1, 1, b).astype(np.float32)
    advantage, target = reinforce_targets(values, actions, outcomes, a)
    np.testing.assert_allclose(advantage, outcomes - values)

    logits = torch.tensor(rng.normal(size=(b, a)), dtype=torch.float32, requires_grad=True)
    masked = logits.masked_fill(~torch.from_numpy(legal), -1e9)
    value = torch.tensor(rng.uniform(-1, 1, b), dtype=torch.float32)
    parts = policy_value_loss(
        masked, value, torch.from_numpy(target), torch.from_numpy(outcomes), value_weight=0.5
    )
    # By hand: log pi(a) of the move played, weighted by the advantage, averaged.
    log_pi = F.log_softmax(masked, dim=-1)[torch.arange(b), torch.from_numpy(actions)]
    by_hand = -(torch.from_numpy(advantage) * log_pi).mean()
    torch.testing.assert_close(parts.policy, by_hand)
    torch.testing.assert_close(parts.value, ((value - torch.from_numpy(outcomes)) ** 2).mean())
    # Its gradient is the textbook one: -advantage * (onehot(a) - pi) / B on the legal logits.
    parts.policy.backward()
    pi = torch.softmax(masked, dim=-1).detach().numpy()
    onehot = np.eye(a)[actions]
    expected = -(advantage[:, None] * (onehot - pi)) / b * legal
    np.testing.assert_allclose(logits.grad.numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("outcome", [1.0, -1.0])
def test_one_pass_moves_probability_with_the_outcome(outcome):
    # A won move becomes more likely, a lost one less likely (the baseline keeps the sign,
    # since the value head's tanh lies strictly inside (-1, 1)).
    game = TICTACTOE
    model = _tiny_net(3)
    states = game.initial_state(64)
    actions = np.full(64, 4)
    optimizer, scheduler = make_optimizer(model, 1e-2, 0.0)
    config = ReinforceConfig(batch_size=16, augment=False)

    def prob() -> float:
        priors, _ = NetworkEvaluator(model, game)(states[:1], game.legal_mask(states[:1]))
        return float(priors[0, 4])

    before = prob()
    metrics = train_one_pass(
        game,
        model,
        optimizer,
        scheduler,
        states,
        actions,
        np.full(64, outcome, np.float32),
        config,
        np.random.default_rng(0),
        torch.device("cpu"),
    )
    after = prob()
    assert (after - before) * outcome > 0
    assert np.isfinite(metrics["losses/total"])


def _run(tmp_path: Path, model: PolicyValueNet, iterations: int, resume=None) -> dict:
    config = ReinforceConfig(
        iterations=iterations, games_per_iteration=16, pool_every=1, pool_size=1, batch_size=16
    )
    logger = RunLogger(tmp_path / "tb")
    try:
        return run_reinforce(
            TICTACTOE,
            model,
            config,
            device=torch.device("cpu"),
            logger=logger,
            checkpoint_dir=tmp_path,
            seed=7,
            args={"algo": "reinforce"},
            resume=resume,
        )
    finally:
        logger.close()


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_resumes_exactly(tmp_path):
    initial = {k: v.clone() for k, v in _tiny_net(4).state_dict().items()}

    straight = _tiny_net(4)
    metrics = _run(tmp_path / "straight", straight, iterations=3)
    for tag in ("losses/policy", "reinforce/win_rate_vs_pool", "selfplay/game_length"):
        assert np.isfinite(metrics[tag])

    halfway = _run(tmp_path / "split", _tiny_net(4), iterations=2)
    assert halfway.keys() == metrics.keys()
    path = tmp_path / "split" / "latest.pt"
    assert torch.load(path, weights_only=True)["stage"] == "selfplay"  # plain data only
    checkpoint = load_checkpoint(path, game="tictactoe")
    state = checkpoint.training_state
    assert state["progress"]["iteration"] == 2
    # pool_size=1: the starting network and the latest snapshot.
    assert len(state["pool"]) == 2
    assert _same_weights(state["pool"][0], initial)
    assert _same_weights(state["pool"][1], checkpoint.model.state_dict())

    _run(tmp_path / "split", checkpoint.model, iterations=3, resume=state)
    resumed = load_checkpoint(path).training_state
    assert resumed["progress"]["iteration"] == 3
    assert _same_weights(resumed["pool"][0], initial)
    # Same games, same steps: the resumed run ends where the uninterrupted one does.
    assert _same_weights(checkpoint.model.state_dict(), straight.state_dict())
    straight_state = load_checkpoint(tmp_path / "straight" / "latest.pt").training_state
    assert resumed["progress"]["positions_seen"] == straight_state["progress"]["positions_seen"]


def _score_vs_random(model: PolicyValueNet) -> float:
    player = PolicyPlayer(TICTACTOE, NetworkEvaluator(model, TICTACTOE))
    rng = np.random.default_rng(123)
    return duel(TICTACTOE, player, RandomPlayer(TICTACTOE), 600, rng).score


def test_learns_to_beat_random_player(tmp_path):
    # 20 iterations from a random network (whose pool is itself) lift its greedy score against
    # the random player by 0.2-0.5 (measured for net and run seeds 0..4: 0.42->0.71,
    # 0.48->0.73, 0.30->0.79, 0.56->0.80, 0.54->0.76); the learning rate is above the
    # default (meant for a stage-1 start) so that the test stays short.
    model = _tiny_net(0)
    before = _score_vs_random(model)
    config = ReinforceConfig(iterations=20, games_per_iteration=256, lr=1e-3, batch_size=128)
    logger = RunLogger(tmp_path / "tb")
    run_reinforce(
        TICTACTOE,
        model,
        config,
        device=torch.device("cpu"),
        logger=logger,
        checkpoint_dir=tmp_path,
        seed=0,
        args={},
    )
    logger.close()
    after = _score_vs_random(model)
    assert after > before + 0.15
    assert after > 0.6
