"""The gymnasium environments: API compliance, rewards with known answers, masks, rendering."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import CONNECT4, TICTACTOE, Game, State, get_profile
from envs.gym_env import BoardGameEnv, register_envs
from envs.players import RandomPlayer

TICTACTOE_ID = get_profile("tictactoe").env_id
CONNECT4_ID = get_profile("connect4").env_id
#: The built-in games' ids (the profiles name them), id -> game name.
ENV_IDS = {TICTACTOE_ID: "tictactoe", CONNECT4_ID: "connect4"}

GAME_IDS = [TICTACTOE_ID, CONNECT4_ID]
GAMES_BY_ID = {TICTACTOE_ID: TICTACTOE, CONNECT4_ID: CONNECT4}


@pytest.fixture(autouse=True)
def _registered():
    register_envs()


class ScriptedPlayer:
    """Plays a fixed list of actions, one per call: an opponent whose moves we know."""

    def __init__(self, game: Game, actions: list[int]) -> None:
        self.game = game
        self.name = "scripted"
        self._actions = iter(actions)

    def act(self, state: State, rng: np.random.Generator) -> np.ndarray:
        return np.array([next(self._actions)], dtype=np.int64)


def make_strict(env_id: str, **kwargs) -> gym.Env:
    """``gymnasium.make`` (with its passive checker) turning every warning into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return gym.make(env_id, **kwargs)


def strict_step(env: gym.Env, action: int):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return env.step(action)


