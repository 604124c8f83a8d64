"""Go's profile (:class:`~envs.profile.GameProfile`) on 7x7: how the project trains and judges
the game of :mod:`envs.go`, with GNU Go as the teacher. The figures behind each default are in
the README's Go section."""

from __future__ import annotations

from envs.go import GO7
from envs.players import Player
from envs.profile import GameProfile, NetSize

#: GNU Go's level as stage 1's teacher (``--depth`` of the imitation script): level 0
#: answers in about 23 ms a move on 7x7, level 5 in 73 ms, level 10 in 0.4 s (one core).
DEFAULT_LEVEL = 0


def _expert(depth: int | None, temperature: float | None) -> Player:
    from envs.experts.gnugo import GnuGoPlayer

    if temperature:
        raise ValueError(
            "GNU Go has no temperature: vary its games with random opening moves instead"
        )
    return GnuGoPlayer(GO7, level=DEFAULT_LEVEL if depth is None else depth)


GO7_PROFILE = GameProfile(
    # The Connect Four size: 7x7 has 49 points to Connect Four's 42, so it costs about the
    # same per position, and four blocks see the whole board.
    net=NetSize(blocks=4, channels=32, value_hidden=64),
    # GNU Go is deterministic up to ties, so four random plies open each game for variety
    # (the records keep GNU Go's move there too). 1,200 games take about 12 minutes on 2
    # cores at level 0.
    imitation_defaults={"games": 1_200, "epochs": 8, "random_opening": 4, "temperature": 0.0},
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
    # No solver for Go: the report grades by duels only.
    report_defaults={"sims": (0, 16, 64), "positions": 0, "thinking_games": 20},
    # Two random stones open each duel, so that deterministic players don't replay one game.
    duel_openings=2,
    expert=_expert,
    grader=None,
    env_id="apprentice/Go7x7-v0",
)
