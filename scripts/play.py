"""Play in the terminal against a checkpoint or the scripted expert, or watch two players.

python -m scripts.play --game connect4                         # you against the expert
python -m scripts.play --opponent runs/x/best.pt:sims=200 --side second
python -m scripts.play --checkpoint runs/x/best.pt --sims 200
python -m scripts.play --watch runs/x/best.pt expert --delay 0.5
python -m scripts.play --game go7 --opponent gnugo:level=5   # 7x7 Go against GNU Go

At your turn type a move (a column 1..7, a cell 1..9 in tic-tac-toe, or in Go a point such as
``D4`` or ``pass``, in any case), or a command:
``hint`` (or ``?``) shows the network's move probabilities and who it thinks is winning,
``undo`` takes back your last move (and the reply), ``restart`` starts again (from
``--position`` if given), ``quit`` ends. End of input or Ctrl-C also end the game.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from envs import GAME_NAMES, get_game
from envs.core import Game, State
from envs.go import GoGame
from envs.players import Player
from scripts.cli import arg, parse, set_threads
from train.arena.specs import checkpoint_path, make_player
from train.engine.analyser import Analyser, area_margin
from train.engine.request import AnalysisError, make_request, position_after

_NAMES = ("first", "second")
_ROLLOUT_HINT_SIMS = 400


@dataclass
class Args:
    """Play a game in the terminal against a checkpoint or the scripted expert."""

    game: str | None = arg(
        None,
        "the game (default: the checkpoint's, else connect4)",
        choices=GAME_NAMES,
    )
    opponent: str = arg(
        "expert", "who you play: expert[:depth=N], random, mcts:SIMS, PATH.pt or PATH.pt:sims=N"
    )
    checkpoint: str | None = arg(None, "play this checkpoint (overrides --opponent), see --sims")
    sims: int = arg(0, "MCTS simulations for --checkpoint and for hints (0: the network alone)")
    side: Literal["first", "second", "random"] = arg("first", "the side you play")
    position: str = arg(
        "", "start from this position (moves in the game's notation, e.g. 4453, or D4 C3 in Go)"
    )
    hint_checkpoint: str | None = arg(
        None, "the network behind 'hint' (default: the opponent's; none: random-rollout MCTS)"
    )
    watch: list[str] = arg(
        None, "watch two players (specs as for --opponent) play each other", metavar="PLAYER"
    )
    delay: float = arg(0.5, "seconds between moves when watching")
    seed: int = arg(0, "seed of the players' random choices")
    threads: int = arg(1, "torch CPU threads")


def main(argv: list[str] | None = None) -> None:
    args = parse(Args, argv)
    specs = [args.opponent, args.checkpoint or "", args.hint_checkpoint or "", *(args.watch or [])]
    if any(map(checkpoint_path, specs)):  # pin torch's threads; don't import it for nothing
        set_threads(args.threads)
    try:
        if args.watch:
            _watch(args)
        else:
            _play(args)
    except KeyboardInterrupt:
        print("\ninterrupted")
        raise SystemExit(130) from None
    except BrokenPipeError:
        sys.stderr.close()


def _watch(args: Args) -> None:
    if len(args.watch) != 2:
        raise SystemExit(f"error: --watch takes two players, got {len(args.watch)}")
    game = _choose_game(args.game, args.watch)
    players = [_make_player(spec, game, args.seed) for spec in args.watch]
    rng = np.random.default_rng(args.seed)
    state = game.initial_state()
    print(f"{game.stone_chars[0]}: {players[0].name}   {game.stone_chars[1]}: {players[1].name}")
    print(game.render(state), flush=True)
    while not game.is_terminal(state):
        player = players[int(game.to_play(state))]
        action = _act(player, state, rng)
        state = game.step(state, action)
        time.sleep(args.delay)
        print(f"\n{player.name} plays {game.format_move(action)}")
        print(game.render(state), flush=True)
    print(_result_line(game, state, [p.name for p in players]))


def _play(args: Args) -> None:
    spec = args.opponent
    if args.checkpoint:
        spec = f"{args.checkpoint}:sims={args.sims}" if args.sims else args.checkpoint
    game = _choose_game(args.game, [spec])
    opponent = _make_player(spec, game, args.seed)
    rng = np.random.default_rng(args.seed)
    human = int(rng.integers(2)) if args.side == "random" else _NAMES.index(args.side)
    hint_checkpoint = args.hint_checkpoint or checkpoint_path(spec)
    # Without a network, a hint needs a search: one random playout alone says little.
    hint_sims = args.sims if hint_checkpoint or args.sims else _ROLLOUT_HINT_SIMS
    analyser = Analyser(seed=args.seed)
    names = ["you", "you"]
    names[1 - human] = opponent.name
    moves_help = _moves_help(game)
    print(
        f"You play {game.stone_chars[human]} ({_side_name(game, human)}) against {opponent.name}. "
        f"Type {moves_help}, or hint (?), undo, restart, quit."
    )
    try:
        start = game.parse_actions(args.position)
    except ValueError as err:
        raise SystemExit(f"error: --position {err}") from None
    moves = list(start)
    show = True  # draw the board when the position has changed
    while True:
        state = position_after(game, moves)
        if not game.is_terminal(state) and int(game.to_play(state)) != human:
            action = _act(opponent, state, rng)
            moves.append(action)
            print(f"{opponent.name} plays {game.format_move(action)}")
            continue
        if show:
            print(game.render(state))
            if game.is_terminal(state):
                print(_result_line(game, state, names) + " Type restart, undo or quit.")
        show = False
        prompt = "> " if game.is_terminal(state) else f"{game.stone_chars[human]} to play> "
        try:
            line = input(prompt)
        except EOFError:
            print()
            return
        command = line.strip().lower()
        if command in ("quit", "exit", "q"):
            return
        if command == "restart":
            moves, show = list(start), True
        elif command == "undo":
            mine = [i for i in range(len(start), len(moves)) if i % 2 == human]
            if mine:
                moves, show = moves[: mine[-1]], True
            else:
                print("Nothing to undo yet.")
        elif command in ("hint", "?"):
            _print_hint(analyser, game, moves, hint_sims, hint_checkpoint)
        elif game.is_terminal(state):
            print("The game is over: type restart, undo or quit.")
        else:
            try:
                action = _parse_move(game, line.strip())  # errors quote it as typed
                _check_legal(game, state, action)
            except ValueError as err:
                print(f"{err}. Type {moves_help}, or hint (?), undo, restart, quit.")
                continue
            moves.append(action)
            show = True


def _moves_help(game: Game) -> str:
    """What a move looks like, for the intro and the hints after a bad one."""
    if isinstance(game, GoGame):  # the top-right corner, and the centre
        corner, centre = game.format_move(game.size - 1), game.format_move(game.num_cells // 2)
        return f"a point A1-{corner} (e.g. {centre}) or pass"
    return f"a {'column 1-7' if game.name == 'connect4' else 'cell 1-9'}"


def _side_name(game: Game, side: int) -> str:
    """``first``/``second``; in Go the colours, Black (who moves first) and White."""
    return ("Black", "White")[side] if isinstance(game, GoGame) else _NAMES[side]


def _parse_move(game: Game, text: str) -> int:
    # The whole line is one token: a Go vertex ("D4", "pass") is more than one character.
    if not text:
        raise ValueError("No move given")
    return game.parse_move(text)


def _check_legal(game: Game, state: State, action: int) -> None:
    """Raise ``ValueError`` if ``action`` can't be played; in Go, saying which rule forbids it."""
    if isinstance(game, GoGame) and not game.legal_mask(state)[action]:
        raise ValueError(_why_illegal(game, state, action))
    game.play(state, action)  # the game's own checks and message


