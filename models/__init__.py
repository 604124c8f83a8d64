"""Policy-value networks built from a config, and self-describing checkpoints."""

from models.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from models.net import NetConfig, PolicyValueNet, default_config, predict

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "NetConfig",
    "PolicyValueNet",
    "default_config",
    "load_checkpoint",
    "predict",
    "save_checkpoint",
]
