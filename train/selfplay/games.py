"""Self-play games with the batched search: the training data of stage 2.

All unfinished games are searched together, one batched :func:`train.search.search.search` per move,
so the evaluator always sees one big batch; a game that ends drops out of the batch. As in
AlphaZero (Silver et al., 2018), the root priors get Dirichlet noise, the move is drawn from
the visit counts at temperature 1 for the first ``temperature_moves`` moves and is the most
visited one afterwards, and every position is labelled with the search's visit distribution
and the game's final outcome. With Gumbel search (``MCTSConfig(search="gumbel")``) the
Gumbel noise explores instead: the move is the search's own recommendation and the label its
completed-Q policy (``train.search.targets.gumbel_policy``). With a playout cap
(:mod:`train.selfplay.playout_cap`) only a random share of the moves get the full search and
a policy label; the others get a cheap one and are labelled with the outcome alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from envs.core import Game, State
from train.search.search import Evaluator, MCTSConfig, SearchResult, search, select_action
from train.search.targets import PolicyTarget, gumbel_policy, search_policy
from train.selfplay.playout_cap import NO_CAP, PlayoutCap, draw_full_searches, split_search


@dataclass(frozen=True)
class SelfPlayStats:
    """Summary of a batch of self-play games.

    Attributes:
        game_lengths: int32[n_games] moves played in each game.
        first_player_win_rate / draw_rate: fractions of the games (the second player won
            the rest).
        search_entropy: mean entropy (nats) of the search policy over all positions (with a
            playout cap, the cheap searches' too).
        prior_entropy: mean entropy of the evaluator's priors at the same roots; search
            that sharpens the prior keeps this above ``search_entropy``.
        simulations: simulations run, summed over positions (``positions * simulations``
            without a playout cap).
        wall_time_s: seconds for the whole batch of games.
        full_searches: positions searched in full, the policy targets (all of them without
            a playout cap).
    """

    game_lengths: np.ndarray
    first_player_win_rate: float
    draw_rate: float
    search_entropy: float
    prior_entropy: float
    simulations: int
    wall_time_s: float
    full_searches: int

    @property
    def positions_per_s(self) -> float:
        return float(self.game_lengths.sum()) / max(self.wall_time_s, 1e-9)

    @property
    def full_search_fraction(self) -> float:
        """The share of the positions searched in full (1 without a playout cap)."""
        return self.full_searches / max(1, int(self.game_lengths.sum()))


@dataclass(frozen=True)
class SelfPlayRecords:
    """Training positions from self-play, one row per move played (``P`` rows).

    Attributes:
        states: State[P] the position before each move (``game.observation`` makes inputs).
        policies: float32[P, A] the search's policy (``policy_target``: its visit counts,
            normalised, or completed Q); zeros where ``has_policy`` is False.
        outcomes: float32[P] the final result for the player to move at that position.
        root_values: float32[P] the search's value of that position (``root_value``), for the
            same player: a less noisy but biased value target than the outcome.
        has_policy: bool[P] whether the position was searched in full and its policy is a
            training target (always, without a playout cap); the others train the value only.
        game_index: int32[P] which game each position comes from.
        moves: the move string (``game.notation``) of each game.
        stats: :class:`SelfPlayStats`.
    """

    states: State
    policies: np.ndarray
    outcomes: np.ndarray
    root_values: np.ndarray
    has_policy: np.ndarray
    game_index: np.ndarray
    moves: list[str]
    stats: SelfPlayStats

    def __len__(self) -> int:
        return len(self.outcomes)


def play_selfplay_games(
    game: Game,
    evaluate: Evaluator,
    config: MCTSConfig,
    n_games: int,
    rng: np.random.Generator,
    temperature_moves: int | None = None,
    add_noise: bool = True,
    start_states: State | None = None,
    policy_target: PolicyTarget = "visits",
    playout_cap: PlayoutCap = NO_CAP,
) -> SelfPlayRecords:
    """Play ``n_games`` games of the search against itself, in lock-step.

    Args:
        game: the rules.
        evaluate: the batched evaluator the search calls (usually a ``NetworkEvaluator``).
        config: search settings (``simulations`` per move).
        n_games: how many games to play at once.
        rng: the only source of randomness (noise and move sampling).
        temperature_moves: moves per game drawn from the visit counts before play turns
            greedy; default ``game.num_cells // 4`` (2 in tic-tac-toe, 10 in Connect Four),
            a scaled-down version of AlphaGo Zero's 30 moves on a 361-point board.
        add_noise: root noise (AlphaZero's Dirichlet noise, or Gumbel search's Gumbel noise).
        start_states: optional State[n_games] unfinished positions to start from (e.g. an
            opening book); default the empty board.
        policy_target: what each position's policy label is (``train/search/targets.py``);
            the moves played follow the visit counts either way. With Gumbel search
            (``config.search``) neither this nor ``temperature_moves`` applies: the label is
            Gumbel's policy target and the move the search's ``action``.
        playout_cap: which moves get the full search (``config.simulations``, noise, a
            policy label) and which a cheap one (:mod:`train.selfplay.playout_cap`); the
            default searches every move in full and draws nothing more from ``rng``.

    Returns:
        the positions, policies and outcomes of all games, with their move strings and stats.
    """
    if temperature_moves is None:
        temperature_moves = game.num_cells // 4
    states = game.initial_state(n_games) if start_states is None else start_states
    if len(states) != n_games or game.is_terminal(states).any():
        raise ValueError("start_states must be n_games unfinished positions")
    states = states.copy()  # each game's current position, advanced in place
    started = time.perf_counter()

    visited: list[State] = []  # per move: the positions searched
    policies: list[np.ndarray] = []
    root_values: list[np.ndarray] = []
    full_searched: list[np.ndarray] = []
    simulations = 0
    game_ids: list[np.ndarray] = []
    search_entropy: list[np.ndarray] = []
    prior_entropy: list[np.ndarray] = []
    moves: list[list[int]] = [[] for _ in range(n_games)]
    playing = np.arange(n_games)
    move_number = 0

    def run(roots: State, roots_config: MCTSConfig, noise: bool) -> SearchResult:
        return search(game, roots, evaluate, roots_config, rng, add_noise=noise)

    while len(playing):
        current = states[playing]
        full = draw_full_searches(playout_cap, len(playing), rng)
        result, sims = split_search(run, current, full, config, playout_cap, add_noise)
        simulations += int(sims.sum())
        if config.search == "gumbel":
            policy, actions = gumbel_policy(result, config), result.action
        else:
            policy = search_policy(result, policy_target)
            temperature = 1.0 if move_number < temperature_moves else 0.0
            actions = select_action(result.visits, temperature, rng)

        visited.append(current)
        policies.append(np.where(full[:, None], policy, 0.0).astype(policy.dtype))
        full_searched.append(full)
        root_values.append(result.root_value.astype(np.float32))
        game_ids.append(playing.astype(np.int32))
        search_entropy.append(_entropy(policy))
        prior_entropy.append(_entropy(result.priors))
        for game_id, action in zip(playing, actions, strict=True):
            moves[game_id].append(int(action))

        after = game.step(current, actions)
        states.set_rows(playing, after)
        playing = playing[~game.is_terminal(after)]
        move_number += 1

    all_states = State.concat(visited)
    game_index = np.concatenate(game_ids)
    # The final outcome is for the player to move at the end; flip it for every ply between.
    final_value = game.terminal_value(states)[game_index]
    plies_left = states.ply[game_index] - all_states.ply
    outcomes = np.where(plies_left % 2 == 0, final_value, -final_value).astype(np.float32)
    has_policy = np.concatenate(full_searched)

    lengths = np.array([len(m) for m in moves], dtype=np.int32)
    winner = game.winner(states)  # 0 first player, 1 second, -1 draw
    stats = SelfPlayStats(
        game_lengths=lengths,
        first_player_win_rate=float((winner == 0).mean()),
        draw_rate=float((winner < 0).mean()),
        search_entropy=float(np.concatenate(search_entropy).mean()),
        prior_entropy=float(np.concatenate(prior_entropy).mean()),
        simulations=simulations,
        wall_time_s=time.perf_counter() - started,
        full_searches=int(has_policy.sum()),
    )
    return SelfPlayRecords(
        states=all_states,
        policies=np.concatenate(policies),
        outcomes=outcomes,
        root_values=np.concatenate(root_values),
        has_policy=has_policy,
        game_index=game_index,
        moves=[game.notation(m) for m in moves],
        stats=stats,
    )


def merge_records(parts: list[SelfPlayRecords], wall_time_s: float) -> SelfPlayRecords:
    """One :class:`SelfPlayRecords` from the records of games played apart (e.g. by worker
    processes at the same time, together taking ``wall_time_s``); games keep their order."""
    offsets = np.cumsum([0] + [len(p.moves) for p in parts[:-1]])
    games = np.array([len(p.moves) for p in parts], dtype=np.float64)
    positions = np.array([len(p) for p in parts], dtype=np.float64)
    stats = [p.stats for p in parts]
    stats = SelfPlayStats(
        game_lengths=np.concatenate([s.game_lengths for s in stats]),
        first_player_win_rate=float(
            np.average([s.first_player_win_rate for s in stats], weights=games)
        ),
        draw_rate=float(np.average([s.draw_rate for s in stats], weights=games)),
        search_entropy=float(np.average([s.search_entropy for s in stats], weights=positions)),
        prior_entropy=float(np.average([s.prior_entropy for s in stats], weights=positions)),
        simulations=sum(s.simulations for s in stats),
        wall_time_s=wall_time_s,
        full_searches=sum(s.full_searches for s in stats),
    )
    return SelfPlayRecords(
        states=State.concat([p.states for p in parts]),
        policies=np.concatenate([p.policies for p in parts]),
        outcomes=np.concatenate([p.outcomes for p in parts]),
        root_values=np.concatenate([p.root_values for p in parts]),
        has_policy=np.concatenate([p.has_policy for p in parts]),
        game_index=np.concatenate([p.game_index + o for p, o in zip(parts, offsets, strict=True)]),
        moves=[m for p in parts for m in p.moves],
        stats=stats,
    )


def _entropy(p: np.ndarray) -> np.ndarray:
    """float64[B]: the entropy in nats of each row of a distribution ``p`` [B, A]."""
    p = np.asarray(p, dtype=np.float64)
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=1)


def split_shares(
    n_games: int, parts: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, int]]:
    """Games ``0..n_games-1`` split as evenly as possible over ``parts`` players, each share
    with its own seed drawn from the run's generator, in share order: the contract that makes
    every multi-worker backend play the same games for the same seed.

    Returns:
        ``(game indices int[k], seed)`` per non-empty share.
    """
    shares = [s for s in np.array_split(np.arange(n_games), parts) if len(s)]
    seeds = rng.integers(0, 2**63 - 1, len(shares))
    return [(share, int(seed)) for share, seed in zip(shares, seeds, strict=True)]
