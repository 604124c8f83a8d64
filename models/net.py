"""The policy-value network: one residual tower, two heads, built from its config alone.

The shape follows AlphaGo Zero (Silver et al., 2017, "Mastering the game of Go without human
knowledge", Methods, "Neural network architecture"), scaled down to small boards::

    obs float32[B, planes, rows, cols]
      -> conv 3x3 (channels) -> BatchNorm -> ReLU                      # stem
      -> blocks x [conv 3x3 -> BN -> ReLU -> conv 3x3 -> BN, + skip, ReLU]
      -> policy head: conv 1x1 (2 planes) -> BN -> ReLU -> linear     -> logits[B, A]
      -> value head:  conv 1x1 (1 plane)  -> BN -> ReLU -> linear (value_hidden) -> ReLU
                                                         -> linear -> tanh -> value[B]

BatchNorm, as in AlphaGo Zero: it lets a deep-ish tower train with a plain learning rate, and
in eval mode it is just a fixed per-channel scale and shift.
Always evaluate in eval mode (``predict`` sees to that); in train mode BN would use the
statistics of whatever batch the search happened to send.

The same network serves every game; only the sizes in :func:`default_config` differ.
The value is from the view of the player to move, like every value in the project.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from envs import get_game, get_profile

#: What illegal moves' logits are set to. Large enough that softmax gives them exactly 0 in
#: float32, small enough that log-softmax and a cross-entropy with a zero target stay finite
#: (``0 * -1e9 == 0``, whereas ``0 * -inf`` is NaN).
ILLEGAL_LOGIT = -1e9

# Head widths from AlphaGo Zero: 2 planes for the policy, 1 for the value.
_POLICY_PLANES = 2
_VALUE_PLANES = 1


@dataclass(frozen=True)
class NetConfig:
    """Everything needed to build a :class:`PolicyValueNet`; stored in every checkpoint.

    Attributes:
        game: a registered game's name (e.g. "connect4"); gives input and output shapes.
        blocks: residual blocks in the tower (0 = the stem alone).
        channels: feature planes in the tower.
        value_hidden: width of the value head's hidden layer.
    """

    game: str
    blocks: int
    channels: int
    value_hidden: int

    def __post_init__(self) -> None:
        get_game(self.game)  # raises ValueError for an unknown game
        if self.blocks < 0 or self.channels < 1 or self.value_hidden < 1:
            raise ValueError(f"invalid network size in {self}")

    def to_dict(self) -> dict[str, str | int]:
        """The config as plain data (what a checkpoint stores)."""
        return asdict(self)


def default_config(game: str) -> NetConfig:
    """The default network size for ``game``, its profile's ``net`` (raises ``ValueError``
    for an unknown game; the measurements behind each size are beside it, e.g.
    ``envs/connect4_profile.py``)."""
    size = get_profile(game).net
    return NetConfig(game, size.blocks, size.channels, size.value_hidden)


class _ResidualBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a skip connection (He et al., 2016)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(x + y)


def _conv_bn(in_planes: int, out_planes: int, kernel: int) -> nn.Sequential:
    # No conv bias: the BatchNorm right after it has its own.
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_planes),
        nn.ReLU(),
    )


class PolicyValueNet(nn.Module):
    """Policy logits and a value for a batch of observations.

    Built from ``config`` alone (the game's shapes come from ``envs.get_game``), so a
    checkpoint that stores the config can rebuild the network with nothing else.
    """

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        game = get_game(config.game)
        planes, rows, cols = game.obs_shape
        cells = rows * cols
        self.obs_shape = game.obs_shape
        self.num_actions = game.num_actions

        self.stem = _conv_bn(planes, config.channels, 3)
        self.tower = nn.Sequential(*(_ResidualBlock(config.channels) for _ in range(config.blocks)))
        self.policy_head = nn.Sequential(
            _conv_bn(config.channels, _POLICY_PLANES, 1),
            nn.Flatten(),
            nn.Linear(_POLICY_PLANES * cells, game.num_actions),
        )
        self.value_head = nn.Sequential(
            _conv_bn(config.channels, _VALUE_PLANES, 1),
            nn.Flatten(),
            nn.Linear(_VALUE_PLANES * cells, config.value_hidden),
            nn.ReLU(),
            nn.Linear(config.value_hidden, 1),
        )

    def forward(
        self, obs: torch.Tensor, legal: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Score a batch of positions.

        Args:
            obs: float32[B, planes, rows, cols], ``game.observation`` of each position.
            legal: optional bool[B, A]; where False the logit is set to ``ILLEGAL_LOGIT``.

        Returns:
            logits: float32[B, A], illegal moves masked (when ``legal`` is given).
            value: float32[B] in [-1, 1], from the view of the player to move.
        """
        # A copy in another precision (``inference_copy(...).to(torch.bfloat16)``) takes the
        # same float32 observations; for the float32 network this is a no-op.
        features = self.tower(self.stem(obs.to(self.stem[0].weight.dtype)))
        # The heads' outputs go to float32 before masking, so that ILLEGAL_LOGIT stays finite
        # even if the body ran in half precision under autocast.
        logits = self.policy_head(features).float()
        value = torch.tanh(self.value_head(features).float()).squeeze(-1)
        if legal is not None:
            logits = logits.masked_fill(~legal, ILLEGAL_LOGIT)
        return logits, value


def num_parameters(model: nn.Module) -> int:
    """The number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def predict(
    model: PolicyValueNet,
    obs: np.ndarray,
    legal: np.ndarray,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Move probabilities and values for a batch of positions, from numpy to numpy.

    Runs in eval mode (BatchNorm uses its running statistics) under ``torch.inference_mode``,
    and puts the model back in the mode it was in.

    Args:
        model: the network.
        obs: float32[B, planes, rows, cols] observations.
        legal: bool[B, A] legal moves.
        device: where to run; default: where the model's parameters are.

    Returns:
        probs: float32[B, A], summing to 1 over the legal moves of each row (all zeros for a
            row with no legal move, i.e. a finished game).
        values: float32[B] in [-1, 1], from the view of the player to move.
    """
    if len(obs) == 0:
        return np.zeros((0, model.num_actions), np.float32), np.zeros(0, np.float32)
    if device is None:
        device = next(model.parameters()).device
    was_training = model.training
    # Switching modes walks every submodule (~0.25 ms for the default net, a tenth of a
    # batch-1 forward pass), so a model already in eval mode is left alone.
    if was_training:
        model.eval()
    try:
        with torch.inference_mode():
            obs_t = torch.as_tensor(obs, dtype=torch.float32, device=device)
            legal_t = torch.as_tensor(legal, dtype=torch.bool, device=device)
            logits, values = model(obs_t, legal_t)
            probs = torch.softmax(logits, dim=-1) * legal_t
    finally:
        if was_training:
            model.train()
    return probs.cpu().numpy(), values.cpu().numpy()


def inference_copy(model: PolicyValueNet) -> PolicyValueNet:
    """A frozen copy of ``model`` for evaluation: BatchNorms folded into convs, channels-last.

    In eval mode a BatchNorm is a fixed per-channel affine map, so it merges into the weights
    and bias of the convolution before it (``w' = w * gamma / sigma``, ``b' = beta - mean *
    gamma / sigma``); the copy computes the same function (to float32 rounding) without
    the BatchNorm passes. It doesn't follow later changes to ``model``
    (``train.search.evaluators.NetworkEvaluator`` rebuilds it when the weights change), and its
    parameter names differ (BatchNorms become ``nn.Identity``): never save it, save ``model``.
    """
    fused = copy.deepcopy(model).eval().requires_grad_(False)
    for conv_bn in (fused.stem, fused.policy_head[0], fused.value_head[0]):
        conv_bn[0], conv_bn[1] = _fold(conv_bn[0], conv_bn[1]), nn.Identity()
    for block in fused.tower:
        block.conv1, block.bn1 = _fold(block.conv1, block.bn1), nn.Identity()
        block.conv2, block.bn2 = _fold(block.conv2, block.bn2), nn.Identity()
    # Channels-last weights make the convolutions run channels-last (oneDNN's native layout
    # on CPUs) without reordering every activation: 15-30% faster at every batch size
    # on a 2-core CPU (``scripts/benchmark_selfplay.py``). Inputs may stay NCHW.
    return fused.to(memory_format=torch.channels_last)


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    return fuse_conv_bn_eval(conv, bn).requires_grad_(False)
