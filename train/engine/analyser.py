"""Position analysis shared by the terminal game, the JSON analysis engine and the web board.

A request (``train.engine.request``) names a game, a position, a number of simulations and
optionally a checkpoint; the answer is a plain dict, ready for ``json.dumps``::

    game, position        the game's name and the position's move string ("4453")
    to_play               "first" or "second": who is to move
    terminal, result      whether the game is over, and then who won: "first", "second" or
                          "draw" (None while it goes on)
    legal_moves           the moves the player to move may make
    move                  the move the analysis would play: the most visited after search
                          (ties to the higher prior, then the lower move), or the network's
                          favourite with 0 simulations
    policy                {move: probability}: the evaluator's priors over the legal moves
                          (the network's, or uniform without a checkpoint)
    value                 in [-1, 1], from the view of the player to move: the search's root
                          value, or the evaluator's own value with 0 simulations
    visits, q             {move: count} and {move: mean value for the player to move, or None
                          if unvisited} from the search (empty with 0 simulations)
    simulations, evaluator  what produced the numbers
    score                 Go only: Black's area score less White's, komi included, as if the
                          game ended now (every stone counts as alive); > 0: Black is ahead

**Moves are written in the game's notation**: Connect Four columns "1".."7" from the left,
tic-tac-toe cells "1".."9" row by row (both 1-based), Go's GTP vertices ("D4", "pass"; the
position's move string separates them by spaces: "D4 C3"). A finished position gets ``terminal``,
``result``, ``to_play``, its ``value`` for the player to move and no move.

Without a checkpoint the evaluator is ``RolloutEvaluator`` (uniform priors; the value of a
leaf is the outcome of one random playout), i.e. classic Monte Carlo tree search.

Requests that share a game, a checkpoint and a simulation count are searched together in one
batched :func:`train.search.search.search` call; loaded checkpoints are cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from envs.core import Game, State
from envs.go import GoGame
from train.engine.request import AnalysisError, Request, position_after
from train.search.search import Evaluator, MCTSConfig, search

#: Tree nodes (roots x (simulations + 1)) searched in one call; bounds the search's memory.
_MAX_NODES_PER_SEARCH = 400_000
_DIGITS = 4  # probabilities and values are rounded for reading, not for precision


class Analyser:
    """Answers analysis requests, batching compatible ones and caching loaded networks.

    Safe to share between threads: one analysis runs at a time (the rollouts share one
    random generator, and a batch is faster than concurrent searches anyway).

    Args:
        device: where networks run.
        seed: seeds the random playouts of the rollout evaluator.
        max_checkpoints: networks kept loaded (least recently used are dropped).
    """

    def __init__(self, device: str = "cpu", seed: int = 0, max_checkpoints: int = 8) -> None:
        self.device = device
        self.rng = np.random.default_rng(seed)
        self.max_checkpoints = max_checkpoints
        self._networks: OrderedDict[tuple[str, str, float], Evaluator] = OrderedDict()
        self._lock = threading.Lock()

    def analyse(self, request: Request) -> dict[str, Any]:
        """The answer to one request (raises AnalysisError if its checkpoint won't load)."""
        (answer,) = self.analyse_many([request])
        if "error" in answer:
            raise AnalysisError(answer["error"])
        return answer

    def analyse_many(self, requests: list[Request]) -> list[dict[str, Any]]:
        """Answers in the order of ``requests``; one search per group of compatible ones.

        A group whose checkpoint can't be loaded gets ``{"error": ...}`` answers; the others
        are unaffected.
        """
        answers: list[dict[str, Any] | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(request.group, []).append(i)
        with self._lock:
            for indices in groups.values():
                group_answers = self._analyse_group([requests[i] for i in indices])
                for i, answer in zip(indices, group_answers, strict=True):
                    answers[i] = answer
        return answers  # type: ignore[return-value]

    def evaluator(self, game: Game, checkpoint: str | None) -> tuple[Evaluator, str]:
        """The evaluator for a request and its description; raises AnalysisError."""
        if checkpoint is None:
            from train.search.evaluators import RolloutEvaluator

            return RolloutEvaluator(game, self.rng), "rollouts"
        path = Path(checkpoint)
        try:
            key = (str(path.resolve()), game.name, path.stat().st_mtime)
        except (OSError, ValueError) as err:  # ValueError: e.g. a NUL byte in the path
            raise AnalysisError(f"{checkpoint}: {getattr(err, 'strerror', None) or err}") from None
        evaluate = self._networks.get(key)
        if evaluate is None:
            evaluate = self._load(path, game)
            self._networks[key] = evaluate
            while len(self._networks) > self.max_checkpoints:
                self._networks.popitem(last=False)
        self._networks.move_to_end(key)
        return evaluate, f"network:{checkpoint}"

    def _load(self, path: Path, game: Game) -> Evaluator:
        from models.checkpoint import CheckpointError, load_checkpoint
        from train.search.evaluators import NetworkEvaluator

        try:
            loaded = load_checkpoint(path, game=game.name, device=self.device)
        except CheckpointError as err:
            raise AnalysisError(str(err)) from None
        return NetworkEvaluator(loaded.model, game, device=self.device)

    def _analyse_group(self, requests: list[Request]) -> list[dict[str, Any]]:
        first = requests[0]
        game, sims = first.game, first.simulations
        try:
            evaluate, description = self.evaluator(game, first.checkpoint)
        except AnalysisError as err:
            return [{"error": str(err)} for _ in requests]
        states = [position_after(game, r.actions) for r in requests]
        answers = [
            _describe(game, r, s, sims, description) for r, s in zip(requests, states, strict=True)
        ]
        playing = [i for i, s in enumerate(states) if not game.is_terminal(s)]
        chunk = max(1, _MAX_NODES_PER_SEARCH // (sims + 1))
        for start in range(0, len(playing), chunk):
            batch = playing[start : start + chunk]
            found = self._search(game, State.stack([states[i] for i in batch]), evaluate, sims)
            for i, details in zip(batch, found, strict=True):
                answers[i].update(details)
        return answers

    def _search(
        self, game: Game, states: State, evaluate: Evaluator, sims: int
    ) -> list[dict[str, Any]]:
        """Move, policy, value, visits and q for each of ``states`` (State[B], unfinished)."""
        legal = game.legal_mask(states)
        if sims == 0:
            priors, values = evaluate(states, legal)
            visits = np.zeros(legal.shape, dtype=np.int32)
            q = np.zeros(legal.shape, dtype=np.float32)
        else:
            result = search(game, states, evaluate, MCTSConfig(simulations=sims), self.rng)
            priors, values, visits, q = result.priors, result.root_value, result.visits, result.q
        priors = np.asarray(priors, dtype=np.float64)
        details = []
        for b in range(len(states)):
            moves = np.flatnonzero(legal[b])
            # Most visits first, then the higher prior, then the lower move.
            best = moves[np.lexsort((moves, -priors[b, moves], -visits[b, moves]))[0]]
            details.append(
                {
                    "move": game.format_move(int(best)),
                    "policy": {game.format_move(int(a)): _round(priors[b, a]) for a in moves},
                    "value": _round(values[b]),
                    "visits": {game.format_move(int(a)): int(visits[b, a]) for a in moves}
                    if sims
                    else {},
                    "q": {
                        game.format_move(int(a)): _round(q[b, a]) if visits[b, a] else None
                        for a in moves
                    }
                    if sims
                    else {},
                }
            )
        return details


def _describe(
    game: Game, request: Request, state: State, sims: int, evaluator: str
) -> dict[str, Any]:
    """The parts of an answer that need no search."""
    terminal = bool(game.is_terminal(state))
    answer: dict[str, Any] = {
        "game": game.name,
        "position": game.notation(list(request.actions)),
        "to_play": "first" if int(game.to_play(state)) == 0 else "second",
        "terminal": terminal,
        "result": _result(game, state) if terminal else None,
        "legal_moves": [game.format_move(int(a)) for a in np.flatnonzero(game.legal_mask(state))],
    }
    if isinstance(game, GoGame):
        answer["score"] = area_margin(game, state)
    if terminal:
        answer["value"] = float(game.terminal_value(state))
    else:
        answer.update(simulations=sims, evaluator=evaluator)
    return answer


def area_margin(game: GoGame, state: State) -> float:
    """Black's area score less White's in one Go position, komi included (``game.score`` is
    the margin of the player to move)."""
    margin = float(game.score(state))
    return margin if int(game.to_play(state)) == 0 else -margin


def _result(game: Game, state: State) -> str:
    """Who won a finished game: "first", "second" or "draw"."""
    return ("draw", "first", "second")[int(game.winner(state)) + 1]


def _round(x: float) -> float:
    return round(float(x), _DIGITS)
