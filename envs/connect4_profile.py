"""Connect Four's profile (:class:`~envs.profile.GameProfile`): how the project trains and
judges the game of :mod:`envs.connect4`. The figures behind each default are in the README."""

from __future__ import annotations

from envs.connect4 import CONNECT4
from envs.players import Player
from envs.profile import GameProfile, GradedPositions, NetSize, move_outcomes


def _expert(depth: int | None, temperature: float | None) -> Player:
    # Imported on demand, so that loading the games doesn't load numba and the expert's search.
    from envs.experts.connect4_expert import (
        DEFAULT_DEPTH,
        DEFAULT_TEMPERATURE,
        ConnectFourExpert,
    )

    return ConnectFourExpert(
        depth=DEFAULT_DEPTH if depth is None else depth,
        temperature=DEFAULT_TEMPERATURE if temperature is None else temperature,
    )


def _grader() -> GradedPositions:
    """The shipped benchmark set (``data/c4_benchmark.npz``), valued by the solver."""
    from envs.solvers.connect4_benchmark import load_benchmark_set, stage_index

    bench = load_benchmark_set()
    legal = CONNECT4.legal_mask(bench.states)
    return GradedPositions(
        bench.states, move_outcomes(bench.action_values, legal), stage_index(bench.ply)
    )


CONNECT4_PROFILE = GameProfile(
    # Sizes chosen by measurement on a 2-core CPU, 1 thread, batch 256, unfused network
    # (`python -m scripts.benchmark_net --blocks 4 --channels 32 64 --threads 1`; the
    # multiply-accumulates per position are exact):
    #   blocks x channels  MMAC/pos  pos/s @1  pos/s @256
    #   4 x 32 (default)       3.1       870      3,676
    #   4 x 64                12.5       380      1,369
    # Four blocks already see the whole board (a 19 x 19 receptive field). On a CPU the
    # budget, not the capacity, limits both stages: 4 x 32 runs ~2.5x faster than 4 x 64, so
    # stage 1 gets ~2.5x the epochs and stage 2 ~2.5x the self-play games in the same
    # minutes. Give a GPU run more (`--blocks 6 --channels 64`).
    net=NetSize(blocks=4, channels=32, value_hidden=64),
    # Sized so the default stage 1 takes under 15 minutes on a 2-core laptop. The depth-5
    # expert is deterministic up to ties, so its games repeat; at temperature 0.5 4,000 games
    # hold ~107k distinct positions of ~136k (at temperature 0: 42k of 182k).
    imitation_defaults={"games": 4_000, "epochs": 6, "random_opening": 2, "temperature": 0.5},
    # 10 sampled moves, as in AlphaZero's scaled-down opening, batches of 128 games, 90
    # iterations (10 min 47 s on 2 cores with ONNX Runtime, the evaluation cache and the
    # random openings below; with PyTorch 25 iterations took 16 min 39 s); each distinct position
    # trained on once and the value target half outcome, half search value, which each raised
    # the network-alone score against stage 1 in paired runs (README, "Stage 2 on Connect
    # Four"). Each self-play game opens with 0..4 random plies, as varied as the evaluation's
    # openings: without them self-play narrows onto a few first-player winning lines, and in
    # paired 16-minute runs they raised the network-alone score against the teacher in both
    # seeds (docs/experiments/recipes/, fifth round).
    selfplay_defaults={
        "iterations": 90,
        "games_per_iteration": 128,
        "temperature_moves": 10,
        "random_opening": 4,
        "sample_reuse": 8.0,
        "merge_duplicates": True,
        "value_target_q": 0.5,
        "policy_target": "visits",
    },
    # Sized so the default report on three runs takes a few minutes on 2 cores (a network
    # inside MCTS costs one evaluation per simulation, a Connect Four one about a millisecond).
    report_defaults={"sims": (0, 16, 64), "positions": 200, "thinking_games": 20},
    # Two random plies open each duel, so that deterministic players don't replay one game.
    duel_openings=2,
    expert=_expert,
    grader=_grader,
    env_id="apprentice/ConnectFour-v0",
)
