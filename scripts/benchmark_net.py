"""Forward throughput of policy-value networks of several sizes, to choose a default.

Self-play spends most of its time in network calls: one call per batch of search leaves.
This times ``model(obs, legal)`` in eval mode under ``torch.inference_mode`` on random
positions (``train.arena.positions.random_positions``), for every (blocks, channels) pair, at
each batch size, and prints positions per second. Example::

    python -m scripts.benchmark_net --game connect4 --blocks 2 4 6 --channels 32 64 128
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from envs import GAME_NAMES, get_game
from models.net import NetConfig, PolicyValueNet, default_config, num_parameters
from scripts.cli import arg, parse
from train.arena.positions import random_positions


@dataclass
class Args:
    """Time the policy-value network's forward pass for several sizes."""

    game: str = arg("connect4", "the game whose shapes to use", choices=GAME_NAMES)
    blocks: tuple[int, ...] = arg((2, 4, 6), "residual block counts to try")
    channels: tuple[int, ...] = arg((32, 64, 128), "channel counts to try")
    value_hidden: int = arg(0, "value head hidden width (0: the game's default)")
    batch_sizes: tuple[int, ...] = arg((1, 256), "batch sizes to time")
    threads: int = arg(2, "torch CPU threads (torch.set_num_threads)")
    seconds: float = arg(0.5, "minimum seconds of timed calls per round")
    rounds: int = arg(3, "timed rounds per measurement; the fastest is reported (least disturbed)")
    device: str = arg("cpu", "torch device to run on, e.g. cpu or cuda")
    seed: int = arg(0, "seed of the random positions fed to the network")


def macs_per_position(model: PolicyValueNet) -> int:
    """Multiply-accumulates of one forward pass for one position (convolutions and linears).

    Unlike a timing, this count doesn't depend on what else the machine is doing.
    """
    cells = model.obs_shape[1] * model.obs_shape[2]
    total = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):  # "same" padding: one output per cell
            kernel = module.kernel_size[0] * module.kernel_size[1]
            total += module.in_channels * module.out_channels * kernel * cells
        elif isinstance(module, torch.nn.Linear):
            total += module.in_features * module.out_features
    return total


def time_forward(
    model: PolicyValueNet, obs: torch.Tensor, legal: torch.Tensor, seconds: float, rounds: int
) -> float:
    """Positions per second of ``model(obs, legal)``: the best of ``rounds`` timed rounds.

    The best round, not the mean: other processes on a shared machine only ever slow a
    round down, so the fastest one is the closest to the network's own speed.
    """
    best = 0.0
    with torch.inference_mode():
        for _ in range(3):  # warm-up: allocator, lazy kernels
            model(obs, legal)
        for _ in range(rounds):
            calls, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                model(obs, legal)
                calls += 1
            if obs.device.type == "cuda":
                torch.cuda.synchronize()
            best = max(best, calls * len(obs) / (time.perf_counter() - start))
    return best


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    game = get_game(args.game)
    value_hidden = args.value_hidden or default_config(args.game).value_hidden
    rng = np.random.default_rng(args.seed)
    states = random_positions(game, max(args.batch_sizes), game.num_cells // 2 - 1, rng)
    obs_np, legal_np = game.observation(states), game.legal_mask(states)
    obs_all = torch.as_tensor(obs_np, device=args.device)
    legal_all = torch.as_tensor(legal_np, device=args.device)

    header = f"{'blocks':>6} {'channels':>8} {'params':>9} {'MMAC/pos':>8}" + "".join(
        f" {f'pos/s @{b}':>13}" for b in args.batch_sizes
    )
    print(
        f"game={args.game} threads={args.threads} device={args.device} value_hidden={value_hidden}"
    )
    print(header)
    for blocks in args.blocks:
        for channels in args.channels:
            config = NetConfig(args.game, blocks, channels, value_hidden)
            model = PolicyValueNet(config).to(args.device).eval()
            mmacs = macs_per_position(model) / 1e6
            row = f"{blocks:>6} {channels:>8} {num_parameters(model):>9,} {mmacs:>8.2f}"
            for batch in args.batch_sizes:
                rate = time_forward(
                    model, obs_all[:batch], legal_all[:batch], args.seconds, args.rounds
                )
                row += f" {rate:>13,.0f}"
            print(row, flush=True)


if __name__ == "__main__":
    main(parse(Args))
