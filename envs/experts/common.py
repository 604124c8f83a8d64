"""What the scripted experts share: temperature checks and the two ways to turn move scores
into a distribution (uniform over the best, or a softmax)."""

from __future__ import annotations

import numpy as np


def check_temperature(temperature: float) -> float:
    if not temperature >= 0 or not np.isfinite(temperature):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    return float(temperature)


def refuse_finished(legal: np.ndarray) -> None:
    if not legal.any(axis=-1).all():
        raise ValueError("the expert was asked to move in a finished position")


def uniform_best(scores: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """float32[B, A]: uniform over the legal actions of highest score."""
    masked = np.where(legal, scores, -np.inf)
    best = masked == masked.max(axis=-1, keepdims=True)
    return (best / best.sum(axis=-1, keepdims=True)).astype(np.float32)


def softmax(scores: np.ndarray, legal: np.ndarray, temperature: float) -> np.ndarray:
    """float32[B, A]: softmax of ``scores / temperature`` over the legal actions."""
    masked = np.where(legal, scores / temperature, -np.inf)
    weights = np.exp(masked - masked.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)
