"""Go's profiles (:class:`~envs.profile.GameProfile`): how the project trains and judges the game
of :mod:`envs.go` on 7x7 (sized for the 2-core machine, every default measured there) and on
9x9 (a preset for a GPU, never run on one: see the README's Go section), with GNU Go as the
teacher of both."""

from __future__ import annotations

import functools

from envs.go import GO7, GO9, GoGame
from envs.players import Player
from envs.profile import GameProfile, NetSize

#: GNU Go's level as stage 1's teacher (``--depth`` of the imitation script): level 0
#: answers in about 23 ms a move on 7x7, level 5 in 73 ms, level 10 in 0.4 s (one core).
DEFAULT_LEVEL = 0

#: The two games' shared judging: no solver for Go, so the report grades by duels only, and
#: two random stones open each duel, so that deterministic players don't replay one game.
_REPORT = {"sims": (0, 16, 64), "positions": 0, "thinking_games": 20}
_DUEL_OPENINGS = 2


def _gnugo(game: GoGame, depth: int | None, temperature: float | None) -> Player:
    from envs.experts.gnugo import GnuGoPlayer

    if temperature:
        raise ValueError(
            "GNU Go has no temperature: vary its games with random opening moves instead"
        )
    return GnuGoPlayer(game, level=DEFAULT_LEVEL if depth is None else depth)


GO7_PROFILE = GameProfile(
    # The Connect Four size: 7x7 has 49 points to Connect Four's 42, so it costs about the
    # same per position, and four blocks see the whole board.
    net=NetSize(blocks=4, channels=32, value_hidden=64),
    # GNU Go is deterministic up to ties, so four random plies open each game for variety
    # (the records keep GNU Go's move there too). 1,200 games take 2 min 42 s on 2 quiet
    # cores at level 0. 24 epochs, not 8: against GNU Go level 0 they scored 0.448 and 0.486
    # where 8 scored 0.409 and 0.431 (two seeds, 400 games each; docs/results.md), for about
    # 3 more minutes; a bigger network (6x48) at the same wall clock gained less.
    imitation_defaults={"games": 1_200, "epochs": 24, "random_opening": 4, "temperature": 0.0},
    # Games are longer than Connect Four's (GNU Go's last about 50 moves), so fewer of them.
    selfplay_defaults={
        "iterations": 20,
        "games_per_iteration": 64,
        "temperature_moves": 8,
        "random_opening": 0,
        "sample_reuse": 8.0,
        "merge_duplicates": True,
        "value_target_q": 0.5,
        "policy_target": "visits",
    },
    report_defaults=_REPORT,
    duel_openings=_DUEL_OPENINGS,
    expert=functools.partial(_gnugo, GO7),
    grader=None,
    env_id="apprentice/Go7x7-v0",
)

GO9_PROFILE = GameProfile(
    # 81 points, and groups that span the board: a deeper, wider tower than 7x7's (471,101
    # weights to 84,061; about ten times its cost per position), cheap on a GPU and slow on
    # 2 cores.
    net=NetSize(blocks=6, channels=64, value_hidden=128),
    # Games last about 65 moves (GNU Go against itself after 6 random plies): 4,000 of them
    # are some 260,000 positions, five times 7x7's set. GNU Go runs on the CPU (83 moves/s
    # on 2 cores at level 0, stage 1's log): pass --workers to use every core.
    imitation_defaults={"games": 4_000, "epochs": 16, "random_opening": 6, "temperature": 0.0},
    # 7x7's recipe with four times the games a round (a GPU evaluates a batch of 256 leaves
    # about as fast as one of 64) and longer sampled openings.
    selfplay_defaults={
        **GO7_PROFILE.selfplay_defaults,
        "iterations": 30,
        "games_per_iteration": 256,
        "temperature_moves": 12,
    },
    report_defaults=_REPORT,
    duel_openings=_DUEL_OPENINGS,
    expert=functools.partial(_gnugo, GO9),
    grader=None,
    env_id="apprentice/Go9x9-v0",
)
