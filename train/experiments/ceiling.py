"""The ceiling experiment: how good can a network of a given size get, alone, on Connect Four,
when it is taught perfect play rather than the teacher's?

Stage 1's recipe (:func:`train.learn.imitation.train_imitation`, the same loss, optimiser,
schedule and augmentation) trains each network size on the same positions from varied games,
labelled by the solver (:mod:`train.experiments.ideal_labels`): the policy target uniform over
the best moves, the value target the game-theoretic result. Each network is then measured
alone with the experiments' yardstick, beside the shipped checkpoints measured the same way.
If the default size trained so stays near where stage 2 stands, its size caps it, and the
smallest larger size that clears the cap is worth its cost; if it goes clearly past, the gap
is in what stage 1 and stage 2 teach, not in the network.

:func:`ceiling` trains and measures; :func:`write_ceiling` writes the summary and the verdict.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from envs import CONNECT4
from envs.profile import STAGES
from models.checkpoint import Checkpoint
from models.net import NetConfig, PolicyValueNet, default_config, num_parameters
from train.arena.grading import grade_moves
from train.arena.tournament import grade_network, network_player
from train.experiments.findings import with_interval
from train.experiments.ideal_labels import LabelConfig, LabelledPositions, ideal_targets
from train.experiments.summary import write_summary
from train.experiments.yardstick import Yardstick, seeded_net
from train.learn.batches import PositionBatch
from train.learn.imitation import ImitationConfig, ValidationSet, train_imitation
from train.learn.tb import RunLogger, run_name
from train.report.markdown import markdown_table
from train.search.evaluators import NetworkEvaluator

#: Training positions whose moves are graded after training, to tell fitting from generalising.
FIT_SAMPLE = 5_000


@dataclass(frozen=True)
class CeilingConfig:
    """What :func:`ceiling` trains.

    Attributes:
        labels: the labelled positions (training and held-out alike).
        nets: the network sizes, each trained on the same positions with the same seed.
        epochs: epochs of every run.
        val_fraction: share of the games whose positions are held out for validation.
        imitation: stage 1's optimisation settings (``epochs`` is replaced).
    """

    labels: LabelConfig
    nets: tuple[NetConfig, ...]
    epochs: int = 6
    val_fraction: float = 0.05
    imitation: ImitationConfig = ImitationConfig()

    def __post_init__(self) -> None:
        if not self.nets or self.epochs < 1 or not 0 < self.val_fraction < 1:
            raise ValueError("need a network size, epochs >= 1 and 0 < val_fraction < 1")
        if any(net.game != CONNECT4.name for net in self.nets):
            raise ValueError("the ceiling experiment is Connect Four's (the solver's game)")


def split_games(
    labels: LabelledPositions, fraction: float, rng: np.random.Generator
) -> tuple[LabelledPositions, LabelledPositions]:
    """``(training, held out)``: whole games held out, about ``fraction`` of them, so that no
    held-out position has its neighbours from the same game in training."""
    games = np.unique(labels.game)
    held = rng.choice(games, size=max(1, round(fraction * len(games))), replace=False)
    out = np.isin(labels.game, held)
    return labels.select(~out), labels.select(out)


def target_batch(labels: LabelledPositions, augment: bool) -> PositionBatch:
    """The positions with their ideal targets (:func:`ideal_targets`), as stage 1 trains on."""
    policy, value = ideal_targets(labels.outcomes)
    return PositionBatch.build(CONNECT4, labels.states, policy, value, augment)


def optimal_rate(model: PolicyValueNet, labels: LabelledPositions, device: str) -> float:
    """Share of ``labels`` in which the network's most likely move is a best move."""
    states = labels.states
    priors, _ = NetworkEvaluator(model, CONNECT4, device=device)(
        states, CONNECT4.legal_mask(states)
    )
    return float(grade_moves(np.argmax(priors, axis=-1), labels.outcomes).mean())


