"""Duels between players: batched games, alternating colours, scores with confidence intervals.

All games of a duel are stepped together in lock-step (:mod:`train.arena.runner`). At every
ply each player's ``act`` is called once, on the sub-batch of games in which it is to move, so
a network or a batched search sees one large batch rather than one position at a time.

Fairness. Half the games are played with each player moving first, and each pair of
colour-swapped games starts from the *same* opening: optionally ``opening_moves`` uniformly
random plies, which make two deterministic players play different games (otherwise a duel
between them is one game repeated ``n / 2`` times). A pair of twins shares its opening, so
any luck the opening hands to one colour is handed to both players once.

Intervals. The score counts a win as 1 and a draw as 1/2. Its 95% interval is the Wilson
score interval, treating the score as a proportion of ``n``: since a per-game score lies in
[0, 1] with mean ``s``, its variance is at most ``s (1 - s)`` (draws only lower it), so this
interval is conservative, and unlike the plain normal approximation it does not collapse to a
point when every game is won or drawn. The win rate gets the ordinary Wilson interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from envs.core import Game, State
from envs.players import Player
from train.arena.positions import random_openings
from train.arena.runner import play_lockstep

Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


# --- playing games --------------------------------------------------------------------------


@dataclass(frozen=True)
class GameRecords:
    """A batch of finished games.

    Attributes:
        game: the game played.
        outcome: float32[n] result for the player who moved first (+1 win, 0 draw, -1 loss).
        plies: int32[n] moves played in each game, random opening included.
        actions: int64[n, cells] the moves in order, padded with -1.
    """

    game: Game
    outcome: np.ndarray
    plies: np.ndarray
    actions: np.ndarray

    def __len__(self) -> int:
        return len(self.outcome)

    def notation(self, index: int) -> str:
        """The move string of game ``index``, e.g. ``"4453..."``."""
        moves = self.actions[index]
        return self.game.notation(moves[moves >= 0])


def play_games(
    game: Game,
    first: Player,
    second: Player,
    n: int,
    rng: np.random.Generator,
    opening_moves: int = 0,
) -> GameRecords:
    """Play ``n`` games in lock-step, ``first`` taking the first player's colour in all of them.

    The first ``opening_moves`` plies are uniformly random legal moves (see the module
    docstring); ``first`` still plays the colour that moved first.
    """
    start, opening = random_openings(game, n, opening_moves, rng)
    seat = np.zeros(n, dtype=np.int32)
    return _play(game, start, opening, (first, second), seat, rng)


def _play(
    game: Game,
    start: State,
    opening: np.ndarray,
    players: tuple[Player, Player],
    seat: np.ndarray,
    rng: np.random.Generator,
) -> GameRecords:
    """Play games from ``start[n]``; ``players[0]`` has colour ``seat[i]`` in game ``i``."""
    played = play_lockstep(game, players, start, rng, seat=seat)
    actions = played.moves()
    actions[:, : opening.shape[1]] = opening
    outcome = played.first_player_outcome()
    return GameRecords(game, outcome, played.final.ply.astype(np.int32), actions)


# --- duels ----------------------------------------------------------------------------------


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n`` (``(0, 1)`` when n = 0)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Record:
    """Wins, draws and losses of one player."""

    wins: int
    draws: int
    losses: int

    @property
    def n(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        """Points per game, a win 1 and a draw 1/2 (NaN for no games)."""
        return (self.wins + 0.5 * self.draws) / self.n if self.n else math.nan

    def __add__(self, other: Record) -> Record:
        return Record(self.wins + other.wins, self.draws + other.draws, self.losses + other.losses)

    def __str__(self) -> str:
        return f"+{self.wins} ={self.draws} -{self.losses}"

    @classmethod
    def from_outcomes(cls, outcome: np.ndarray) -> Record:
        """Count +1 / 0 / -1 outcomes (float[n])."""
        return cls(int((outcome > 0).sum()), int((outcome == 0).sum()), int((outcome < 0).sum()))


@dataclass(frozen=True)
class DuelResult:
    """The result of a duel, from the view of player ``a``.

    Attributes:
        a, b: the players' names.
        as_first: ``a``'s record in the games where it moved first.
        as_second: ``a``'s record in the games where ``b`` moved first.
        games: the games themselves (outcomes from the first mover's view).
        a_first: bool[n] whether ``a`` moved first in each game.
    """

    a: str
    b: str
    as_first: Record
    as_second: Record
    games: GameRecords | None = field(default=None, repr=False, compare=False)
    a_first: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def total(self) -> Record:
        return self.as_first + self.as_second

    @property
    def n(self) -> int:
        return self.total.n

    @property
    def wins(self) -> int:
        return self.total.wins

    @property
    def draws(self) -> int:
        return self.total.draws

    @property
    def losses(self) -> int:
        return self.total.losses

    @property
    def score(self) -> float:
        return self.total.score

    @property
    def score_interval(self) -> tuple[float, float]:
        """95% interval of the score (Wilson, conservative with draws; see module docstring)."""
        return wilson_interval(self.wins + 0.5 * self.draws, self.n)

    @property
    def win_rate(self) -> float:
        return self.wins / self.n

    @property
    def win_interval(self) -> tuple[float, float]:
        """95% Wilson interval of the win rate."""
        return wilson_interval(self.wins, self.n)

    @property
    def draw_rate(self) -> float:
        return self.draws / self.n

    @property
    def loss_rate(self) -> float:
        return self.losses / self.n

    def as_metrics(self, prefix: str | None = None) -> dict[str, float]:
        """Scalars for TensorBoard under ``prefix`` (default ``"eval/vs_{b}"``).

        E.g. ``result.as_metrics("eval/vs_expert")`` gives ``eval/vs_expert/win_rate``,
        ``.../draw_rate``, ``.../loss_rate`` and ``.../score``.
        """
        prefix = prefix if prefix is not None else f"eval/vs_{self.b}"
        return {
            f"{prefix}/win_rate": self.win_rate,
            f"{prefix}/draw_rate": self.draw_rate,
            f"{prefix}/loss_rate": self.loss_rate,
            f"{prefix}/score": self.score,
        }

    def __str__(self) -> str:
        low, high = self.score_interval
        return (
            f"{self.a} vs {self.b}: {self.total} in {self.n} games, "
            f"score {self.score:.3f} [{low:.3f}, {high:.3f}] "
            f"(as first {self.as_first}, as second {self.as_second})"
        )


def duel(
    game: Game,
    a: Player,
    b: Player,
    n: int,
    rng: np.random.Generator,
    opening_moves: int = 0,
) -> DuelResult:
    """Play ``n`` games between ``a`` and ``b``, ``a`` moving first in ``ceil(n / 2)`` of them.

    Game ``i`` with ``a`` first and game ``i`` with ``b`` first start from the same random
    opening of ``opening_moves`` plies. Both halves are played in one lock-step batch.
    """
    if n < 1:
        raise ValueError(f"a duel needs at least one game, got n={n}")
    n_first, n_second = n - n // 2, n // 2
    openings, opening_actions = random_openings(game, n_first, opening_moves, rng)
    start = State.concat([openings, openings[:n_second]])
    opening = np.concatenate([opening_actions, opening_actions[:n_second]])
    seat = np.repeat(np.array([0, 1], dtype=np.int32), [n_first, n_second])
    games = _play(game, start, opening, (a, b), seat, rng)
    a_first = seat == 0
    for_a = np.where(a_first, games.outcome, -games.outcome)
    return DuelResult(
        a.name,
        b.name,
        Record.from_outcomes(for_a[a_first]),
        Record.from_outcomes(for_a[~a_first]),
        games,
        a_first,
    )