def _why_illegal(game: GoGame, state: State, action: int) -> str:
    """Why an illegal point is illegal: taken, the ko, or suicide (what else is left)."""
    move = game.format_move(action)
    if game.board(state).reshape(-1)[action]:
        return f"{move} is occupied"
    if action == int(game.ko_cell(state)):
        return f"{move} would retake the ko at once: play elsewhere first"
    return f"{move} would be suicide (the stone would have no liberties)"


def _print_hint(
    analyser: Analyser,
    game: Game,
    moves: list[int],
    sims: int,
    checkpoint: str | None,
) -> None:
    try:
        answer = analyser.analyse(make_request(game, game.notation(moves), sims, checkpoint))
    except AnalysisError as err:
        print(f"No hint: {err}")
        return
    if answer["terminal"]:
        print("The game is over.")
        return
    source = "the network" if checkpoint else "random-rollout search"
    searched = f" after {sims} simulations" if sims else ""
    value = answer["value"]  # hints are asked for at your turn: the value is yours
    print(
        f"{source}{searched}: value {value:+.2f} for you (expected score "
        f"{_win_percent(value)}%, a draw counting half); it would play {answer['move']}"
    )
    if checkpoint:
        print("  network " + "  ".join(f"{m}:{p:4.0%}" for m, p in answer["policy"].items()))
    if answer["visits"]:
        print("  visits  " + "  ".join(f"{m}:{n}" for m, n in answer["visits"].items()))


def _win_percent(value: float) -> int:
    """The expected score (win 1, draw 1/2) of a value in [-1, 1], as a percentage."""
    return round(50 * (1 + value))


def _act(player: Player, state: State, rng: np.random.Generator) -> int:
    return int(player.act(State.stack([state]), rng)[0])


def _result_line(game: Game, state: State, names: list[str]) -> str:
    winner = int(game.winner(state))
    go = isinstance(game, GoGame)  # decided by the area score, komi included
    if winner < 0:
        return f"Draw: the area scores are equal after komi {game.komi:g}." if go else "Draw."
    who = names[winner]
    verb = "win" if who == "you" else "wins"
    by = ""
    if go:
        margin = abs(area_margin(game, state))
        by = f" by {margin:g} points ({'BW'[winner]}+{margin:g})"
    return f"{game.stone_chars[winner]} ({who}) {verb}{by}."


def _make_player(spec: str, game: Game, seed: int) -> Player:
    try:
        return make_player(spec, game, seed=seed)
    except ValueError as err:  # includes CheckpointError
        raise SystemExit(f"error: {err}") from None


def _choose_game(name: str | None, specs: list[str]) -> Game:
    """The game named, else the first checkpoint's game, else Connect Four."""
    if name:
        return get_game(name)
    for spec in specs:
        path = checkpoint_path(spec)
        if path:
            from models.checkpoint import CheckpointError, load_checkpoint

            try:
                return get_game(load_checkpoint(path).game)
            except CheckpointError as err:
                raise SystemExit(f"error: {err}") from None
    return get_game("connect4")


if __name__ == "__main__":
    main()