def ceiling(
    config: CeilingConfig,
    labels: LabelledPositions,
    yardstick: Yardstick,
    shipped: dict[str, Checkpoint],
    *,
    run_dir: Path,
    device: str = "cpu",
) -> list[dict]:
    """Train every size of ``config`` on ``labels`` and measure it alone, then measure the
    ``shipped`` checkpoints (by label) the same way.

    Rows hold ``network`` (a label), ``blocks``, ``channels``, ``parameters``, ``default``
    (the game's default size), ``shipped``, ``trained`` (on ideal targets, or the shipped
    checkpoint's stage), the yardstick's measurements,
    ``error_{stage}`` per stage of the graded positions and ``value_sign_accuracy``; trained
    rows also ``positions``, ``epochs``, ``positions_trained``, ``train_s``, ``val_loss``,
    ``fit_optimal`` (on training positions) and ``val_optimal`` (held-out games).
    """
    seed = yardstick.seed
    train, val = split_games(labels, config.val_fraction, np.random.default_rng([seed, 3]))
    train_data, val_policy = target_batch(train, augment=True), target_batch(val, False)
    moves = torch.from_numpy(val_policy.policy[0].numpy().argmax(axis=-1).astype(np.int64))
    val_data = ValidationSet(val_policy, moves)  # its move accuracy: against one best move
    fit = train.select(np.random.default_rng([seed, 4]).permutation(len(train))[:FIT_SAMPLE])
    settings = dataclasses.replace(config.imitation, epochs=config.epochs)
    rows = []
    for net in config.nets:
        name = f"{net.blocks}x{net.channels}"
        folder = Path(run_dir) / run_name(CONNECT4.name, f"ceiling-{name}", seed)
        model = seeded_net(net, seed).to(device)
        logger = RunLogger(folder)
        started = time.perf_counter()
        metrics = train_imitation(
            CONNECT4,
            model,
            train_data,
            val_data,
            settings,
            device=torch.device(device),
            logger=logger,
            checkpoint_dir=folder,
            seed=seed,
            args={"experiment": "ceiling", "net": net.to_dict(), "seed": seed},
        )
        seconds = time.perf_counter() - started
        logger.close()
        row = _measured(name, model, "ideal targets", yardstick, device)
        row.update(
            positions=len(train),
            epochs=config.epochs,
            positions_trained=config.epochs * len(train),
            train_s=seconds,
            val_loss=metrics["val/policy_loss"] + metrics["val/value_loss"],
            fit_optimal=optimal_rate(model, fit, device),
            val_optimal=optimal_rate(model, val, device),
            run=str(folder),
        )
        rows.append(row)
    for label, checkpoint in shipped.items():
        model = checkpoint.model.to(device)
        rows.append(_measured(label, model, f"shipped ({checkpoint.stage})", yardstick, device))
    return rows


def _measured(
    name: str, model: PolicyValueNet, trained: str, yardstick: Yardstick, device: str
) -> dict:
    """A row: the network's size, how it was trained and its measurements alone."""
    size = model.config
    player = network_player(CONNECT4, model, 0, device)
    grade = grade_network(
        CONNECT4, player, model, yardstick.graded, np.random.default_rng(0), device
    )
    return {
        "network": name,
        "blocks": size.blocks,
        "channels": size.channels,
        "parameters": num_parameters(model),
        "default": size == default_config(CONNECT4.name),
        "shipped": trained.startswith("shipped"),
        "trained": trained,
        **yardstick.measure(player),
        **{f"error_{k}": v for k, v in grade.error_rate_by_stage().items()},
        "value_sign_accuracy": grade.value_sign_accuracy,
    }


def verdict(rows: list[dict]) -> list[str]:
    """Is the default size capped where the shipped networks stand? Computed from the rows:
    "clearly" means the 95% intervals of the optimal-move rate don't overlap (unpaired, so
    conservative: every network is graded on the same positions)."""
    trained = [r for r in rows if not r["shipped"]]
    shipped = [r for r in rows if r["shipped"]]
    if not trained:
        return []
    base = next((r for r in trained if r["default"]), min(trained, key=lambda r: r["parameters"]))
    out = []
    if shipped:
        best = max(shipped, key=lambda r: r["optimal_move_rate"])
        low, high = base["optimal_interval"]
        if low > best["optimal_interval"][1]:
            reading = (
                "The default size taught perfect play goes clearly past it: the network is not "
                "what holds stage 1 and stage 2 back; the gap is in the learning (what they are "
                "taught, and how much), not the network."
                if base["default"]
                else "This size taught perfect play goes clearly past it."
            )
        elif high < best["optimal_interval"][0]:
            reading = (
                "It stays clearly below: this budget of ideal targets teaches less than the "
                "shipped recipe did, so it bounds nothing."
            )
        else:
            reading = (
                "The intervals overlap: taught perfect play on this budget, the size gets no "
                "clearly further than the shipped networks, as a capped network would."
            )
        out.append(
            f"Taught perfect play, the {base['network']} network plays a best move in "
            f"{with_interval(base, 'optimal_move_rate')} of the graded positions; the best "
            f"shipped network, {best['network']} ({best['blocks']}x{best['channels']}), in "
            f"{with_interval(best, 'optimal_move_rate')}. {reading}"
        )
    larger = sorted(
        (r for r in trained if r["parameters"] > base["parameters"]), key=lambda r: r["parameters"]
    )
    lifts = [r for r in larger if r["optimal_interval"][0] > base["optimal_interval"][1]]
    if larger:
        out.append(
            f"The smallest larger size that clearly beats {base['network']}: "
            f"{lifts[0]['network']} ({lifts[0]['parameters']:,} parameters, "
            f"{with_interval(lifts[0], 'optimal_move_rate')})."
            if lifts
            else f"No larger size tried ({', '.join(r['network'] for r in larger)}) clearly "
            f"beats {base['network']} on the same positions and budget: the best is "
            f"{max(larger, key=lambda r: r['optimal_move_rate'])['network']}."
        )
    for r in trained:
        gap = r["fit_optimal"] - r["val_optimal"]
        out.append(
            f"{r['network']}: best move in {r['fit_optimal']:.3f} of its training positions, "
            f"{r['val_optimal']:.3f} of held-out games' ({gap:+.3f}); opening / middle / end "
            f"error on the graded positions {_stage_errors(r)}."
        )
    return out


