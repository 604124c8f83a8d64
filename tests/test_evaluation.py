"""Duels: colours alternate, results are counted right, intervals behave, openings vary."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from envs import CONNECT4, TICTACTOE, Game, State
from envs.players import RandomPlayer
from envs.profile import all_positions
from tests.test_grading import OraclePlayer, minimax_action_values
from train.arena.duels import DuelResult, Record, duel, play_games, wilson_interval
from train.arena.network_players import PolicyPlayer, SearchPlayer
from train.arena.specs import make_player
from train.search.search import MCTSConfig


class FirstLegal:
    """Deterministic: always the lowest legal action. Records who it was asked to move for."""

    def __init__(self, game: Game, name: str = "first-legal") -> None:
        self.game = game
        self.name = name
        self.calls: list[np.ndarray] = []  # the plies of each batch it was asked about

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        self.calls.append(state.ply.copy())
        return np.argmax(self.game.legal_mask(state), axis=-1)


class Illegal:
    name = "cheat"
    game = TICTACTOE

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        return np.full(len(state), 4)  # the centre, again and again


@cache
def _random_game_odds(own: int = 0, opp: int = 0) -> tuple[float, float]:
    """(P(player to move wins), P(draw)) when both players move uniformly at random."""
    lines = [0b111, 0b111000, 0b111000000, 0b1001001, 0b10010010, 0b100100100, 0b100010001]
    lines.append(0b1010100)
    if any(opp & line == line for line in lines):
        return 0.0, 0.0
    empty = [c for c in range(9) if not (own | opp) >> c & 1]
    if not empty:
        return 0.0, 1.0
    win = draw = 0.0
    for c in empty:
        opp_wins, d = _random_game_odds(opp, own | 1 << c)
        lose = 1 - opp_wins - d  # the opponent loses: we win
        win, draw = win + lose / len(empty), draw + d / len(empty)
    return win, draw


def test_random_duel_alternates_colours_and_shows_first_move_advantage():
    a, b = RandomPlayer(TICTACTOE), RandomPlayer(TICTACTOE)
    result = duel(TICTACTOE, a, b, 4000, np.random.default_rng(0))
    assert result.as_first.n == result.as_second.n == 2000
    assert result.wins + result.draws + result.losses == result.n == 4000
    # Exact odds of random tic-tac-toe, computed independently above (first player ~0.585).
    win, draw = _random_game_odds()
    first_score = win + draw / 2
    for record, expected in [(result.as_first, first_score), (result.as_second, 1 - first_score)]:
        se = np.sqrt(expected * (1 - expected) / record.n)
        assert abs(record.score - expected) < 4 * se
        assert abs(record.draws / record.n - draw) < 4 * np.sqrt(draw * (1 - draw) / record.n)


def test_recorded_games_replay_to_the_reported_results():
    a, b = RandomPlayer(TICTACTOE), FirstLegal(TICTACTOE)
    result = duel(TICTACTOE, a, b, 60, np.random.default_rng(1), opening_moves=2)
    wins = draws = losses = 0
    for i in range(result.n):
        final = TICTACTOE.parse(result.games.notation(i))  # replays and checks every move
        assert TICTACTOE.is_terminal(final)
        # The player who made the last move won, if there is a line.
        last_mover_first = final.ply % 2 == 1
        a_made_last = last_mover_first == result.a_first[i]
        if not TICTACTOE.is_won(final):
            draws += 1
        elif a_made_last:
            wins += 1
        else:
            losses += 1
    assert (wins, draws, losses) == (result.wins, result.draws, result.losses)


def test_each_player_is_asked_once_per_ply_for_its_own_colour():
    a, b = FirstLegal(CONNECT4, "a"), FirstLegal(CONNECT4, "b")
    n = 40
    result = duel(CONNECT4, a, b, n, np.random.default_rng(2), opening_moves=4)
    a_first = result.a_first
    assert a_first.sum() == n // 2
    # Lock-step: one call per ply (never one per game), and only for its own colour's plies.
    assert len(a.calls) <= CONNECT4.num_cells and len(b.calls) <= CONNECT4.num_cells
    assert sum(len(c) for c in a.calls) + sum(len(c) for c in b.calls) == (
        result.games.plies.sum() - 4 * n
    )
    # Every game in a call is at the same ply here (equal-length openings): a moves at even
    # plies in the games where it moves first and at odd plies in the others.
    for ply in a.calls:
        assert len(np.unique(ply)) == 1
    assert sum(len(c) for c in a.calls if c[0] % 2 == 0) == sum(
        (result.games.plies[a_first] - 4 + 1) // 2
    )


def test_odd_number_of_games_gives_the_extra_one_to_a():
    result = duel(
        TICTACTOE, RandomPlayer(TICTACTOE), FirstLegal(TICTACTOE), 7, np.random.default_rng(0)
    )
    assert (result.as_first.n, result.as_second.n) == (4, 3)
    with pytest.raises(ValueError):
        duel(
            TICTACTOE, RandomPlayer(TICTACTOE), RandomPlayer(TICTACTOE), 0, np.random.default_rng(0)
        )


def test_perfect_player_never_loses_to_random():
    positions = all_positions(TICTACTOE)
    perfect = OraclePlayer(positions, minimax_action_values(positions))
    result = duel(TICTACTOE, perfect, RandomPlayer(TICTACTOE), 400, np.random.default_rng(3))
    assert result.losses == 0
    assert result.wins > result.draws
    assert result.as_first.score > result.as_second.score  # moving first helps even so


def test_opening_moves_make_deterministic_players_play_distinct_games():
    rng = np.random.default_rng(4)
    a, b = FirstLegal(CONNECT4, "a"), FirstLegal(CONNECT4, "b")
    same = play_games(CONNECT4, a, b, 30, rng)
    assert len({same.notation(i) for i in range(30)}) == 1
    varied = play_games(CONNECT4, a, b, 30, rng, opening_moves=4)
    assert len({varied.notation(i) for i in range(30)}) > 20
    # Twins: game i with a first and game i with b first share the opening.
    result = duel(CONNECT4, a, b, 30, rng, opening_moves=4)
    twins = result.games.actions
    np.testing.assert_array_equal(twins[:15, :4], twins[15:, :4])
    assert len({tuple(row) for row in twins[:15, :4]}) > 10


def test_wilson_interval_known_values_and_behaviour():
    z2 = 1.959963984540054**2
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(z2 / (10 + z2))  # closed form at p = 0
    assert wilson_interval(10, 10)[0] == pytest.approx(10 / (10 + z2))
    assert wilson_interval(0, 0) == (0.0, 1.0)
    widths = []
    for n in (40, 160, 640, 2560):
        result = DuelResult(
            "a", "b", Record(n // 4, n // 8, n // 8), Record(n // 8, n // 8, n // 4)
        )
        low, high = result.score_interval
        assert low <= result.score <= high
        low_w, high_w = result.win_interval
        assert low_w <= result.win_rate <= high_w
        widths.append(high - low)
    # Four times the games, about half the width.
    assert all(0.45 < w2 / w1 < 0.55 for w1, w2 in zip(widths, widths[1:], strict=False))


def test_score_interval_covers_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(5)
    p_win, p_draw, n = 0.5, 0.2, 100
    true_score = p_win + p_draw / 2
    covered = 0
    for _ in range(400):
        w, d, losses = rng.multinomial(n, [p_win, p_draw, 1 - p_win - p_draw])
        low, high = DuelResult("a", "b", Record(w, d, losses), Record(0, 0, 0)).score_interval
        covered += low <= true_score <= high
    assert covered / 400 >= 0.93  # conservative with draws: at least nominal coverage


def test_metrics_and_summary():
    result = DuelResult("net", "expert", Record(3, 4, 3), Record(1, 6, 3))
    metrics = result.as_metrics()
    assert metrics == {
        "eval/vs_expert/win_rate": 0.2,
        "eval/vs_expert/draw_rate": 0.5,
        "eval/vs_expert/loss_rate": 0.3,
        "eval/vs_expert/score": 0.45,
    }
    assert set(result.as_metrics("eval/vs_mcts")) == {
        f"eval/vs_mcts/{k}" for k in ("win_rate", "draw_rate", "loss_rate", "score")
    }
    text = str(result)
    assert "net vs expert" in text and "+4 =10 -6" in text and "0.450" in text
    assert "\n" not in text


def test_illegal_moves_are_refused():
    with pytest.raises(ValueError, match="cheat"):
        play_games(TICTACTOE, Illegal(), RandomPlayer(TICTACTOE), 3, np.random.default_rng(0))


def _fixed_priors(priors: list[float]):
    def evaluate(states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.tile(np.float32(priors), (len(states), 1)), np.zeros(len(states), np.float32)

    return evaluate


def test_policy_player_plays_the_best_legal_prior_or_samples():
    priors = [0.5, 0.3, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.0]
    player = PolicyPlayer(TICTACTOE, _fixed_priors(priors))
    rng = np.random.default_rng(0)
    states = TICTACTOE.parse("1")  # cell 1 (action 0), the top prior, is taken
    batch = State(*(np.repeat(x[None], 3000, axis=0) for x in (states.own, states.opp, states.ply)))
    assert (player.act(batch, rng) == 1).all()
    sampled = PolicyPlayer(TICTACTOE, _fixed_priors(priors), temperature=1.0).act(batch, rng)
    assert set(np.unique(sampled)) == {1, 4}
    assert abs((sampled == 1).mean() - 0.6) < 0.04  # 0.3 / (0.3 + 0.2)
    sharp = PolicyPlayer(TICTACTOE, _fixed_priors(priors), temperature=0.01).act(batch, rng)
    assert (sharp == 1).all()


def test_search_player_takes_an_immediate_win():
    from train.search.evaluators import RolloutEvaluator

    # Each time X has two in a line and must complete it now, or O completes its own.
    states = [TICTACTOE.parse(s) for s in ("1425", "7182", "9253")]
    batch = State(*(np.stack([getattr(s, f) for s in states]) for f in ("own", "opp", "ply")))
    rng = np.random.default_rng(0)
    player = SearchPlayer(TICTACTOE, RolloutEvaluator(TICTACTOE, rng), MCTSConfig(200))
    assert player.act(batch, rng).tolist() == [2, 8, 0]


def test_make_player_parses_specs():
    assert isinstance(make_player("random", TICTACTOE), RandomPlayer)
    mcts = make_player("mcts:50", TICTACTOE)
    assert isinstance(mcts, SearchPlayer) and mcts.config.simulations == 50
    assert make_player("mcts:sims=20", TICTACTOE).config.simulations == 20
    for bad in ("randomish", "mcts:sims=5,depth=2", "mcts:fast", "alphago"):
        with pytest.raises(ValueError):
            make_player(bad, TICTACTOE)
    result = duel(TICTACTOE, mcts, RandomPlayer(TICTACTOE), 6, np.random.default_rng(0))
    assert result.losses <= 1  # 50 rollouts per move rarely lose to random


def test_make_player_loads_checkpoints(tmp_path):
    from models.checkpoint import save_checkpoint
    from models.net import NetConfig, PolicyValueNet

    path = tmp_path / "tiny.pt"
    model = PolicyValueNet(NetConfig("tictactoe", blocks=0, channels=4, value_hidden=4))
    save_checkpoint(path, model, stage="imitation", step=0, args={}, metrics={}, seed=0)
    alone = make_player(str(path), TICTACTOE)
    assert isinstance(alone, PolicyPlayer) and alone.name == "tiny"
    searching = make_player(f"{path}:sims=4", TICTACTOE)
    assert isinstance(searching, SearchPlayer) and searching.config.simulations == 4
    for player in (alone, searching):
        result = duel(TICTACTOE, player, RandomPlayer(TICTACTOE), 4, np.random.default_rng(0))
        assert result.n == 4
    with pytest.raises(ValueError):
        make_player(f"{path}:depth=3", TICTACTOE)
    with pytest.raises(ValueError):  # a tic-tac-toe network can't play Connect Four
        make_player(str(path), CONNECT4)


def test_make_player_builds_experts():
    experts = pytest.importorskip("envs.experts")
    expert = make_player("expert", TICTACTOE)
    assert isinstance(expert, type(experts.make_expert(TICTACTOE)))
    result = duel(TICTACTOE, expert, RandomPlayer(TICTACTOE), 100, np.random.default_rng(0))
    assert result.losses == 0
