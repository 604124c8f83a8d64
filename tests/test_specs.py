"""Player specs: parsed into typed fields, refused with a reason, built into players."""

from __future__ import annotations

import numpy as np
import pytest

from envs import CONNECT4, TICTACTOE
from envs.players import RandomPlayer
from scripts import make_benchmark_set, play
from train.arena.network_players import PolicyPlayer, SearchPlayer
from train.arena.specs import (
    DEFAULT_MCTS_SIMS,
    MAX_EXPERT_DEPTH,
    PlayerSpec,
    checkpoint_path,
    make_player,
    parse_spec,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("random", PlayerSpec("random", "random")),
        ("expert", PlayerSpec("expert", "expert")),
        ("expert:depth=7", PlayerSpec("expert", "expert:depth=7", depth=7)),
        (
            "expert:depth=6, temperature=0.5",
            PlayerSpec("expert", "expert:depth=6, temperature=0.5", depth=6, temperature=0.5),
        ),
        ("mcts", PlayerSpec("mcts", "mcts", sims=DEFAULT_MCTS_SIMS)),
        ("mcts:1000", PlayerSpec("mcts", "mcts:1000", sims=1000)),
        ("mcts:sims=20", PlayerSpec("mcts", "mcts:sims=20", sims=20)),
        ("runs/x/best.pt", PlayerSpec("checkpoint", "runs/x/best.pt", path="runs/x/best.pt")),
        (
            "runs/x/best.pt:sims=200",
            PlayerSpec("checkpoint", "runs/x/best.pt:sims=200", "runs/x/best.pt", sims=200),
        ),
        (
            "a.pt:temperature=1",
            PlayerSpec("checkpoint", "a.pt:temperature=1", "a.pt", temperature=1.0),
        ),
    ],
)
def test_specs_parse_into_typed_fields(text: str, expected: PlayerSpec) -> None:
    spec = parse_spec(text)
    assert spec == expected
    for field in ("sims", "depth"):
        assert getattr(spec, field) is None or type(getattr(spec, field)) is int
    assert spec.temperature is None or type(spec.temperature) is float
    assert checkpoint_path(text) == expected.path


@pytest.mark.parametrize(
    "text, message",
    [
        ("randomish", "unknown player"),
        ("random:fast", "unknown player"),
        ("alphago", "unknown player"),
        ("", "unknown player"),
        ("mcts:fast", "expected key=value"),
        ("mcts:sims=5,depth=2", "unknown option"),
        ("mcts:sims=2.5", "sims must be a whole number"),
        ("expert:speed=3", "unknown option"),
        ("expert:depth=deep", "depth must be a whole number"),
        ("expert:temperature=hot", "temperature must be a number"),
        ("x.pt:depth=3", "unknown option"),
        ("x.pt:sims=4:x", "sims must be a whole number"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_spec(text)


def test_an_expert_too_deep_to_answer_is_refused_in_one_sentence() -> None:
    assert parse_spec(f"expert:depth={MAX_EXPERT_DEPTH}").depth == MAX_EXPERT_DEPTH
    with pytest.raises(ValueError, match=f"at most {MAX_EXPERT_DEPTH}") as refused:
        parse_spec(f"expert:depth={MAX_EXPERT_DEPTH + 1}")
    message = str(refused.value)
    assert "expert depth 17" in message and message.count(". ") == 0  # one sentence
    # The terminal game says so and stops, instead of thinking forever.
    with pytest.raises(SystemExit, match="depth 99 would take too long"):
        play.main(["--game", "connect4", "--opponent", "expert:depth=99"])


def test_make_player_builds_each_kind() -> None:
    assert isinstance(make_player("random", CONNECT4), RandomPlayer)
    expert = make_player("expert:depth=3,temperature=0.5", CONNECT4)
    assert (expert.depth, expert.temperature, expert.name) == (3, 0.5, "expert-d3-t0.5")
    mcts = make_player(parse_spec("mcts:7"), TICTACTOE)  # a parsed spec is taken too
    assert isinstance(mcts, SearchPlayer) and mcts.config.simulations == 7
    assert mcts.name == "mcts7"
    with pytest.raises(ValueError, match="takes no depth"):
        make_player("expert:depth=3", TICTACTOE)


def test_checkpoint_specs_build_the_network_alone_or_searching(tmp_path) -> None:
    from models.checkpoint import save_checkpoint
    from models.net import NetConfig, PolicyValueNet

    path = tmp_path / "tiny.pt"
    model = PolicyValueNet(NetConfig("tictactoe", blocks=0, channels=4, value_hidden=4))
    save_checkpoint(path, model, stage="imitation", step=0, args={}, metrics={}, seed=0)
    sampling = make_player(f"{path}:temperature=0.5", TICTACTOE)
    assert isinstance(sampling, PolicyPlayer) and sampling.temperature == 0.5
    searching = make_player(f"{path}:sims=3", TICTACTOE)
    assert searching.name == "tiny+mcts3" and searching.config.simulations == 3


def test_the_benchmark_sets_sources_are_built_from_specs() -> None:
    player = make_benchmark_set.make_player("expert-d4-t0.5")
    assert player.name == "expert-d4-t0.5"  # the set records sources by the players' names
    assert make_benchmark_set.make_player("random").name == "random"
    with pytest.raises(ValueError, match="unknown source"):
        make_benchmark_set.make_player("expert:depth=4")
    moves, lengths = make_benchmark_set.play_games(player, 3, np.random.default_rng(0))
    assert moves.shape == (3, CONNECT4.num_cells) and ((moves >= 0).sum(axis=1) == lengths).all()