def write_ceiling(
    folder: Path,
    rows: list[dict],
    config: CeilingConfig,
    labels: LabelledPositions,
    yardstick: Yardstick,
    command: str,
) -> Path:
    """``summary.md`` and ``results.json`` of :func:`ceiling`."""
    header = ["network", "size", "parameters", "trained on", "positions", "epochs", "train s"]
    header += ["optimal-move rate", "score vs teacher", "record"]
    header += ["opening / middle / end error", "value sign accuracy", "train / held-out optimal"]
    body = [
        [
            r["network"],
            f"{r['blocks']}x{r['channels']}" + " (default)" * r["default"],
            f"{r['parameters']:,}",
            r["trained"],
            f"{r['positions']:,}" if "positions" in r else "",
            r.get("epochs", ""),
            f"{r['train_s']:.0f}" if "train_s" in r else "",
            with_interval(r, "optimal_move_rate"),
            with_interval(r, "score"),
            r["record"],
            _stage_errors(r),
            r["value_sign_accuracy"],
            f"{r['fit_optimal']:.3f} / {r['val_optimal']:.3f}" if "fit_optimal" in r else "",
        ]
        for r in rows
    ]
    counts = np.bincount(labels.stages, minlength=len(STAGES))
    spent = ", ".join(
        f"{stage} {n:,} ({s:.0f} s)"
        for stage, n, s in zip(STAGES, counts, labels.seconds, strict=True)
    )
    intro = (
        f"Each network size trained by stage 1's recipe on {len(labels):,} Connect Four positions "
        f"from {len(np.unique(labels.game)):,} games ({', '.join(config.labels.sources)}; "
        f"{config.labels.min_ply}+ stones, none of the graded positions or their mirror "
        f"images), labelled by the solver: the policy target uniform over the best moves, the "
        f"value target the game-theoretic result. By stage and seconds of solving: {spent}. "
        f"{config.val_fraction:.0%} of the games held out. Every network measured alone (its "
        "most likely move), the shipped checkpoints the same way."
    )
    sections = [
        "## Networks alone",
        markdown_table(header, body),
        "Error by stage: the share of the graded positions of each stage (opening: up to 14 "
        "stones, middle 15-28, end) in which the move is not a best one. Value sign accuracy: "
        "how often the value head's sign (a draw within 1/3 of 0) is the position's result. "
        f"Train / held-out optimal: best moves on {FIT_SAMPLE:,} of the training positions and "
        "on the held-out games' positions.",
    ]
    results = {
        "config": dataclasses.asdict(config),
        "labelled_positions": len(labels),
        "labelled_by_stage": dict(zip(STAGES, counts.tolist(), strict=True)),
        "solver_seconds_by_stage": dict(zip(STAGES, labels.seconds.tolist(), strict=True)),
        "rows": rows,
    }
    return write_summary(
        folder,
        "Ceiling: connect4 networks taught perfect play",
        intro,
        verdict(rows),
        sections,
        results,
        yardstick,
        command,
    )


def _stage_errors(row: dict) -> str:
    return " / ".join(f"{row[f'error_{s}']:.3f}" for s in STAGES if f"error_{s}" in row)