def strict_reset(env: gym.Env, seed: int | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return env.reset(seed=seed)


# --- registration and gymnasium compliance ---------------------------------------------


def test_register_envs_is_idempotent_and_makes_each_game():
    register_envs()
    register_envs()
    for env_id, name in ENV_IDS.items():
        assert env_id in gym.registry
        assert gym.make(env_id).unwrapped.game.name == name


def test_import_envs_registers_the_ids():
    # A fresh interpreter, so nothing registered by this test session counts.
    code = (
        "import gymnasium, envs; "
        f"missing = [i for i in {list(ENV_IDS)!r} if i not in gymnasium.registry]; "
        "assert not missing, missing"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("opponent", ["random", None], ids=["vs-random", "self-play"])
@pytest.mark.parametrize("env_id", GAME_IDS)
def test_check_env_passes_without_warnings(env_id, opponent):
    # check_env steps with unmasked samples from the action space, which may pick an occupied
    # cell; "lose" is the mode for such callers (the default would rightly raise).
    env = make_strict(env_id, opponent=opponent, illegal_action="lose")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_spaces_match_the_game():
    for env_id, game in GAMES_BY_ID.items():
        env = gym.make(env_id)
        assert env.observation_space == gym.spaces.Box(0, 1, game.obs_shape, np.float32)
        assert env.action_space == gym.spaces.Discrete(game.num_actions)


def test_direct_construction_accepts_a_name_or_a_game():
    assert BoardGameEnv(game="connect4").game is CONNECT4
    assert BoardGameEnv(game=TICTACTOE, opponent=None).opponent is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"game": "chess"}, "unknown game"),
        ({"opponent": "grandmaster"}, "opponent must be"),
        ({"opponent": object()}, "not a Player"),
        ({"opponent": RandomPlayer(CONNECT4)}, "plays connect4, not tictactoe"),
        ({"agent_plays": "last"}, "agent_plays"),
        ({"illegal_action": "ignore"}, "illegal_action"),
        ({"render_mode": "rgb_array"}, "render_mode"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BoardGameEnv(**kwargs)


# --- known results ---------------------------------------------------------------------


def play_script(env: gym.Env, game: Game, moves: str) -> list[tuple[float, bool, int]]:
    """(reward, terminated, to_play) after each action of the move string."""
    strict_reset(env, seed=0)
    results = []
    for action in game.parse_actions(moves):
        _, reward, terminated, truncated, info = strict_step(env, action)
        assert truncated is False
        results.append((reward, terminated, info["to_play"]))
    return results


def test_self_play_connect4_first_player_wins_vertically():
    env = make_strict(CONNECT4_ID, opponent=None)
    results = play_script(env, CONNECT4, "1212121")
    assert results[-1][:2] == (1.0, True)
    assert all(r == (0.0, False, (i + 1) % 2) for i, r in enumerate(results[:-1]))


def test_self_play_tictactoe_second_player_wins():
    # X: 1 2 4, O: 5 3 7 -- O completes the 3-5-7 diagonal with the sixth move.
    env = make_strict(TICTACTOE_ID, opponent=None)
    results = play_script(env, TICTACTOE, "152347")
    assert results[-1][:2] == (1.0, True)
    assert [r[:2] for r in results[:-1]] == [(0.0, False)] * 5


def test_self_play_tictactoe_draw():
    env = make_strict(TICTACTOE_ID, opponent=None)
    results = play_script(env, TICTACTOE, "519328467")
    assert [r[:2] for r in results] == [(0.0, False)] * 8 + [(0.0, True)]
    assert not np.signbit(results[-1][0]), "a draw is +0.0, not -0.0"


def test_agent_loses_to_an_opponent_that_stacks_a_column():
    # The opponent moves first and fills column 4; the agent wastes its moves in column 1.
    opponent = ScriptedPlayer(CONNECT4, [3, 3, 3, 3])
    env = make_strict(CONNECT4_ID, opponent=opponent, agent_plays="second")
    obs, info = strict_reset(env, seed=0)
    assert obs[1].sum() == 1 and info["to_play"] == 1  # the opponent's first stone is down
    steps = [strict_step(env, 0) for _ in range(3)]
    assert [s[1:3] for s in steps] == [(0.0, False), (0.0, False), (-1.0, True)]
    assert steps[-1][4]["action_mask"].sum() == 0


def test_agent_beats_an_opponent():
    opponent = ScriptedPlayer(CONNECT4, [0, 0, 0])
    env = make_strict(CONNECT4_ID, opponent=opponent)
    strict_reset(env, seed=0)
    steps = [strict_step(env, 3) for _ in range(4)]
    assert [s[1:3] for s in steps] == [(0.0, False)] * 3 + [(1.0, True)]


def test_agent_draws_with_an_opponent():
    # The draw "519328467" with the agent as X (first) and the opponent as O.
    actions = TICTACTOE.parse_actions("519328467")
    env = make_strict(TICTACTOE_ID, opponent=ScriptedPlayer(TICTACTOE, actions[1::2]))
    strict_reset(env, seed=0)
    steps = [strict_step(env, a) for a in actions[0::2]]
    assert [s[1:3] for s in steps] == [(0.0, False)] * 4 + [(0.0, True)]


# --- random episodes: every step agrees with the rules -----------------------------------


def run_checked_episode(env: gym.Env, game: Game, rng: np.random.Generator, seed: int) -> float:
    """Play random legal moves to the end, checking each step against the rules; the return."""
    base = env.unwrapped
    obs, info = strict_reset(env, seed=seed)
    terminated, reward, steps = False, 0.0, 0
    while not terminated:
        state = base.state
        assert np.array_equal(obs, game.observation(state))
        assert info["action_mask"].dtype == np.int8
        assert np.array_equal(info["action_mask"], game.legal_mask(state).astype(np.int8))
        assert info["to_play"] == game.to_play(state)
        if base.opponent is not None:
            assert info["to_play"] == base.agent_player  # the agent always sees its own turn
        mover = info["to_play"]
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, terminated, truncated, info = strict_step(env, action)
        assert truncated is False
        assert terminated == bool(game.is_terminal(base.state))
        if not terminated:
            assert reward == 0.0
        steps += 1
    final = base.state
    assert info["action_mask"].sum() == 0
    # The result, worked out from the final board: the last mover won if there is a line.
    viewer = base.agent_player if base.opponent is not None else mover
    if game.is_won(final):
        winner = 1 - int(game.to_play(final))
        assert reward == (1.0 if winner == viewer else -1.0)
    else:
        assert final.ply == game.num_cells and reward == 0.0
    return reward


@pytest.mark.parametrize("agent_plays", ["first", "second", "random"])
@pytest.mark.parametrize("env_id", GAME_IDS)
def test_random_episodes_against_random_opponent(env_id, agent_plays):
    env = make_strict(env_id, agent_plays=agent_plays)
    rng = np.random.default_rng(1)
    returns = [run_checked_episode(env, GAMES_BY_ID[env_id], rng, seed) for seed in range(20)]
    assert set(returns) <= {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("env_id", GAME_IDS)
def test_random_episodes_in_self_play(env_id):
    env = make_strict(env_id, opponent=None)
    rng = np.random.default_rng(2)
    returns = [run_checked_episode(env, GAMES_BY_ID[env_id], rng, seed) for seed in range(20)]
    assert set(returns) <= {0.0, 1.0}  # the mover of the last move never loses by it


# --- illegal actions -------------------------------------------------------------------


def test_illegal_action_raises_by_default():
    env = gym.make(TICTACTOE_ID, opponent=None)
    env.reset(seed=0)
    env.step(4)
    with pytest.raises(ValueError, match="illegal action 4: cell 5 is taken"):
        env.step(4)
    env = gym.make(CONNECT4_ID, opponent=None)
    play_script(env, CONNECT4, "111111")
    with pytest.raises(ValueError, match="column 1 is full"):
        env.step(0)


@pytest.mark.parametrize("illegal_action", ["raise", "lose"])
def test_actions_outside_the_space_always_raise(illegal_action):
    env = BoardGameEnv("tictactoe", opponent=None, illegal_action=illegal_action)
    env.reset(seed=0)
    for action in (9, -1, 2.5):
        with pytest.raises(ValueError, match="not in the action space"):
            env.step(action)


def test_illegal_action_loses_in_lose_mode_self_play():
    env = make_strict(TICTACTOE_ID, opponent=None, illegal_action="lose")
    strict_reset(env, seed=0)
    strict_step(env, 4)
    obs, reward, terminated, truncated, info = strict_step(env, 4)
    assert (reward, terminated, truncated) == (-1.0, True, False)
    assert info["illegal_action"] is True
    assert info["action_mask"].sum() == 0
    assert env.unwrapped.state.ply == 1  # the illegal move was not played
    assert np.array_equal(obs, TICTACTOE.observation(TICTACTOE.parse("5")))


def test_illegal_action_loses_in_lose_mode_against_opponent():
    opponent = ScriptedPlayer(TICTACTOE, [0])
    env = make_strict(TICTACTOE_ID, opponent=opponent, illegal_action="lose")
    strict_reset(env, seed=0)
    strict_step(env, 4)  # the opponent answers in cell 1 (action 0)
    _, reward, terminated, _, info = strict_step(env, 0)
    assert (reward, terminated, info["illegal_action"]) == (-1.0, True, True)


def test_stepping_outside_an_episode_is_refused():
    env = BoardGameEnv("tictactoe", opponent=None, illegal_action="lose")
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    env.step(0)
    env.step(0)  # illegal: the episode ends
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(1)


# --- rendering and seeding -------------------------------------------------------------


@pytest.mark.parametrize("env_id", GAME_IDS)
def test_ansi_render_is_the_game_render(env_id):
    game = GAMES_BY_ID[env_id]
    env = gym.make(env_id, render_mode="ansi")
    env.reset(seed=3)
    assert env.render() == game.render(game.initial_state())
    env.step(2)
    assert env.render() == game.render(env.unwrapped.state)
    assert env.unwrapped.state.ply == 2  # the opponent's reply is on the rendered board


def test_human_render_prints_the_board_on_reset_and_step(capsys):
    env = BoardGameEnv("connect4", opponent=None, render_mode="human")
    env.reset(seed=0)
    assert CONNECT4.render(CONNECT4.initial_state()) in capsys.readouterr().out
    env.step(3)
    assert CONNECT4.render(CONNECT4.parse("4")) in capsys.readouterr().out
    assert env.render() is None


def test_render_without_a_mode_warns():
    env = BoardGameEnv("tictactoe")
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


def trajectory(env: gym.Env, seed: int, moves_seed: int) -> list:
    """Everything the agent sees in one episode with random legal moves."""
    rng = np.random.default_rng(moves_seed)
    obs, info = env.reset(seed=seed)
    seen = [obs.tobytes()]
    terminated = False
    while not terminated:
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, terminated, _, info = env.step(action)
        seen.append((obs.tobytes(), reward))
    return seen


@pytest.mark.parametrize("env_id", GAME_IDS)
def test_same_seed_same_episode(env_id):
    a = gym.make(env_id, agent_plays="random")
    b = gym.make(env_id, agent_plays="random")
    for seed in range(5):
        assert trajectory(a, seed, moves_seed=seed) == trajectory(b, seed, moves_seed=seed)
    # The opponent's moves come from the seed: the same agent moves meet different replies.
    different = {str(trajectory(a, seed, moves_seed=0)) for seed in range(5)}
    assert len(different) > 1


def test_agent_plays_random_draws_both_sides():
    env = BoardGameEnv("tictactoe", agent_plays="random")
    sides = set()
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        sides.add(env.agent_player)
        # Moving second, the agent finds the opponent's first stone and the "first" plane off.
        assert obs[1].sum() == env.agent_player
        assert obs[2].all() == (env.agent_player == 0)
    assert sides == {0, 1}


# --- the expert opponent (envs/experts/) ----------------------------------------------


@pytest.mark.parametrize("env_id", GAME_IDS)
def test_check_env_against_the_expert(env_id):
    pytest.importorskip("envs.experts", reason="envs/experts/ is not written yet")
    env = make_strict(env_id, opponent="expert", illegal_action="lose")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_random_agent_never_beats_the_tictactoe_expert():
    pytest.importorskip("envs.experts", reason="envs/experts/ is not written yet")
    env = make_strict(TICTACTOE_ID, opponent="expert", agent_plays="random")
    rng = np.random.default_rng(4)
    returns = [run_checked_episode(env, TICTACTOE, rng, seed) for seed in range(20)]
    assert max(returns) <= 0.0
    assert min(returns) == -1.0  # and a perfect player does beat random moves
