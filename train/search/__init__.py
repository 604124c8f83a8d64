"""The search: batched Monte Carlo tree search, its evaluators, its oracle and its targets.

- ``tree.py``: the trees of a batch of games as arrays (``Tree``, ``ROOT_INDEX``,
  ``UNVISITED``, ``NO_PARENT``), and the steps every selection rule shares: ``init_tree``,
  ``descend``, ``expand``, ``backup``.
- ``puct.py``: AlphaZero's rules: ``MCTSConfig`` with its cited defaults, the PUCT score,
  Dirichlet root noise, ``puct_actions`` (interior selection) and ``PuctRoot`` (root
  selection); ``SEARCH_FLAGS`` and ``config_from_flags``, the search flags of both stages.
- ``gumbel.py``: Gumbel MuZero's rules (Danihelka et al. 2022, as mctx): ``GumbelRoot``
  (Gumbel-top-k, then sequential halving, ``visit_schedule``) and
  ``gumbel_interior_actions``; ``MCTSConfig(search="gumbel")`` makes them the default.
- ``search.py``: ``search(...)``, the simulation loop with pluggable root and interior
  selection, returning a ``SearchResult`` (visits, Q, root value, priors, legal moves, the
  recommended action); ``select_action``, the move choice of play (temperature, random ties).
- ``protocols.py``: the seams, each with its contract: ``Evaluator``, ``RootSelection`` /
  ``RootPlan``, ``InteriorSelection``, ``SearchFunction``.
- ``evaluators.py``: what scores the leaves: uniform, random rollouts, the network.
- ``targets.py``: policy targets from a search (visit counts, completed Q for PUCT, and
  Gumbel search's ``gumbel_policy``), and the completed-Q formula Gumbel's rules share.
- ``reference.py``: the oracle, a one-leaf search of one game written for clarity;
  ``tests/test_mcts.py`` requires identical visit counts from the batched search.

Where the next pieces plug in:

- Another root rule is a ``RootSelection``, passed as ``search(..., root_selection=...)``
  (or named by a new ``MCTSConfig.search`` kind), as ``gumbel.py``'s is.
- Another interior rule is an ``InteriorSelection``, passed as ``interior_selection=``.
- A new evaluator is any callable of the ``Evaluator`` signature (``evaluators.py``).
- A GPU twin of the search is a new ``gpu.py`` filling ``SearchFunction``: ``tree.py``'s
  arrays as device tensors, an evaluator fed device tensors, judged by the same oracle test.
"""
