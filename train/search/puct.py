"""AlphaZero's way of choosing actions in the tree: PUCT everywhere, Dirichlet noise at the root.

PUCT (AlphaZero pseudocode, Silver et al. 2018, ``ucb_score``)::

    score(a) = Q(a) + c(N) * P(a) * sqrt(N) / (1 + N(a)),
    c(N)     = c_puct_init + log((N + c_puct_base + 1) / c_puct_base)

where ``N`` is the visit count of the node (its own evaluation counts as one visit, as in
mctx, so the priors steer even the first descent through a fresh node) and ``N(a)`` that of
child ``a``. Ties go to the lowest action index (``np.argmax``); the oracle, the one-leaf
reference search in ``train/search/reference.py``, does the same, which is what lets the two
agree exactly.

:func:`puct_actions` is the interior selection (``train.search.protocols.InteriorSelection``)
and :class:`PuctRoot` the root selection (``RootSelection``) that ``train.search.search.search``
uses by default. :data:`SEARCH_FLAGS` and :func:`config_from_flags` give both training
stages' scripts the same search flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from train.search.tree import ROOT_INDEX, Tree

#: The selection rules a search can use (``MCTSConfig.search``).
SearchKind = Literal["puct", "gumbel"]
SEARCH_KINDS: tuple[str, ...] = get_args(SearchKind)


@dataclass(frozen=True)
class MCTSConfig:
    """Search settings. Defaults from AlphaZero (Silver et al., 2018, pseudocode) unless noted.

    Attributes:
        simulations: leaves added per search (evaluator calls = 1 + simulations).
        c_puct_init: the exploration constant ``c_init`` of AlphaZero's PUCT (1.25).
        c_puct_base: ``c_base`` (19652); with a few hundred simulations ``c`` stays ~1.25.
        dirichlet_alpha: root-noise concentration. AlphaZero used 0.3 for chess (~35 legal
            moves) and 0.03 for Go (~250), i.e. about 10 / legal moves; tic-tac-toe and
            Connect Four have at most 9 and 7, so 10 / moves is ~1.1-1.4, and we take 1.0.
        dirichlet_fraction: weight of the noise in the root priors (0.25).
        fpu_value: the Q of a not-yet-visited child ("first-play urgency"), from the view of
            the player choosing. ``0.0`` (the default, as in the AlphaZero pseudocode rescaled
            to [-1, 1] values with draws at 0) treats an untried move as a draw; ``None``
            uses the node's current mean value (Leela Chess Zero's choice, with no
            reduction), which explores less in positions that are going well.
        search: the selection rules ``train.search.search.search`` uses unless given others:
            ``"puct"`` (AlphaZero: the PUCT fields above) or ``"gumbel"`` (Gumbel MuZero's
            root and interior rules, ``train/search/gumbel.py``: the fields below).
        max_considered_actions: Gumbel: root moves sampled for sequential halving (mctx's
            default 16, i.e. every move in our games).
        gumbel_scale: Gumbel: scale of the root's Gumbel noise when noise is asked for (1.0).
        c_visit, c_scale: Gumbel: ``sigma(q) = (c_visit + max_b N(b)) * c_scale * q`` with
            ``q`` the completed Q rescaled to [0, 1]: ``c_visit = 50``, ``c_scale = 0.1``,
            as mctx's ``qtransform_completed_by_mix_value``. At 1.0 the target spans ~100
            logits, one-hot on the luckiest move, and Connect Four self-play collapsed in
            both seeds (docs/experiments/recipes/); a lower ``c_scale`` keeps more of the
            prior.
    """

    simulations: int = 100
    c_puct_init: float = 1.25
    c_puct_base: float = 19652.0
    dirichlet_alpha: float = 1.0
    dirichlet_fraction: float = 0.25
    fpu_value: float | None = 0.0
    search: SearchKind = "puct"
    max_considered_actions: int = 16
    gumbel_scale: float = 1.0
    c_visit: float = 50.0
    c_scale: float = 0.1

    def __post_init__(self) -> None:
        if self.simulations < 1:
            raise ValueError(f"simulations must be >= 1, got {self.simulations}")
        if self.dirichlet_alpha <= 0 or not 0 <= self.dirichlet_fraction <= 1:
            raise ValueError(f"invalid Dirichlet settings in {self}")
        if self.search not in SEARCH_KINDS:
            raise ValueError(f"search must be one of {SEARCH_KINDS}, got {self.search!r}")
        if self.max_considered_actions < 1:
            raise ValueError(
                f"max_considered_actions must be >= 1, got {self.max_considered_actions}"
            )
        if min(self.gumbel_scale, self.c_visit, self.c_scale) < 0:
            raise ValueError(f"gumbel_scale, c_visit and c_scale must be >= 0 in {self}")


def puct_scores(
    priors: np.ndarray,
    legal: np.ndarray,
    node_visits: np.ndarray,
    node_value_sums: np.ndarray,
    child_visits: np.ndarray,
    child_value_sums: np.ndarray,
    config: MCTSConfig,
) -> np.ndarray:
    """float64[K, A]: the PUCT score of each action at ``K`` nodes (-inf where illegal).

    Args:
        priors: float64[K, A]; legal: bool[K, A]; node_visits: int[K];
        node_value_sums: float64[K]; child_visits: int[K, A]; child_value_sums:
        float64[K, A] (values for the player choosing at the node).
    """
    n = node_visits.astype(np.float64)
    fpu = config.fpu_value if config.fpu_value is not None else (node_value_sums / n)[:, None]
    q = np.where(child_visits > 0, child_value_sums / np.maximum(child_visits, 1), fpu)
    c = config.c_puct_init + np.log((n + config.c_puct_base + 1) / config.c_puct_base)
    u = (c * np.sqrt(n))[:, None] * priors / (1 + child_visits)
    return np.where(legal, q + u, -np.inf)


def puct_actions(
    tree: Tree, games: np.ndarray, nodes: np.ndarray, config: MCTSConfig
) -> np.ndarray:
    """int64[K]: the best-scoring action at node ``nodes[k]`` of game ``games[k]`` (both
    int[K]), ties to the lowest action. The default interior selection."""
    scores = puct_scores(
        tree.priors[games, nodes],
        tree.legal[games, nodes],
        tree.visits[games, nodes],
        tree.value_sums[games, nodes],
        tree.child_visits[games, nodes],
        tree.child_value_sums[games, nodes],
        config,
    )
    return np.argmax(scores, axis=1)


def add_dirichlet_noise(
    priors: np.ndarray, legal: np.ndarray, config: MCTSConfig, rng: np.random.Generator
) -> np.ndarray:
    """float32[B, A]: ``(1 - f) * priors + f * Dir(alpha)`` over each row's legal actions.

    Args:
        priors: float32[B, A] (the precision the mixing is done in); legal: bool[B, A].
    """
    # A Dirichlet sample is a vector of independent Gamma(alpha) draws, normalised.
    gamma = np.where(legal, rng.gamma(config.dirichlet_alpha, size=priors.shape), 0.0)
    noise = gamma / np.maximum(gamma.sum(axis=-1, keepdims=True), np.finfo(np.float64).tiny)
    f = config.dirichlet_fraction
    return ((1 - f) * priors + f * noise).astype(np.float32)


@dataclass(frozen=True)
class PuctRoot:
    """AlphaZero's root: Dirichlet noise mixed into the priors when asked (self-play), then
    PUCT as at every other node; it recommends the most visited action.

    Implements ``train.search.protocols.RootSelection``; stateless, so one instance serves
    every search.
    """

    def start(
        self, tree: Tree, config: MCTSConfig, rng: np.random.Generator, add_noise: bool
    ) -> _PuctRootPlan:
        if add_noise:
            # The priors as the evaluator gave them (float32, stored exactly in float64):
            # the noise is mixed in that precision.
            priors = tree.priors[:, ROOT_INDEX].astype(np.float32)
            noisy = add_dirichlet_noise(priors, tree.legal[:, ROOT_INDEX], config, rng)
            tree.priors[:, ROOT_INDEX] = noisy
        return _PuctRootPlan(config)


@dataclass(frozen=True)
class _PuctRootPlan:
    config: MCTSConfig

    def select(self, tree: Tree, simulation: int) -> np.ndarray:
        roots = np.full(tree.batch, ROOT_INDEX, dtype=np.int64)
        return puct_actions(tree, np.arange(tree.batch), roots, self.config)

    def action(self, tree: Tree) -> np.ndarray:
        # The most visited action, the lowest on ties: deterministic, drawing nothing.
        return np.argmax(tree.child_visits[:, ROOT_INDEX], axis=1)


#: The root selection ``search`` uses unless told otherwise.
PUCT_ROOT = PuctRoot()


#: The search settings both training stages expose as flags, named as their MCTSConfig
#: fields (``--c-puct-init`` ...), with their ``--help`` text; defaults are MCTSConfig's.
SEARCH_FLAGS: dict[str, str] = {
    "c_puct_init": "PUCT exploration constant c_init (AlphaZero's)",
    "c_puct_base": "PUCT c_base: c = c_init + log((N + c_base + 1) / c_base) at a node of N "
    "visits (AlphaZero's)",
    "dirichlet_alpha": "concentration of the Dirichlet noise on the self-play root priors "
    "(about 10 / legal moves)",
    "dirichlet_fraction": "weight of the Dirichlet noise in the self-play root priors "
    "(AlphaZero's)",
    "fpu_value": "value of an untried move for the player choosing (first-play urgency): a "
    "number (0: a draw), or 'parent' for the node's mean value",
    "search": "puct: AlphaZero's search (Dirichlet noise, PUCT); gumbel: Gumbel MuZero's "
    "(Gumbel-top-k and sequential halving at the root, its completed-Q policy as target)",
    "max_considered_actions": "gumbel: root moves sampled for sequential halving",
    "gumbel_scale": "gumbel: scale of the root's Gumbel noise in self-play",
    "c_visit": "gumbel: sigma(q) = (c_visit + max visits) * c_scale * q, q in [0, 1]",
    "c_scale": "gumbel: the c_scale of sigma(q) (see --c-visit)",
}


def config_from_flags(flags: object, simulations: int = MCTSConfig.simulations) -> MCTSConfig:
    """An MCTSConfig of ``simulations`` with each setting of :data:`SEARCH_FLAGS` that
    ``flags`` (a script's parsed arguments) has as an attribute of that name; the others keep
    MCTSConfig's defaults. ``fpu_value`` is a string there: a number, or ``"parent"`` for
    None. Raises ``ValueError`` on an invalid setting."""
    settings = {name: getattr(flags, name) for name in SEARCH_FLAGS if hasattr(flags, name)}
    if "fpu_value" in settings:
        fpu = str(settings["fpu_value"])
        try:
            settings["fpu_value"] = None if fpu == "parent" else float(fpu)
        except ValueError:
            raise ValueError(f"fpu_value must be a number or 'parent', got {fpu!r}") from None
    return MCTSConfig(simulations=simulations, **settings)
