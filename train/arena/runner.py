"""The one lock-step game runner: a batch of games advanced together, one ply per step.

At every step each player's ``act`` is called once, on the sub-batch of unfinished games in
which it is to move (in increasing game order), so a network, a batched search or the
expert sees one large batch rather than one position at a time. Duels, expert data,
stage 2's pool games, random openings and the benchmark set's games all play through
:func:`play_lockstep`; each keeps what it needs from the :class:`Playthrough` it returns.

Randomness comes only from the ``rng`` handed to the players, in call order: per step,
``players[0]`` first, then ``players[1]``. A caller that wraps a player (to record its
policy, say) therefore draws the same numbers as a hand-written loop calling it in that
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.core import Game, State
from envs.players import Player


@dataclass(frozen=True)
class Turn:
    """One call of one player's ``act``.

    Attributes:
        player: the index of the player in the ``players`` given to :func:`play_lockstep`.
        games: int64[K] the games it moved in, increasing.
        states: State[K] the positions it was asked about.
        actions: int64[K] the moves it played there.
    """

    player: int
    games: np.ndarray
    states: State
    actions: np.ndarray


@dataclass(frozen=True)
class Playthrough:
    """The games a :func:`play_lockstep` call played.

    Attributes:
        game: the rules.
        final: State[n] the last position of every game (finished, unless stopped early by
            ``max_plies``).
        turns: every call of a player's ``act``, in call order.
    """

    game: Game
    final: State
    turns: list[Turn]

    def moves(self, width: int | None = None) -> np.ndarray:
        """int64[n, width]: game ``i``'s move at ply ``p`` in ``[i, p]``, -1 where none was
        played (before the start position, after the end); ``width`` defaults to the longest
        any game can be (``game.max_moves``)."""
        width = self.game.max_moves if width is None else width
        table = np.full((len(self.final), width), -1, dtype=np.int64)
        for turn in self.turns:
            table[turn.games, turn.states.ply] = turn.actions
        return table

    def first_player_outcome(self) -> np.ndarray:
        """float32[n]: each finished game's result for the player who moved first (+1 win,
        0 draw, -1 loss)."""
        value = self.game.terminal_value(self.final)  # for the player to move at the end
        return np.where(self.game.to_play(self.final) == 0, value, -value).astype(np.float32)

    def played_by(self, player: int) -> tuple[State, np.ndarray, np.ndarray]:
        """``(states[P], actions int64[P], games int64[P])``: every move of ``players[player]``,
        in call order (by ply, then game)."""
        turns = [t for t in self.turns if t.player == player]
        return (
            State.concat([t.states for t in turns]),
            np.concatenate([t.actions for t in turns]),
            np.concatenate([t.games for t in turns]),
        )


def play_lockstep(
    game: Game,
    players: Sequence[Player],
    start: State,
    rng: np.random.Generator,
    seat: np.ndarray | None = None,
    max_plies: int | None = None,
) -> Playthrough:
    """Play the games ``start[n]`` in lock-step until every one is over.

    Args:
        game: the rules.
        players: one player (it makes every move of every game) or two.
        start: State[n] the positions to play on from (finished ones are left as they are).
        rng: handed to every ``act`` call; the only randomness.
        seat: int[n] the colour of ``players[0]`` in each game (0: it moves first), the other
            player having the other colour; default 0 everywhere. Ignored with one player.
        max_plies: stop each game after this many moves from its start position (an
            opening); default: play on to the end.

    Raises ``ValueError`` naming the player when one returns the wrong number of moves or an
    illegal move.
    """
    if len(players) not in (1, 2):
        raise ValueError(f"play_lockstep takes one or two players, got {len(players)}")
    n = len(start)
    seat = np.zeros(n, dtype=np.int32) if seat is None else np.asarray(seat)
    last_ply = None if max_plies is None else start.ply + max_plies
    state, turns = start, []
    while True:
        live = ~game.is_terminal(state)
        if last_ply is not None:
            live &= state.ply < last_ply
        if not live.any():
            break
        zeroth_to_move = game.to_play(state) == seat
        for index, player in enumerate(players):
            # Both masks come from the state before either player moves, so they are disjoint
            # and the second player's games are untouched by the first player's moves.
            if len(players) == 1:
                turn = live
            else:
                turn = live & (zeroth_to_move if index == 0 else ~zeroth_to_move)
            if not turn.any():
                continue
            sub = state[turn]
            chosen = np.asarray(player.act(sub, rng), dtype=np.int64)
            _check_legal(game, sub, chosen, player)
            turns.append(Turn(index, np.flatnonzero(turn), sub, chosen))
            state = _advance(game, state, turn, chosen)
    return Playthrough(game, state, turns)


def _advance(game: Game, state: State, mask: np.ndarray, actions: np.ndarray) -> State:
    """``state`` with the games selected by ``mask`` (bool[n]) stepped by ``actions``."""
    advanced = state.copy()
    advanced.set_rows(mask, game.step(state[mask], actions))
    return advanced


def _check_legal(game: Game, state: State, actions: np.ndarray, player: Player) -> None:
    if actions.shape != state.shape:
        raise ValueError(f"{player.name} returned {actions.shape} actions for {state.shape}")
    in_range = (actions >= 0) & (actions < game.num_actions)
    legal = game.legal_mask(state)
    ok = in_range & legal[np.arange(len(actions)), np.clip(actions, 0, game.num_actions - 1)]
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise ValueError(
            f"{player.name} played illegal action {actions[bad]} in\n{game.render(state[bad])}"
        )
