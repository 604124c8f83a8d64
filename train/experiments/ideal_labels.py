"""Connect Four positions from varied games, labelled by the perfect solver: the ideal targets
of the ceiling experiment (:mod:`train.experiments.ceiling`).

How a set is made (everything follows from the seed, so a rerun makes the same set):

1. Each source of play (a player spec: ``random``, ``expert:depth=2,temperature=1``, ...)
   plays games from the empty board to the end, in batches; source ``i`` draws from
   ``np.random.default_rng([seed, 1, i])``. The default mix is the benchmark set's
   (``scripts/make_benchmark_set.py``) plus the teacher's own kind of game.
2. Every position of a game from ``min_ply`` stones on is taken, ply by ply, while its stage's
   quota (per source) lasts: ``opening_positions`` in the opening (up to 14 stones), the rest
   split evenly between the middle (15-28) and the end. Positions seen before (the same
   stones: transpositions count once) and the shipped benchmark set's positions and their
   mirror images are skipped, so the network is never graded on a position it trained on.
3. The solver gives each move's outcome (``weak``: win, draw or loss, which is all the targets
   need and quicker to find than exact scores). A game's positions are solved from its last
   back to its first with one transposition table, so each search finds the positions after
   it already solved: the opening's positions cost about a second each that way (on a busy
   2-core machine), several times less than cold; positions before ply 8 cost minutes each,
   which is why ``min_ply`` is 8, as for the benchmark set.

:func:`ideal_targets` turns the outcomes into targets: the policy uniform over the moves of
the best outcome class (win > draw > loss), the value that outcome, both from the view of the
player to move.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from envs import CONNECT4, State
from envs.profile import ILLEGAL, STAGES, move_outcomes
from envs.solvers.connect4_benchmark import MIDDLE_LAST_PLY, OPENING_LAST_PLY, stage_index
from envs.solvers.connect4_solver import DEFAULT_TABLE_LOG2, Solver
from train.arena import specs
from train.arena.runner import play_lockstep

#: The benchmark set's mix of play (``scripts/make_benchmark_set.py``), then the teacher's.
DEFAULT_SOURCES = (
    "random",
    "expert:depth=2,temperature=1",
    "expert:depth=4,temperature=0.5",
    "expert:depth=5,temperature=0.5",
)


@dataclass(frozen=True)
class LabelConfig:
    """What :func:`label_games` collects.

    Attributes:
        positions: labelled positions in all.
        opening_positions: of them, positions with ``min_ply``..14 stones (the slow ones to
            solve); the rest is split evenly between the middle and the end.
        sources: player specs (``train.arena.specs``), each playing an equal share of the
            quotas (the first sources take the remainders).
        min_ply: fewest stones of a labelled position.
        seed: seeds every game.
        games_per_batch: games a source plays at once.
        table_log2: log2 of the solver's transposition table entries.
    """

    positions: int = 100_000
    opening_positions: int = 500
    sources: tuple[str, ...] = DEFAULT_SOURCES
    min_ply: int = 8
    seed: int = 0
    games_per_batch: int = 256
    table_log2: int = DEFAULT_TABLE_LOG2

    def __post_init__(self) -> None:
        if not 0 <= self.opening_positions <= self.positions or self.positions < 1:
            raise ValueError("need 1 <= positions and 0 <= opening positions <= positions")
        if not 0 <= self.min_ply <= OPENING_LAST_PLY:
            raise ValueError(f"min_ply must be in 0..{OPENING_LAST_PLY}, got {self.min_ply}")
        if not self.sources:
            raise ValueError("name at least one source of play")
        for source in self.sources:
            specs.parse_spec(source)  # raises ValueError for a bad spec

    def quotas(self) -> dict[str, int]:
        """Positions wanted per stage."""
        rest = self.positions - self.opening_positions
        return {"opening": self.opening_positions, "middle": (rest + 1) // 2, "end": rest // 2}

    def key(self) -> str:
        """A short digest of the settings that decide the set (the cache file's name)."""
        settings = {k: v for k, v in asdict(self).items() if k != "table_log2"}
        return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class LabelledPositions:
    """``N`` positions with the outcome of every move.

    Attributes:
        own, opp: uint64[N] the stones of the player to move and of the other player.
        ply: int32[N] stones on the board.
        outcomes: int8[N, 7] each move's outcome for the player to move (+1, 0, -1),
            ``envs.profile.ILLEGAL`` where the column is full.
        game: int32[N] the game it came from (numbered over all sources).
        source: int8[N] index of its source in the config's ``sources``.
        seconds: float64[3] seconds the solver spent on each stage (:data:`STAGES`).
    """

    own: np.ndarray
    opp: np.ndarray
    ply: np.ndarray
    outcomes: np.ndarray
    game: np.ndarray
    source: np.ndarray
    seconds: np.ndarray

    def __len__(self) -> int:
        return len(self.ply)

    @property
    def states(self) -> State:
        return State(self.own, self.opp, self.ply)

    @property
    def stages(self) -> np.ndarray:
        """int8[N]: the stage of each position (an index into :data:`STAGES`)."""
        return stage_index(self.ply)

    def select(self, index: np.ndarray) -> LabelledPositions:
        """The positions picked by an index array or boolean mask (``seconds`` kept whole)."""
        fields = {k: v if k == "seconds" else v[index] for k, v in vars(self).items()}
        return LabelledPositions(**fields)


def ideal_targets(outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The targets a perfect teacher gives: ``(policy float32[N, A], value float32[N])``.

    The policy is uniform over the moves whose outcome is the best one (any winning move of a
    won position, any drawing move of a drawn one, every move of a lost one), the value that
    best outcome; both from the view of the player to move, like ``outcomes`` int8[N, A]
    (``ILLEGAL`` where a move can't be played; every row must have a legal move).
    """
    outcomes = np.asarray(outcomes)
    legal = outcomes != ILLEGAL
    if not legal.any(axis=-1).all():
        raise ValueError("a position without a legal move has no target")
    best = np.where(legal, outcomes, -3).max(axis=-1)
    support = legal & (outcomes == best[:, None])
    policy = support / support.sum(axis=-1, keepdims=True)
    return policy.astype(np.float32), best.astype(np.float32)


def label_positions(states: State, solver: Solver) -> np.ndarray:
    """int8[N, 7]: the solver's outcome of every move of each unfinished position, in order
    (solve a game's positions from its end backwards: see the module docstring)."""
    legal = CONNECT4.legal_mask(states)
    values = np.stack([solver.action_values(states[i], weak=True) for i in range(len(states))])
    return move_outcomes(np.where(legal, values, 0), legal)


def label_games(config: LabelConfig, exclude: State | None = None) -> LabelledPositions:
    """Play the sources' games and label their positions (see the module docstring).

    ``exclude``: positions never to take, nor their mirror images (the benchmark set's).
    """
    excluded = _keys(exclude) if exclude is not None else set()
    taken = _collect(config, excluded)
    states = State.concat([s for s, _, _ in taken])
    game = np.concatenate([g for _, g, _ in taken]).astype(np.int32)
    source = np.concatenate([np.full(len(g), i) for _, g, i in taken]).astype(np.int8)
    # A game's positions last to first, game after game: each search meets positions the
    # previous ones solved.
    order = np.lexsort((-states.ply.astype(np.int64), game))
    states, game, source = states[order], game[order], source[order]
    solver, stages = Solver(config.table_log2), stage_index(states.ply)
    outcomes = np.empty((len(states), CONNECT4.num_actions), dtype=np.int8)
    seconds = np.zeros(len(STAGES))
    for i in tqdm(range(len(states)), desc="solving", unit="pos", mininterval=5):
        started = time.perf_counter()
        outcomes[i] = label_positions(states[i : i + 1], solver)[0]
        seconds[stages[i]] += time.perf_counter() - started
    return LabelledPositions(
        states.own, states.opp, states.ply.astype(np.int32), outcomes, game, source, seconds
    )


def cached_labels(
    config: LabelConfig, folder: Path | None, exclude: State | None = None
) -> tuple[LabelledPositions, Path | None]:
    """The set ``config`` describes, read from ``folder/labels-{config.key()}.npz`` when a
    previous run wrote it (labelling takes minutes), else labelled and written there."""
    path = None if folder is None else Path(folder) / f"labels-{config.key()}.npz"
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as data:
            return LabelledPositions(**{k: data[k] for k in data.files}), path
    labels = label_games(config, exclude)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".tmp")
        with open(partial, "wb") as f:
            np.savez_compressed(f, **vars(labels))
        os.replace(partial, path)  # atomic: a reader never sees half a file
    return labels, path


def _collect(config: LabelConfig, excluded: set) -> list[tuple[State, np.ndarray, int]]:
    """``(positions, game numbers, source index)`` per batch of games, quotas filled."""
    seen, taken, games_so_far = set(excluded), [], 0
    quotas = config.quotas()
    for index, spec in enumerate(config.sources):
        player = specs.make_player(spec, CONNECT4)
        rng = np.random.default_rng([config.seed, 1, index])
        share = len(config.sources)
        wanted = np.array([q // share + (index < q % share) for q in (quotas[s] for s in STAGES)])
        while wanted.any():
            n = config.games_per_batch
            played = play_lockstep(CONNECT4, [player], CONNECT4.initial_state(n), rng)
            rows, games = _take(
                _replay(played.moves(), played.final.ply), config.min_ply, wanted, seen
            )
            taken.append((rows, games + games_so_far, index))
            games_so_far += n
    return taken


def _replay(moves: np.ndarray, lengths: np.ndarray) -> list[State]:
    """``positions[p]``: State[n] of every game after ``p`` moves (finished games stay)."""
    state, positions, last = CONNECT4.initial_state(len(moves)), [], int(lengths.max())
    for ply in range(last + 1):
        positions.append(state)
        live = np.nonzero(ply < lengths)[0]
        if ply < last:
            state = state.copy()
            state.set_rows(live, CONNECT4.step(state[live], moves[live, ply]))
    return positions


def _take(
    positions: list[State], min_ply: int, wanted: np.ndarray, seen: set
) -> tuple[State, np.ndarray]:
    """The positions of each game in turn, first ply to last, that are new, unfinished and
    within their stage's quota ``wanted`` (int[3], decremented; ``seen`` is extended)."""
    rows, games = [], []
    finished = [CONNECT4.is_terminal(layer) for layer in positions]
    for g in range(len(positions[0])):
        for ply in range(min_ply, len(positions)):
            if finished[ply][g]:
                break
            stage = 0 if ply <= OPENING_LAST_PLY else 1 if ply <= MIDDLE_LAST_PLY else 2
            key = (int(positions[ply].own[g]), int(positions[ply].opp[g]))
            if wanted[stage] == 0 or key in seen:
                continue
            seen.add(key)
            wanted[stage] -= 1
            rows.append(positions[ply][g])
            games.append(g)
    if not rows:
        return State.concat([positions[0][:0]]), np.zeros(0, dtype=np.int64)
    return State.stack(rows), np.asarray(games, dtype=np.int64)


def _keys(states: State) -> set[tuple[int, int]]:
    """The ``(own, opp)`` stones of each position and of each of its mirror images."""
    keys = set()
    for sym in CONNECT4.symmetries:
        moved = CONNECT4.transform_state(states, sym)
        keys.update(zip(moved.own.tolist(), moved.opp.tolist(), strict=True))
    return keys
