"""Checkpoints: round trips, atomic writes, and every refusal with a clear message."""

from __future__ import annotations

import enum
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import (
    FORMAT,
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from models.net import NetConfig, PolicyValueNet


def trained_looking_net(game: str = "connect4", seed: int = 0) -> PolicyValueNet:
    """A small net whose BatchNorm statistics are not the defaults (as after training)."""
    torch.manual_seed(seed)
    model = PolicyValueNet(NetConfig(game, blocks=1, channels=8, value_hidden=8))
    model.train()
    with torch.no_grad():  # a few forward passes in train mode move the running statistics
        for _ in range(3):
            model(torch.rand(16, *model.obs_shape))
    return model.eval()


def save(path: Path, model: PolicyValueNet, **overrides) -> None:
    kwargs = dict(stage="imitation", step=1234, args={"lr": 1e-3}, metrics={}, seed=7)
    save_checkpoint(path, model, **{**kwargs, **overrides})


def test_round_trip(tmp_path: Path) -> None:
    model = trained_looking_net()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    logits, value = model(torch.rand(8, *model.obs_shape))
    (logits.sum() + value.sum()).backward()
    optimiser.step()  # gives the optimiser real state (moments, step counts)
    model.eval()
    rng = np.random.default_rng(42)
    rng.random(3)
    training_state = {
        "optimiser": optimiser.state_dict(),
        "numpy_rng": rng.bit_generator.state,  # PCG64 state: 128-bit Python ints
        "torch_rng": torch.Generator().manual_seed(3).get_state(),
        "buffer_indices": np.arange(5, dtype=np.int64),
        "epoch": np.int64(3),
    }
    args = {"lr": 1e-3, "game": "connect4", "out": tmp_path / "runs", "augment": True, "n": None}
    metrics = {"eval/vs_expert/win_rate": 0.625, "losses/total": np.float32(1.5)}
    path = tmp_path / "sub" / "ckpt.pt"
    save_checkpoint(
        path,
        model,
        stage="selfplay",
        step=98765,
        args=args,
        metrics=metrics,
        seed=11,
        training_state=training_state,
    )

    ckpt = load_checkpoint(path, game="connect4")
    assert ckpt.path == path
    assert ckpt.config == model.config and ckpt.game == "connect4"
    assert (ckpt.stage, ckpt.step, ckpt.seed) == ("selfplay", 98765, 11)
    assert ckpt.args == {**args, "out": str(tmp_path / "runs")}
    assert ckpt.metrics == {"eval/vs_expert/win_rate": 0.625, "losses/total": 1.5}
    assert not ckpt.model.training

    obs = torch.rand(10, *model.obs_shape)
    legal = torch.rand(10, model.num_actions) > 0.3
    with torch.no_grad():
        for x, y in zip(model(obs, legal), ckpt.model(obs, legal), strict=True):
            assert torch.equal(x, y)

    state = ckpt.training_state
    restored_rng = np.random.default_rng()
    restored_rng.bit_generator.state = state["numpy_rng"]
    np.testing.assert_array_equal(restored_rng.random(4), rng.random(4))
    assert torch.equal(state["torch_rng"], training_state["torch_rng"])
    assert torch.equal(state["buffer_indices"], torch.arange(5))  # numpy comes back as torch
    assert state["epoch"] == 3 and isinstance(state["epoch"], int)
    fresh = torch.optim.AdamW(ckpt.model.parameters(), lr=1e-3)
    fresh.load_state_dict(state["optimiser"])  # resumable
    for p_old, p_new in zip(model.parameters(), ckpt.model.parameters(), strict=True):
        old, new = optimiser.state[p_old], fresh.state[p_new]
        assert torch.equal(old["exp_avg"], new["exp_avg"])
    assert list(path.parent.iterdir()) == [path]  # no temporary files left behind


def test_training_state_is_optional(tmp_path: Path) -> None:
    save(tmp_path / "a.pt", trained_looking_net("tictactoe"))
    ckpt = load_checkpoint(tmp_path / "a.pt")
    assert ckpt.training_state is None and ckpt.game == "tictactoe"


class Mode(str, enum.Enum):
    FAST = "fast"


def test_unstorable_values_are_refused_when_saving(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"training_state\['sampler'\]: a object"):
        save(tmp_path / "a.pt", trained_looking_net(), training_state={"sampler": object()})
    with pytest.raises(TypeError, match=r"args\['mode'\]: a Mode"):
        save(tmp_path / "a.pt", trained_looking_net(), args={"mode": Mode.FAST})
    assert not (tmp_path / "a.pt").exists()


def test_overwrite_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ckpt.pt"
    save(path, trained_looking_net(seed=0), step=1)

    def crash_mid_write(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt  # e.g. the user hits Ctrl-C while the file is written

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(KeyboardInterrupt):
        save(path, trained_looking_net(seed=1), step=2)
    monkeypatch.undo()
    assert load_checkpoint(path).step == 1  # the old checkpoint is whole
    assert list(tmp_path.iterdir()) == [path]


def test_wrong_game_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c4.pt"
    save(path, trained_looking_net("connect4"))
    with pytest.raises(CheckpointError, match="holds a connect4 network, but tictactoe") as err:
        load_checkpoint(path, game="tictactoe")
    assert str(path) in str(err.value)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nothing.pt")
    with pytest.raises(CheckpointError, match="not a file"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_file_is_refused(tmp_path: Path, keep: float) -> None:
    whole = tmp_path / "whole.pt"
    save(whole, trained_looking_net())
    data = whole.read_bytes()
    torn = tmp_path / "torn.pt"
    torn.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as err:
        load_checkpoint(torn)
    assert str(torn) in str(err.value)


class _Exploit:
    """Unpickling this object would create a file: stands in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("protocol", [None, 2, pickle.HIGHEST_PROTOCOL], ids=lambda p: f"{p}")
def test_pickled_code_is_refused_without_running(tmp_path: Path, protocol: int | None) -> None:
    """``None``: a torch.save file; an int: a bare pickle of that protocol."""
    marker = tmp_path / "pwned"
    # Looks like a checkpoint on the surface, with the payload hidden in a field.
    payload = {"format": FORMAT, "version": FORMAT_VERSION, "args": _Exploit(marker)}
    path = tmp_path / "evil.pt"
    if protocol is None:
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=protocol))

    with pytest.raises(CheckpointError, match="nothing in it was run") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)
    assert not marker.exists()
    if protocol != pickle.HIGHEST_PROTOCOL:  # newer protocols are refused before the object
        assert "holds pickled Python objects" in str(err.value)
        assert "(code: io.open)" in str(err.value) and "refused for safety" in str(err.value)
    assert "weights_only" not in str(err.value)  # never torch's advice to run it after all

    # The control: an unsafe load really would run the payload.
    if protocol is None:
        torch.load(path, weights_only=False)
    else:
        pickle.loads(path.read_bytes())
    assert marker.exists()


class _Shell:
    """Unpickling this object would run a shell command (torch blocks its module by name)."""

    def __reduce__(self):
        return (os.system, ("true",))


@pytest.mark.parametrize("payload", [_Shell(), print, np.arange(3)], ids=["system", "fn", "np"])
def test_any_pickled_code_is_named_and_refused_for_safety(tmp_path: Path, payload) -> None:
    path = tmp_path / "code.pt"
    torch.save({"format": FORMAT, "version": FORMAT_VERSION, "args": payload}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert message.startswith(f"{path}: holds pickled Python objects that loading would run")
    assert "refused for safety, nothing in it was run" in message
    assert "weights_only" not in message and "\n" not in message


def test_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.pt"
    save(path, trained_looking_net())
    payload = torch.load(path, weights_only=True)
    payload["version"] = FORMAT_VERSION + 1
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=f"format {FORMAT_VERSION + 1}.*update apprentice"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "content",
    [
        {"model": {}, "step": 3},  # some other project's dict
        [1, 2, 3],
        {"weight": torch.zeros(3)},  # a bare state_dict
    ],
    ids=["dict", "list", "state_dict"],
)
def test_other_torch_files_are_refused(tmp_path: Path, content) -> None:
    path = tmp_path / "other.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match="not an apprentice checkpoint"):
        load_checkpoint(path)


def test_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("not a checkpoint at all\n")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mismatch.pt"
    save(path, trained_looking_net())
    payload = torch.load(path, weights_only=True)
    payload["config"]["channels"] = 16
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="damaged checkpoint"):
        load_checkpoint(path)


def test_checkpoint_error_is_a_value_error() -> None:
    assert issubclass(CheckpointError, ValueError)


# --- scripts/export_checkpoint.py -----------------------------------------------------------


@pytest.fixture
def run_checkpoint(tmp_path: Path) -> Path:
    """A run's latest.pt with training state, as --resume needs it."""
    path = tmp_path / "run" / "latest.pt"
    save(path, trained_looking_net(), training_state={"optimizer": {"step": 3}})
    return path


def export(capsys, *argv: str) -> str:
    """Run the export script; returns its error sentence (it must exit non-zero)."""
    from scripts import export_checkpoint

    with pytest.raises(SystemExit) as exit_info:
        export_checkpoint.main(list(argv))
    message = str(exit_info.value.code)
    assert exit_info.value.code not in (0, None) and message.startswith("error: "), message
    assert "\n" not in message and capsys.readouterr().out == ""  # nothing written
    return message


def test_export_refuses_to_write_over_its_source(run_checkpoint: Path, capsys) -> None:
    before = run_checkpoint.read_bytes()
    link = run_checkpoint.parent / "link.pt"
    link.symlink_to(run_checkpoint)
    hard = run_checkpoint.parent / "hard.pt"
    os.link(run_checkpoint, hard)
    spelled = run_checkpoint.parent / ".." / "run" / "latest.pt"
    for target in (run_checkpoint, link, hard, spelled):
        for force in ([], ["--force"]):  # --force does not make it right
            message = export(capsys, str(run_checkpoint), str(target), *force)
            assert "is the source itself" in message and "resume" in message
    assert run_checkpoint.read_bytes() == before
    assert load_checkpoint(run_checkpoint).training_state is not None


def test_export_writes_over_another_file_only_with_force(
    run_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    from scripts import export_checkpoint

    target = tmp_path / "shipped.pt"
    target.write_bytes(b"someone's file")
    message = export(capsys, str(run_checkpoint), str(target))
    assert "already exists" in message and "--force" in message
    assert target.read_bytes() == b"someone's file"
    export_checkpoint.main([str(run_checkpoint), str(target), "--force"])
    assert f"wrote {target}" in capsys.readouterr().out
    shipped = load_checkpoint(target)
    assert shipped.training_state is None and shipped.step == 1234


def test_export_refuses_a_folder_as_target(run_checkpoint: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    message = export(capsys, str(run_checkpoint), str(folder))
    assert "is a folder" in message and str(folder / "latest.pt") in message
    assert list(folder.iterdir()) == []
    # Its own folder: the example given is not the source.
    message = export(capsys, str(run_checkpoint), str(run_checkpoint.parent))
    assert message.endswith(f"e.g. {run_checkpoint.parent / 'latest_export.pt'}")


def test_export_says_why_it_cannot_write(run_checkpoint: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    target = blocker / "sub" / "copy.pt"
    message = export(capsys, str(run_checkpoint), str(target))
    assert message == f"error: cannot write {target}: {blocker} is a file, not a folder"


def test_export_refuses_a_missing_source(tmp_path: Path, capsys) -> None:
    message = export(capsys, str(tmp_path / "nothing.pt"), str(tmp_path / "copy.pt"))
    assert "no such file" in message and not (tmp_path / "copy.pt").exists()
