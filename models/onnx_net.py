"""The policy-value network run by ONNX Runtime: the same function, a faster CPU path.

On a CPU, ONNX Runtime's convolutions (MLAS, with the ReLU and the residual addition fused
into them) run the default Connect Four network faster than PyTorch's eager channels-last
copy: 1.4x at batch 64, 1.6x at 24, 2.6x at 8 and 4.6x at 2, where PyTorch's fixed cost per
call dominates (one thread, 2-core AMD EPYC, CPU time). Self-play's searches send many small
batches (finished games leave the batch; an evaluation cache sends only new positions), so
the small batches matter: self-play runs ~1.7x faster (``scripts/benchmark_selfplay.py
--runtime onnxruntime``).

:func:`onnx_graph` writes the network's graph by hand from the BatchNorm-folded copy
(``models.net.inference_copy``) with ONNX's helpers, softmax and masking included, so a call
returns the move probabilities and values that ``models.net.predict`` returns (to float32
rounding: at most 1.5e-6 in the priors and 4e-6 in the values of the shipped networks,
``tests/test_benchmark_selfplay.py``); :class:`OnnxNet` runs it. Both need the
packages ``onnx`` and ``onnxruntime`` (dependencies of the project), imported only here and
only when called, so that a PyTorch-only run never loads them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.net import ILLEGAL_LOGIT, PolicyValueNet, inference_copy

#: The ONNX operator set the graph is written for (Squeeze takes its axes as an input).
OPSET = 17

_MISSING = (
    "ONNX Runtime inference needs the packages onnx and onnxruntime, dependencies of the "
    "project: pip install -e ."
)


def onnx_graph(model: PolicyValueNet) -> bytes:
    """The serialised ONNX model of ``model`` in eval mode, BatchNorms folded.

    Inputs ``obs`` float32[B, planes, rows, cols] and ``legal`` bool[B, A]; outputs
    ``probs`` float32[B, A] (softmax over the legal moves, 0 elsewhere, as
    ``models.net.predict``) and ``values`` float32[B].
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as err:
        raise ImportError(_MISSING) from err

    fused = inference_copy(model)
    nodes: list = []
    weights: list = []

    def constant(name: str, value: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(kind: str, inputs: list[str], output: str, **attributes) -> str:
        nodes.append(helper.make_node(kind, inputs, [output], **attributes))
        return output

    def conv(x: str, module: nn.Conv2d, name: str) -> str:
        w = constant(f"{name}.w", module.weight.detach().contiguous().numpy())
        b = constant(f"{name}.b", module.bias.detach().numpy())
        pad = module.padding[0]
        return op("Conv", [x, w, b], name, pads=[pad] * 4, kernel_shape=list(module.kernel_size))

    def linear(x: str, module: nn.Linear, name: str) -> str:
        w = constant(f"{name}.w", module.weight.detach().numpy())
        b = constant(f"{name}.b", module.bias.detach().numpy())
        return op("Gemm", [x, w, b], name, transB=1)

    x = op("Relu", [conv("obs", fused.stem[0], "stem")], "stem.relu")
    for i, block in enumerate(fused.tower):
        y = op("Relu", [conv(x, block.conv1, f"block{i}.conv1")], f"block{i}.relu1")
        y = conv(y, block.conv2, f"block{i}.conv2")
        x = op("Relu", [op("Add", [x, y], f"block{i}.add")], f"block{i}.out")

    policy = op("Relu", [conv(x, fused.policy_head[0][0], "policy.conv")], "policy.relu")
    policy = op("Flatten", [policy], "policy.flat", axis=1)
    logits = linear(policy, fused.policy_head[2], "policy.fc")
    illegal = constant("illegal_logit", np.array(ILLEGAL_LOGIT, dtype=np.float32))
    masked = op("Where", ["legal", logits, illegal], "policy.masked")
    softmax = op("Softmax", [masked], "policy.softmax", axis=-1)
    legal_float = op("Cast", ["legal"], "legal.float", to=TensorProto.FLOAT)
    op("Mul", [softmax, legal_float], "probs")  # a row without legal moves gives zeros

    value = op("Relu", [conv(x, fused.value_head[0][0], "value.conv")], "value.relu")
    value = op("Flatten", [value], "value.flat", axis=1)
    value = op("Relu", [linear(value, fused.value_head[2], "value.fc1")], "value.hidden")
    value = op("Tanh", [linear(value, fused.value_head[4], "value.fc2")], "value.tanh")
    axes = constant("squeeze_axes", np.array([1], dtype=np.int64))
    op("Squeeze", [value, axes], "values")

    planes, rows, cols = fused.obs_shape
    graph = helper.make_graph(
        nodes,
        "policy_value_net",
        [
            helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["B", planes, rows, cols]),
            helper.make_tensor_value_info("legal", TensorProto.BOOL, ["B", fused.num_actions]),
        ],
        [
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["B", fused.num_actions]),
            helper.make_tensor_value_info("values", TensorProto.FLOAT, ["B"]),
        ],
        initializer=weights,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = 8  # readable by every ONNX Runtime since 1.10
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


class OnnxNet:
    """A :class:`PolicyValueNet`'s current weights in an ONNX Runtime session on the CPU.

    Called as ``net(obs float32[K, planes, rows, cols], legal bool[K, A]) -> (probs
    float32[K, A], values float32[K])``, numpy in and out. It does not follow later changes
    to the model: build a new one (``train.search.evaluators.NetworkEvaluator`` does when
    the weights change). ``threads`` defaults to torch's CPU thread count, so a self-play
    worker pinned to one thread stays on one.
    """

    def __init__(self, model: PolicyValueNet, threads: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError as err:
            raise ImportError(_MISSING) from err
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.num_actions = model.num_actions
        self._session = onnxruntime.InferenceSession(
            onnx_graph(model), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, obs: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(obs) == 0:
            return np.zeros((0, self.num_actions), np.float32), np.zeros(0, np.float32)
        feeds = {
            "obs": np.ascontiguousarray(obs, dtype=np.float32),
            "legal": np.ascontiguousarray(legal, dtype=bool),
        }
        probs, values = self._session.run(None, feeds)
        return probs, values
