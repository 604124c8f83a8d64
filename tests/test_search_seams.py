"""The search's open parts: the tree steps by hand, pluggable root and interior selection,
the recommended action, and the search flags both training stages share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from envs import CONNECT4, TICTACTOE
from envs.core import State
from models.net import PolicyValueNet, default_config
from scripts import train_imitation, train_selfplay
from scripts.cli import parse
from tests.fixtures import hashed_evaluator, random_positions
from train.arena import strength
from train.learn import alphazero, evaluation
from train.search.evaluators import UniformEvaluator
from train.search.puct import MCTSConfig, config_from_flags, puct_actions
from train.search.search import search
from train.search.tree import ROOT_INDEX, UNVISITED, Tree, backup, descend, expand, init_tree
from train.selfplay import backend

# --- the tree steps, one simulation by hand -----------------------------------------------


def _root_tree(state: State, nodes: int) -> Tree:
    roots = State.stack([state])
    legal = TICTACTOE.legal_mask(roots)
    priors, values = hashed_evaluator(roots, legal)
    return init_tree(TICTACTOE, roots, legal, priors, values, nodes)


def test_one_simulation_by_hand() -> None:
    root = TICTACTOE.initial_state()
    tree = _root_tree(root, nodes=3)
    root_value = tree.value_sums[0, ROOT_INDEX]
    parents, actions, leaves = descend(tree, np.array([4]), puct_actions, MCTSConfig())
    np.testing.assert_array_equal([parents, actions, leaves], [[ROOT_INDEX], [4], [UNVISITED]])

    leaves, values = expand(tree, TICTACTOE, hashed_evaluator, 1, parents, actions, leaves)
    child = State.stack([TICTACTOE.step(root, 4)])
    expected_priors, expected_values = hashed_evaluator(child, TICTACTOE.legal_mask(child))
    np.testing.assert_array_equal(leaves, [1])
    assert values[0] == expected_values[0]
    assert tree.states[0, 1] == TICTACTOE.step(root, 4)
    assert tree.parents[0, 1] == ROOT_INDEX and tree.actions[0, 1] == 4
    assert tree.children[0, ROOT_INDEX, 4] == 1
    np.testing.assert_array_equal(tree.priors[0, 1], expected_priors[0])

    backup(tree, leaves, values)
    assert tree.visits[0, 1] == 1 and tree.value_sums[0, 1] == values[0]
    # One ply up the value changes sign: the root's player is the child's opponent.
    assert tree.child_visits[0, ROOT_INDEX, 4] == 1
    assert tree.child_value_sums[0, ROOT_INDEX, 4] == -values[0]
    assert tree.visits[0, ROOT_INDEX] == 2
    assert tree.value_sums[0, ROOT_INDEX] == root_value - values[0]


def test_a_known_terminal_node_is_revisited_not_recreated() -> None:
    # X on 1 and 2, O on 4 and 5 (1-based): X to move wins on 3 (action 2).
    tree = _root_tree(TICTACTOE.parse("1425"), nodes=3)
    config = MCTSConfig()
    for slot in (1, 2):
        parents, actions, leaves = descend(tree, np.array([2]), puct_actions, config)
        leaves, values = expand(tree, TICTACTOE, hashed_evaluator, slot, parents, actions, leaves)
        backup(tree, leaves, values)
        # The winning move's child is lost for its player to move, each time.
        np.testing.assert_array_equal([leaves, values], [[1], [-1.0]])
    assert tree.terminal[0, 1] and tree.visits[0, 1] == 2
    assert tree.child_visits[0, ROOT_INDEX, 2] == 2 and tree.child_value_sums[0, ROOT_INDEX, 2] == 2
    assert tree.parents[0, 2] == -1, "the second simulation used no new node"


# --- the recommended action -----------------------------------------------------------------


def test_action_is_the_most_visited_lowest_on_ties() -> None:
    # Nine simulations from the empty board with uniform priors and values visit every
    # move once: a nine-way tie, which goes to the lowest action.
    empty = TICTACTOE.initial_state(1)
    result = search(TICTACTOE, empty, UniformEvaluator(TICTACTOE), MCTSConfig(9), None)
    np.testing.assert_array_equal(result.visits, np.ones((1, 9)))
    np.testing.assert_array_equal(result.action, [0])

    states = random_positions(CONNECT4, 12, seed=2)
    config = MCTSConfig(simulations=20)
    result = search(CONNECT4, states, hashed_evaluator, config, np.random.default_rng(0))
    assert result.action.dtype == np.int64 and result.action.shape == (12,)
    most = result.visits == result.visits.max(axis=1, keepdims=True)
    np.testing.assert_array_equal(result.action, most.argmax(axis=1))  # the first maximum


# --- pluggable root and interior selection ------------------------------------------------


@dataclass
class _RoundRobinRoot:
    """Visits the legal root actions in turn; recommends the highest legal one."""

    starts: list[tuple[bool, object]] = field(default_factory=list)

    def start(self, tree, config, rng, add_noise):
        self.starts.append((add_noise, rng))
        return _RoundRobinPlan(np.flatnonzero(tree.legal[0, ROOT_INDEX]))


@dataclass
class _RoundRobinPlan:
    moves: np.ndarray

    def select(self, tree, simulation):
        return np.full(tree.batch, self.moves[simulation % len(self.moves)])

    def action(self, tree):
        return np.full(tree.batch, self.moves[-1])


def test_root_selection_plugs_in() -> None:
    state = State.stack([CONNECT4.parse("4444")])  # all seven columns open
    root = _RoundRobinRoot()
    rng = np.random.default_rng(0)
    config = MCTSConfig(simulations=21)
    result = search(
        CONNECT4, state, hashed_evaluator, config, rng, add_noise=True, root_selection=root
    )
    assert root.starts == [(True, rng)], "started once per search, with the noise request"
    np.testing.assert_array_equal(result.visits, np.full((1, 7), 3))
    np.testing.assert_array_equal(result.action, [6])
    np.testing.assert_array_equal(result.priors, hashed_evaluator(state, result.legal)[0])


def test_interior_selection_plugs_in_below_the_root_only() -> None:
    states = random_positions(CONNECT4, 6, seed=8)
    config = MCTSConfig(simulations=40)
    seen: list[np.ndarray] = []

    def spy(tree, games, nodes, config):
        seen.append(np.asarray(nodes))
        return puct_actions(tree, games, nodes, config)

    plain = search(CONNECT4, states, hashed_evaluator, config, np.random.default_rng(0))
    spied = search(
        CONNECT4, states, hashed_evaluator, config, np.random.default_rng(0), interior_selection=spy
    )
    np.testing.assert_array_equal(spied.visits, plain.visits)
    np.testing.assert_array_equal(spied.q, plain.q)
    assert seen and all((nodes != ROOT_INDEX).all() for nodes in seen)

    def lowest_legal(tree, games, nodes, config):
        return tree.legal[games, nodes].argmax(axis=1)

    other = search(
        CONNECT4, states, hashed_evaluator, config, None, interior_selection=lowest_legal
    )
    np.testing.assert_array_equal(other.visits.sum(axis=1), 40)
    assert (other.q != plain.q).any(), "another interior rule changes the search"


# --- the search flags of both stages ------------------------------------------------------

SETTINGS = [
    *("--c-puct-init", "2", "--c-puct-base", "100", "--fpu-value", "parent"),
    *("--dirichlet-alpha", "0.5", "--dirichlet-fraction", "0.1"),
]


def test_search_flags_default_to_mcts_config_and_share_names() -> None:
    stage1, stage2 = parse(train_imitation.Args, []), parse(train_selfplay.Args, [])
    assert config_from_flags(stage1) == MCTSConfig()
    assert config_from_flags(stage2, stage2.simulations) == MCTSConfig(stage2.simulations)
    args = parse(train_selfplay.Args, SETTINGS)
    assert config_from_flags(args, 7) == MCTSConfig(7, 2.0, 100.0, 0.5, 0.1, None)
    # Stage 1's search has no root noise, so it has the other three flags, named alike.
    args = parse(train_imitation.Args, [*SETTINGS[:4], "--fpu-value", "-0.5"])
    assert config_from_flags(args) == MCTSConfig(c_puct_init=2.0, c_puct_base=100, fpu_value=-0.5)
    with pytest.raises(ValueError, match="fpu_value"):
        config_from_flags(parse(train_imitation.Args, ["--fpu-value", "draw"]))


def test_stage2_threads_the_flags_into_selfplay_and_evaluation(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    seen = {}

    def fake_run(game, model, config, *, evaluate, **kwargs):
        seen["selfplay"] = config.search
        evaluate(model)
        return {}

    def fake_strength(game, model, config, rng, device):
        seen["evaluation"] = config.search
        return {}

    monkeypatch.setattr(train_selfplay, "run_selfplay", fake_run)
    monkeypatch.setattr(evaluation, "measure_strength", fake_strength)  # what the run calls
    threads = torch.get_num_threads()
    try:
        train_selfplay.main(
            ["--init", "scratch", "--game", "tictactoe", "--run-dir", str(tmp_path)]
            + ["--simulations", "7", "--device", "cpu", *SETTINGS]
        )
    finally:
        torch.set_num_threads(threads)  # the script pins torch's threads for the process
    assert seen["selfplay"] == seen["evaluation"] == MCTSConfig(7, 2.0, 100.0, 0.5, 0.1, None)
    with pytest.raises(SystemExit, match="fpu_value"):
        train_selfplay.main(
            ["--init", "scratch", "--game", "tictactoe", "--run-dir", str(tmp_path)]
            + ["--fpu-value", "x"]
        )


def test_the_stages_search_with_their_configs_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    search_config = MCTSConfig(simulations=1, c_puct_init=3.0, fpu_value=None)
    used = []

    class _Stop(Exception):
        pass

    def fake_games(game, evaluate, config, n, rng, **options):
        used.append(config)
        raise _Stop

    monkeypatch.setattr(backend, "play_selfplay_games", fake_games)
    model = PolicyValueNet(default_config("tictactoe"))
    config = alphazero.SelfPlayConfig(simulations=5, search=search_config, workers=1)
    with pytest.raises(_Stop):
        alphazero.run_selfplay(
            TICTACTOE, model, config, device=torch.device("cpu"), logger=None,
            checkpoint_dir=None, seed=0, args={},
        )  # fmt: skip
    monkeypatch.setattr(
        strength, "SearchPlayer", lambda game, evaluate, config: used.append(config)
    )
    measure = strength.StrengthConfig(games=0, search_sims=9, search=search_config, solver=False)
    strength.measure_strength(TICTACTOE, model, measure, np.random.default_rng(0))
    assert used == [
        MCTSConfig(simulations=5, c_puct_init=3.0, fpu_value=None),
        MCTSConfig(simulations=9, c_puct_init=3.0, fpu_value=None),
    ]
