"""Four experiments on the two-stage recipe, all measured with one yardstick.

- ``data_wall``: stage 1 on nested prefixes of one expert dataset (more games, same recipe)
  and, at one size, for more epochs: where do more data and more passes stop paying?
- ``thinking_time``: strength against MCTS simulations per move, for networks, beside the
  teacher's own depth sweep: how much does search add to a network?
- ``warm_vs_zero``: stage 2 (AlphaZero) from the stage-1 network and from scratch, same
  settings and seed, against compute: how much does imitating the teacher first save?
- ``ceiling``: networks of several sizes taught perfect play (positions labelled by the
  solver, ``ideal_labels``): is the default size what caps the two stages?

Each experiment's module runs it, returning rows (flat dicts of plain values, every point
measured by ``yardstick.Yardstick``), and writes it up: figures (``plots``), findings computed
from the rows (``findings``), ``summary.md`` and ``results.json`` (``summary``). The same
command and seed give the same numbers; only wall times vary.
"""
