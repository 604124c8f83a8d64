"""Evaluators: what scores the leaves of a search, all behind one batched callable.

An evaluator is called as ``evaluate(states, legal)`` with ``states: State[K]`` (unfinished
positions) and ``legal: bool[K, A]``, and returns ``(priors float32[K, A], values
float32[K])``: a distribution over the legal moves and a value in [-1, 1] **from the view of
the player to move** (the contract: ``train.search.protocols.Evaluator``). The search
(``train/search/search.py``) neither knows nor cares which one it calls, so uniform priors,
random rollouts and the network plug into the same slot; a new evaluator is one more
callable with that signature (a class here, or a plain function).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import torch
from torch import nn

from envs.core import Game, State
from envs.players import sample_masked
from models.net import PolicyValueNet, inference_copy, predict
from models.onnx_net import OnnxNet
from train.search.eval_cache import EvaluationCache

#: The precisions a ``NetworkEvaluator`` can run its network in.
Precision = Literal["float32", "bfloat16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
#: What runs the network: PyTorch, or ONNX Runtime (CPU only).
Runtime = Literal["torch", "onnxruntime"]
RUNTIMES: tuple[str, ...] = get_args(Runtime)
#: The positions self-play's evaluators remember when a script is not told otherwise: each
#: iteration's search meets ~38% of its positions again (train/search/eval_cache.py).
FAST_CACHE_SIZE = 50_000


#: The scripts' ``--runtime``: a runtime, or ``auto`` (:func:`resolve_runtime`).
RuntimeFlag = Literal["auto", "torch", "onnxruntime"]


def resolve_runtime(flag: RuntimeFlag, device: str) -> Runtime:
    """The runtime ``flag`` names on ``device``; ``"auto"`` is ONNX Runtime on a CPU, where it
    runs these small networks 1.4x (batch 64) to 4.6x (batch 2) faster than PyTorch (README,
    "Measured"), and PyTorch on a GPU, which ONNX Runtime's CPU build can't use."""
    if flag != "auto":
        return flag
    return "onnxruntime" if device == "cpu" else "torch"


def uniform_priors(legal: np.ndarray) -> np.ndarray:
    """float32[K, A]: equal probability on each legal move of each row."""
    legal = np.asarray(legal, dtype=np.float32)
    return legal / np.maximum(legal.sum(axis=-1, keepdims=True), 1.0)


class UniformEvaluator:
    """Uniform priors and a value of 0: search guided by nothing but the rules."""

    def __init__(self, game: Game) -> None:
        self.game = game

    def __call__(self, states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return uniform_priors(legal), np.zeros(len(states), dtype=np.float32)


class RolloutEvaluator:
    """Uniform priors, and the mean outcome of ``rollouts`` random playouts as the value.

    The playouts of all leaves (``K * rollouts`` games) advance together, one numpy step per
    ply, until every one has ended; this is classic Monte Carlo tree search's evaluation.
    """

    def __init__(self, game: Game, rng: np.random.Generator, rollouts: int = 1) -> None:
        if rollouts < 1:
            raise ValueError(f"rollouts must be >= 1, got {rollouts}")
        self.game = game
        self.rng = rng
        self.rollouts = rollouts

    def __call__(self, states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        game = self.game
        r = self.rollouts
        start = states[np.repeat(np.arange(len(states)), r)]  # each leaf ``r`` times
        boards = start.copy()  # the playouts, advanced in place
        playing = np.flatnonzero(~game.is_terminal(start))
        while len(playing):
            current = boards[playing]
            moves = game.legal_mask(current).astype(np.float64)
            after = game.step(current, sample_masked(moves, self.rng))
            boards.set_rows(playing, after)
            playing = playing[~game.is_terminal(after)]
        # The outcome is for whoever is to move at the end; flip it for each ply of difference.
        sign = np.where((boards.ply - start.ply) % 2 == 0, 1.0, -1.0)
        values = (game.terminal_value(boards) * sign).reshape(len(states), self.rollouts)
        return uniform_priors(legal), values.mean(axis=1).astype(np.float32)


class NetworkEvaluator:
    """The policy-value network's move probabilities and value.

    ``model(obs float32[K, planes, rows, cols], legal bool[K, A]) -> (logits[K, A],
    value[K])`` (``models/net.py``) runs in eval mode under ``torch.inference_mode``; its
    logits become probabilities over the legal moves.

    A :class:`PolicyValueNet` is run through a copy with its BatchNorms folded into the
    convolutions and channels-last weights (``models.net.inference_copy``: the same outputs
    to float32 rounding, 30-50% faster on a 2-core CPU, see ``scripts/benchmark_selfplay.py``).
    The copy is rebuilt whenever the model's weights have changed since the last call, so the
    evaluator of a network in training always scores with the current weights.
    ``compile=True`` also runs the copy through ``torch.compile`` (little faster on a CPU once
    channels-last, after ~10-20 s of compilation); if compiling fails (no C++ compiler, an
    unsupported platform) the evaluator warns and stays with the eager copy. Any other module
    is called as it is.

    Three options trade exactness for speed, all off by default:

    - ``runtime="onnxruntime"``: a ``PolicyValueNet`` runs in ONNX Runtime
      (``models/onnx_net.py``, the packages ``onnx`` and ``onnxruntime``): the same
      function to float32 rounding (<= 4e-6), 1.4-4.6x faster on a CPU, most at small
      batches;
    - ``cache_size``: remember the answers for up to that many positions
      (``train/search/eval_cache.py``) and score each position once until the weights
      change (38% of self-play's positions are scored again, ``eval_cache.py``); a cached
      answer may differ from a fresh one in the last float32 bits;
    - ``precision="bfloat16"`` (PyTorch runtime only): the copy's weights and activations in
      bfloat16, ~1.25x faster self-play on a CPU with bfloat16 dot products (AVX512-BF16)
      but its outputs up to 3e-2 (priors) and 5e-2 (values) off float32's for the shipped
      Connect Four networks: not recommended for training.
    """

    def __init__(
        self,
        model: nn.Module,
        game: Game,
        device: str | torch.device = "cpu",
        compile: bool = False,
        cache_size: int = 0,
        precision: Precision = "float32",
        runtime: Runtime = "torch",
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        if runtime == "onnxruntime" and (
            precision != "float32" or torch.device(device).type != "cpu"
        ):
            raise ValueError("the onnxruntime runtime runs float32 on the CPU")
        self.model = model
        self.game = game
        self.device = torch.device(device)
        self.compile = compile
        self.precision = precision
        self.runtime = runtime
        self.cache = EvaluationCache(game.num_actions, cache_size) if cache_size else None
        self._fused: PolicyValueNet | None = None  # the folded copy, once built
        self._runner: nn.Module | OnnxNet | None = None  # what is called: the copy, maybe
        # compiled, or its ONNX Runtime session
        self._weights: list[torch.Tensor] = []  # the model's parameters and buffers
        self._weights_seen: tuple = (None,)  # their fingerprint when the copy was made

    def __call__(self, states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        runner = self.fast_model()  # first: it empties the cache if the weights changed

        def score(states: State, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            obs = self.game.observation(states)
            if isinstance(runner, OnnxNet):
                return runner(obs, legal)
            priors, values = predict(runner, obs, legal, device=self.device)
            return priors.astype(np.float32), values.astype(np.float32)

        if self.cache is None:
            return score(states, legal)
        return self.cache(states, legal, score)

    def fast_model(self) -> nn.Module | OnnxNet:
        """What scores positions: for a ``PolicyValueNet`` with the model's current
        weights, the folded (and maybe compiled) copy or, with the onnxruntime runtime, an
        ``OnnxNet`` (numpy in and out); any other model itself."""
        if _fingerprint(self._weights) != self._weights_seen:
            # Collect the tensors again: moving the model to a device replaces its buffers.
            self._weights = [*self.model.parameters(), *self.model.buffers()]
            if self.cache is not None:
                self.cache.clear()  # its answers came from other weights
            if not isinstance(self.model, PolicyValueNet):
                self._runner = self.model
            elif self.runtime == "onnxruntime":
                self._runner = OnnxNet(self.model)
            else:
                fresh = inference_copy(self.model).to(self.device, _DTYPES[self.precision])
                if self._fused is None:
                    self._fused = fresh
                    self._runner = self._compiled(fresh) if self.compile else fresh
                else:
                    # Update the copy in place, so that a compiled runner keeps its code.
                    self._fused.load_state_dict(fresh.state_dict())
            self._weights_seen = _fingerprint(self._weights)
        return self._runner

    def _compiled(self, fused: PolicyValueNet) -> nn.Module:
        # The batch size changes from call to call (finished games leave the search), so
        # compile for any batch size at once rather than recompiling for each new one.
        compiled = torch.compile(fused, dynamic=True)
        planes, rows, cols = fused.obs_shape
        try:  # torch.compile compiles on the first call: fail here, not in the search
            with torch.inference_mode():
                compiled(
                    torch.zeros(2, planes, rows, cols, device=self.device),
                    torch.ones(2, fused.num_actions, dtype=torch.bool, device=self.device),
                )
        except Exception as error:  # noqa: BLE001 - any compiler failure means: run eagerly
            warnings.warn(
                f"torch.compile failed ({error!r:.200}); evaluating eagerly", stacklevel=3
            )
            return fused
        return compiled


@dataclass(frozen=True)
class EvaluatorOptions:
    """How a :class:`NetworkEvaluator` runs its network: what self-play's backends pass to
    their workers (each builds its own evaluator). The defaults are exact PyTorch float32.

    Attributes:
        runtime: ``"torch"`` or ``"onnxruntime"`` (CPU only).
        cache_size: positions the evaluator remembers (0: no cache).
        precision: ``"float32"`` or ``"bfloat16"`` (torch runtime only).
    """

    runtime: Runtime = "torch"
    cache_size: int = 0
    precision: Precision = "float32"

    def evaluator(
        self, model: nn.Module, game: Game, device: str | torch.device = "cpu"
    ) -> NetworkEvaluator:
        """A new evaluator of ``model`` with these options."""
        return NetworkEvaluator(
            model,
            game,
            device=device,
            cache_size=self.cache_size,
            precision=self.precision,
            runtime=self.runtime,
        )


#: Exact PyTorch float32, no cache: what every backend uses unless told otherwise.
DEFAULT_EVALUATOR = EvaluatorOptions()


def _fingerprint(tensors: list[torch.Tensor]) -> tuple[tuple[int, int], ...]:
    """Where each tensor lives and how often it was modified in place.

    Every in-place change (an optimizer step, ``load_state_dict``, BatchNorm's running
    statistics in train mode) bumps a tensor's version counter, and moving the model to
    another device moves every parameter's storage: either way the fingerprint changes. It
    costs microseconds, where walking the model's modules for its parameters costs ~1 ms.
    """
    return tuple((t.data_ptr(), t._version) for t in tensors)
