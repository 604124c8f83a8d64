"""Gymnasium environments for every registered game: a thin wrapper over the rules.

The rules live in :mod:`envs.core` (and the game modules); this wrapper only keeps one
position, asks the :class:`~envs.core.Game` what is legal, what is over and who won, and
translates that into gymnasium's ``reset``/``step`` API. Search and self-play never go
through it: they call the batched rules directly.

Two ways to play:

* **Against an opponent** (``opponent="random"``, ``"expert"`` or any
  :class:`~envs.players.Player`): the environment plays the other side, so every
  observation the agent sees (before the end) is a position where the agent is to move,
  and the reward is the final result from the agent's point of view: +1 win, -1 loss,
  0 draw, 0 on every step before the end. ``agent_plays`` says whether the agent moves
  first (the default, so a seeded reset is the empty board), second, or a side drawn at
  each reset.
* **Self-play** (``opponent=None``): the caller plays both sides. The reward of a step is
  from the point of view of the player who just made that move (+1 if it won the game);
  ``info["to_play"]`` says who moves next (0 = first player, 1 = second).

Observations are ``game.observation(state)``, float32 ``[planes, rows, cols]`` from the view
of the player to move (on the final step, of the player who would move next). Every
``reset`` and ``step`` puts ``info["action_mask"]`` (int8 ``[A]``, 1 = legal, all 0 once the
episode is over) and ``info["to_play"]`` in the info dict.

An illegal action raises ``ValueError``; with ``illegal_action="lose"`` it instead ends the
episode with reward -1 for the player who tried it (``info["illegal_action"] = True``), for
RL libraries that cannot mask actions. An action outside ``action_space`` always raises.

Each game's profile names its id (``envs.registry.register_game`` registers it), so
``import envs`` registers ``apprentice/TicTacToe-v0`` and ``apprentice/ConnectFour-v0``::

    env = gymnasium.make("apprentice/ConnectFour-v0", opponent="expert", render_mode="ansi")
    obs, info = env.reset(seed=0)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core import Game, State
from envs.players import Player, RandomPlayer

_AGENT_PLAYS = ("first", "second", "random")
_ILLEGAL_ACTION = ("raise", "lose")


class BoardGameEnv(gym.Env[np.ndarray, np.int64]):
    """One game (tic-tac-toe, Connect Four, ...), against an opponent or in self-play.

    Args:
        game: a registered game's name (``"tictactoe"``, ``"connect4"``) or a :class:`Game`.
        opponent: ``"random"``, ``"expert"`` (``envs.experts.make_expert(game)``), a
            :class:`Player` of the same game, or ``None`` for self-play.
        agent_plays: against an opponent, whether the agent moves ``"first"``,
            ``"second"`` or on a side drawn at each reset (``"random"``, from
            ``self.np_random``). Ignored in self-play.
        illegal_action: ``"raise"`` (``ValueError``) or ``"lose"`` (end the episode, -1).
        render_mode: ``None``, ``"ansi"`` (``render()`` returns the board as a string) or
            ``"human"`` (the board is printed after every reset and step).

    Spaces: observations float32 ``Box(0, 1, game.obs_shape)``; actions
    ``Discrete(game.num_actions)`` (0-based: a tic-tac-toe cell or a Connect Four column).
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 1}

    def __init__(
        self,
        game: str | Game = "tictactoe",
        opponent: str | Player | None = "random",
        agent_plays: str = "first",
        illegal_action: str = "raise",
        render_mode: str | None = None,
    ) -> None:
        self.game = _resolve_game(game)
        self.opponent = _make_opponent(self.game, opponent)
        if agent_plays not in _AGENT_PLAYS:
            raise ValueError(f"agent_plays must be one of {_AGENT_PLAYS}, got {agent_plays!r}")
        if illegal_action not in _ILLEGAL_ACTION:
            raise ValueError(
                f"illegal_action must be one of {_ILLEGAL_ACTION}, got {illegal_action!r}"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        self.agent_plays = agent_plays
        self.illegal_action = illegal_action
        self.render_mode = render_mode

        self.observation_space = spaces.Box(0.0, 1.0, shape=self.game.obs_shape, dtype=np.float32)
        self.action_space = spaces.Discrete(self.game.num_actions)

        self._state: State | None = None
        self._over = False  # the episode has ended (game over, or an illegal move lost it)
        #: 0 or 1: the side the agent plays against an opponent (None in self-play).
        self.agent_player: int | None = None

    @property
    def state(self) -> State:
        """The current position (a single game, shape ``()``)."""
        if self._state is None:
            raise RuntimeError("call reset() before using the environment")
        return self._state

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new game; ``seed`` reseeds ``self.np_random`` (the opponent's moves, the
        side drawn by ``agent_plays="random"``). ``options`` is not used."""
        super().reset(seed=seed)
        self._state = self.game.initial_state()
        self._over = False
        if self.opponent is not None:
            self.agent_player = self._draw_agent_player()
            if self.agent_player == 1:
                self._opponent_moves()
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action: int | np.integer) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Play ``action`` for the player to move (then, against an opponent, its reply).

        Returns ``(observation, reward, terminated, truncated, info)``; ``truncated`` is
        always False since every game ends by itself.
        """
        state = self.state
        if self._over:
            raise RuntimeError("the episode is over; call reset() to start a new game")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in the action space {self.action_space}")
        mover = int(self.game.to_play(state))
        try:
            self._state = self.game.play(state, int(action))
        except ValueError as err:
            if self.illegal_action == "raise":
                raise ValueError(f"illegal action {int(action)}: {err}") from None
            self._over = True
            info = self._info()
            info["illegal_action"] = True
            if self.render_mode == "human":
                self.render()
            return self._observation(), -1.0, True, False, info

        if self.opponent is not None and not self.game.is_terminal(self._state):
            self._opponent_moves()
        self._over = bool(self.game.is_terminal(self._state))
        reward = self._result_for(mover) if self._over else 0.0
        if self.render_mode == "human":
            self.render()
        return self._observation(), reward, self._over, False, self._info()

    def render(self) -> str | None:
        """The board as text (``"ansi"``), printed (``"human"``), or nothing without a mode."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render_mode; pass render_mode='ansi' or "
                "'human' when making the environment."
            )
            return None
        text = self.game.render(self.state)
        if self.render_mode == "ansi":
            return text
        print(text + "\n")
        return None

    # --- helpers -----------------------------------------------------------------------

    def _draw_agent_player(self) -> int:
        if self.agent_plays == "random":
            return int(self.np_random.integers(2))
        return 0 if self.agent_plays == "first" else 1

    def _opponent_moves(self) -> None:
        # Players act on batches: ask for one move for a batch of one position.
        action = self.opponent.act(self.state[None], self.np_random)[0]
        self._state = self.game.play(self.state, int(action))

    def _result_for(self, player: int) -> float:
        """The final result (+1, 0, -1) for ``player`` (0 = first), from the game's own
        terminal value, which is from the view of the player to move."""
        value = float(self.game.terminal_value(self.state))
        result = value if int(self.game.to_play(self.state)) == player else -value
        return result + 0.0  # a draw seen from the other side is -0.0; report it as 0.0

    def _observation(self) -> np.ndarray:
        return self.game.observation(self.state)

    def _info(self) -> dict[str, Any]:
        if self._over:
            mask = np.zeros(self.game.num_actions, dtype=np.int8)
        else:
            mask = self.game.legal_mask(self.state).astype(np.int8)
        return {"action_mask": mask, "to_play": int(self.game.to_play(self.state))}


def register_env(env_id: str, game_name: str) -> None:
    """Register ``env_id`` with gymnasium as a :class:`BoardGameEnv` of the game called
    ``game_name``; an id registered already is left alone."""
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point="envs.gym_env:BoardGameEnv", kwargs={"game": game_name})


def unregister_env(env_id: str) -> None:
    """Remove ``env_id`` from gymnasium's registry (the reverse of :func:`register_env`)."""
    gym.registry.pop(env_id, None)


def env_ids() -> dict[str, str]:
    """Registered environment id -> game name, for every game whose profile names an id
    (``apprentice/TicTacToe-v0``, ``apprentice/ConnectFour-v0``, and any registered since)."""
    from envs.registry import PROFILES

    return {p.env_id: name for name, p in PROFILES.items() if p.env_id is not None}


def register_envs() -> None:
    """Register the gymnasium id of every registered game (``envs.registry.register_game``
    does it for each game; this is safe to call more than once)."""
    for env_id, game_name in env_ids().items():
        register_env(env_id, game_name)


def _resolve_game(game: str | Game) -> Game:
    if isinstance(game, Game):
        return game
    # Imported here, not at the top: the registry imports this module to register the
    # environments, so it may still be loading when this module is.
    from envs.registry import get_game

    return get_game(game)


def _make_opponent(game: Game, opponent: str | Player | None) -> Player | None:
    if opponent is None:
        return None
    if isinstance(opponent, str):
        if opponent == "random":
            return RandomPlayer(game)
        if opponent == "expert":
            # Imported on demand, so the environments load without the experts' compiled code.
            from envs.experts import make_expert

            return make_expert(game)
        raise ValueError(f"opponent must be 'random', 'expert', a Player or None, got {opponent!r}")
    if not isinstance(opponent, Player):
        raise ValueError(f"opponent {opponent!r} is not a Player (it needs name, game and act)")
    if opponent.game.name != game.name:
        raise ValueError(f"opponent {opponent.name!r} plays {opponent.game.name}, not {game.name}")
    return opponent
