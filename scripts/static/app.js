// The browser board: all game logic stays on the server (scripts/serve.py); this file keeps
// the list of moves, asks the server to analyse the position and for the opponent's moves,
// and draws what comes back (the winning line included; in Go the stones, captures done, and
// the score). A long search shows its progress and can be stopped; a failed request says why
// in the status line. Plain JavaScript, no build step.
"use strict";

const EXPERT = "expert";
// Without a network the analysis is a random-rollout search, which needs some simulations
// to say anything.
const ROLLOUT_SIMULATIONS = 200;
// A search still running after this long shows its progress (polled this often).
const PROGRESS_AFTER_MS = 300;
const PROGRESS_EVERY_MS = 250;
// Go's column letters in GTP, which skips I (as envs/go.py does).
const GTP_COLUMNS = "ABCDEFGHJKLMNOPQRST";
const TITLES = { connect4: "Connect Four", tictactoe: "tic-tac-toe" };

const view = {
  game: document.getElementById("game"),
  opponent: document.getElementById("opponent"),
  side: document.getElementById("side"),
  sims: document.getElementById("sims"),
  newGame: document.getElementById("new-game"),
  undo: document.getElementById("undo"),
  status: document.getElementById("status"),
  board: document.getElementById("board"),
  probs: document.getElementById("probs"),
  moves: document.getElementById("moves"),
  source: document.getElementById("source"),
  meter: document.getElementById("meter-fill"),
  value: document.getElementById("value"),
  error: document.getElementById("error"),
  play: document.getElementById("play"),
  progress: document.getElementById("progress"),
  stop: document.getElementById("stop"),
  retry: document.getElementById("retry"),
  pass: document.getElementById("pass"),
};

const state = {
  options: null,
  moves: [],        // move tokens in the game's notation ("4", "D4"), from the empty board
  analysis: null,   // the server's answer for the current position
  busy: false,
  generation: 0,    // bumped by every new game or undo, so stale answers are dropped
  failure: null,    // the message of the request that failed, shown in the status line
  retryMoves: null, // the moves to ask about again on "Try again", after a failure
  search: null,     // the search in flight: {job, controller, stopped}
  stopped: false,   // the last analysis is the network alone because a search was stopped
};

function currentGame() {
  return state.options.games.find((g) => g.name === view.game.value);
}

// Go is the game with a pass; its moves are GTP vertices, written with spaces between them.
function isGo(game) {
  return game.pass !== null;
}

function moveString(game, moves) {
  return moves.join(game.separator);
}

function splitMoves(game, text) {
  return game.separator ? text.split(game.separator).filter(Boolean) : text.split("");
}

function humanSide() {
  return view.side.value;
}

function simulations() {
  const sims = Number.parseInt(view.sims.value, 10);
  return Number.isFinite(sims) && sims >= 0 ? sims : 0;
}

async function api(path, body, signal) {
  let response;
  try {
    response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new Error(`cannot reach the server (${err.message})`);
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch (err) {
    // Not JSON: a proxy's error page, say. The status line tells more than the parse error.
  }
  if (!response.ok || payload === null) {
    const why = payload && payload.error
      ? payload.error
      : `${response.status} ${response.statusText}`;
    throw new Error(`the server answered: ${why}`);
  }
  return payload;
}

function newJobName() {
  return `job-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

// A request that may search for long: named as a job, so that its progress can be shown
// and the Stop button can end it. A stopped search is asked again with 0 simulations (the
// network alone, at once), so there is always an answer to go on with.
async function searched(path, body, label) {
  const search = { job: newJobName(), controller: new AbortController(), stopped: false };
  state.search = search;
  const tick = () => {
    if (state.search !== search || search.ended) return;
    api(`/api/progress?job=${search.job}`).then((p) => {
      if (state.search !== search || search.ended) return;
      if (p.state === "searching" || p.state === "queued") showProgress(label, p);
    }).catch(() => {}); // progress is a nicety: the request itself reports failures
    search.timer = setTimeout(tick, PROGRESS_EVERY_MS);
  };
  search.timer = setTimeout(tick, PROGRESS_AFTER_MS);
  try {
    return await api(path, { ...body, job: search.job }, search.controller.signal);
  } catch (err) {
    if (!search.stopped) throw err;
    return await api(path, { ...body, simulations: 0 });
  } finally {
    clearTimeout(search.timer);
    if (state.search === search) {
      state.search = null;
      hideProgress();
    }
  }
}

// The Stop button: the network alone answers instead. A new game or an undo drops the
// search and its answer altogether (answerAlone false).
function stopSearch(answerAlone = true) {
  const search = state.search;
  if (!search || search.ended) return;
  search.ended = true;
  search.stopped = answerAlone;
  view.stop.disabled = true;
  // Tell the server to stop searching (it would go on otherwise), then drop the answer.
  api("/api/cancel", { job: search.job }).catch(() => {});
  search.controller.abort();
}

function showProgress(label, p) {
  const total = Math.max(p.total, 1);
  view.progress.hidden = false;
  view.progress.max = total;
  view.progress.value = p.done;
  view.stop.hidden = false;
  const share = Math.floor((100 * p.done) / total);
  const count = (n) => n.toLocaleString("en");
  view.status.textContent = p.state === "queued"
    ? `${label} (waiting for another search to finish)`
    : `${label} ${count(p.done)} of ${count(p.total)} simulations (${share}%)`;
}

function hideProgress() {
  view.progress.hidden = true;
  view.stop.hidden = true;
  view.stop.disabled = false;
}

function fillOpponents() {
  const previous = view.opponent.value;
  view.opponent.replaceChildren();
  const expert = new Option(currentGame().expert, EXPERT);
  view.opponent.add(expert);
  for (const checkpoint of state.options.checkpoints) {
    if (checkpoint.game === view.game.value) {
      const label = `${checkpoint.id} (${checkpoint.stage}, ${checkpoint.step} positions)`;
      view.opponent.add(new Option(label, checkpoint.id));
    }
  }
  const ids = Array.from(view.opponent.options, (o) => o.value);
  // Prefer a network: playing one is what the page is for.
  view.opponent.value = ids.includes(previous) ? previous : ids[ids.length - 1];
}

function analysisRequest() {
  const opponent = view.opponent.value;
  const network = opponent !== EXPERT;
  return {
    game: view.game.value,
    position: moveString(currentGame(), state.moves),
    checkpoint: network ? opponent : null,
    simulations: network ? simulations() : Math.max(simulations(), ROLLOUT_SIMULATIONS),
  };
}

// Analyse the position; if it is the opponent's turn, ask for its move and go on.
async function advance() {
  const generation = state.generation;
  state.busy = true;
  state.failure = null;
  view.error.textContent = "";
  try {
    for (;;) {
      render("Thinking…");
      const request = analysisRequest();
      const analysis = await searched("/api/analyse", request, "Thinking…");
      if (generation !== state.generation) return;
      state.analysis = analysis;
      state.stopped = request.simulations > 0 && analysis.simulations === 0;
      if (analysis.terminal || analysis.to_play === humanSide()) break;
      render("Opponent is thinking…");
      const reply = await searched("/api/move", {
        game: view.game.value,
        position: moveString(currentGame(), state.moves),
        opponent: view.opponent.value,
        simulations: simulations(),
      }, "Opponent is thinking…");
      if (generation !== state.generation) return;
      state.moves.push(reply.move);
    }
  } catch (err) {
    if (generation === state.generation) {
      state.failure = err.message;
      // Show the last position the server answered for, so that the board and the move
      // list agree; "Try again" asks about the moves played since.
      const game = currentGame();
      const shown = state.analysis ? state.analysis.position : "";
      if (shown !== moveString(game, state.moves)) {
        state.retryMoves = state.moves;
        state.moves = splitMoves(game, shown);
      }
    }
  }
  if (generation === state.generation) {
    state.busy = false;
    render();
  }
}

function retry() {
  if (state.busy) return;
  if (state.retryMoves) state.moves = state.retryMoves;
  state.retryMoves = null;
  advance();
}

function newGame() {
  stopSearch(false);
  state.retryMoves = null;
  state.generation += 1;
  state.moves = [];
  state.analysis = null;
  advance();
}

function undo() {
  // Back to just before your last move (taking back the opponent's reply with it).
  const mine = humanSide() === "first" ? 0 : 1;
  let last = -1;
  for (let i = mine; i < state.moves.length; i += 2) last = i;
  if (last < 0) return;
  stopSearch(false);
  state.retryMoves = null;
  state.generation += 1;
  state.moves = state.moves.slice(0, last);
  advance();
}

function play(move) {
  const analysis = state.analysis;
  if (state.busy || !analysis || analysis.terminal) return;
  if (!analysis.legal_moves.includes(move)) {
    view.error.textContent = `${move} is not a legal move here`;
    return;
  }
  state.retryMoves = null;
  state.moves.push(move);
  advance();
}

// --- drawing ---------------------------------------------------------------------------

function moveOfCell(game, row, col) {
  // Connect Four moves are columns, tic-tac-toe moves are cells (both 1-based), Go moves are
  // GTP vertices: a column letter, and the row counted from the bottom ("D4").
  if (isGo(game)) return `${GTP_COLUMNS[col]}${game.rows - row}`;
  return game.name === "connect4" ? String(col + 1) : String(row * game.cols + col + 1);
}

function shownProbabilities(analysis) {
  // The network's priors; without a network (uniform priors) the search's visit shares.
  if (analysis.evaluator && analysis.evaluator.startsWith("network")) return analysis.policy;
  const total = Object.values(analysis.visits || {}).reduce((a, b) => a + b, 0);
  if (!total) return analysis.policy || {};
  const shares = {};
  for (const [move, n] of Object.entries(analysis.visits)) shares[move] = n / total;
  return shares;
}

function render(message) {
  const game = currentGame();
  // A stale analysis (another game's, while the new one loads) draws nothing.
  const analysis = state.analysis && state.analysis.game === game.name ? state.analysis : null;
  const go = isGo(game);
  view.board.className = `board ${game.name}${go ? " go" : ""}`;
  // Go's board has a column of row numbers and a row of letters besides its points.
  view.play.style.setProperty("--cols", go ? game.cols + 1 : game.cols);
  view.board.style.setProperty("--points", game.cols);
  const probs = analysis && !analysis.terminal ? shownProbabilities(analysis) : {};
  const winning = new Set(
    ((analysis && analysis.winning_cells) || []).map(([row, col]) => `${row},${col}`),
  );
  const cells = [];
  for (let row = 0; row < game.rows; row += 1) {
    if (go) cells.push(coordinate(String(game.rows - row)));
    for (let col = 0; col < game.cols; col += 1) {
      const stone = analysis ? analysis.board[row][col] : 0;
      const move = moveOfCell(game, row, col);
      const cell = document.createElement("button");
      cell.type = "button";
      cell.className = "cell";
      cell.dataset.move = move;
      cell.dataset.row = row;
      cell.dataset.col = col;
      if (stone) {
        cell.classList.add(stone > 0 ? "first" : "second");
        if (winning.has(`${row},${col}`)) cell.classList.add("win");
        cell.textContent = game.name === "tictactoe" ? game.stones[stone > 0 ? 0 : 1] : "";
      } else if ((game.name === "tictactoe" || go) && move in probs) {
        cell.innerHTML = `<span class="p">${percent(probs[move])}</span>`;
        cell.firstChild.style.setProperty("--p", probs[move]);
      }
      if (go) markPoint(cell, game, analysis);
      cell.setAttribute("aria-label", `move ${move}`);
      cell.addEventListener("click", () => play(move));
      cells.push(cell);
    }
  }
  if (go) {
    cells.push(coordinate(""));
    for (let col = 0; col < game.cols; col += 1) cells.push(coordinate(GTP_COLUMNS[col]));
  }
  view.board.replaceChildren(...cells);

  // Go: the pass, a move like the others, with its probability.
  view.pass.hidden = !go;
  if (go) {
    const p = probs[game.pass];
    view.pass.textContent = p === undefined ? "Pass" : `Pass (${percent(p)})`;
    view.pass.disabled = state.busy || !analysis || analysis.terminal;
  }

  // Connect Four: one probability under each column.
  view.probs.replaceChildren();
  if (game.name === "connect4") {
    for (let col = 0; col < game.cols; col += 1) {
      const move = String(col + 1);
      const label = document.createElement("span");
      label.className = "prob";
      label.dataset.move = move;
      label.textContent = move in probs ? percent(probs[move]) : "";
      label.style.setProperty("--p", move in probs ? probs[move] : 0);
      view.probs.append(label);
    }
  }

  view.moves.textContent = state.moves.length ? `Moves: ${moveString(game, state.moves)}` : "";
  view.undo.disabled = state.busy;
  const failed = !message && state.failure;
  view.status.textContent = failed
    ? `Error: ${state.failure}`
    : message || statusText(game, analysis);
  view.status.dataset.terminal = analysis && analysis.terminal && !failed ? "true" : "false";
  view.status.dataset.error = failed ? "true" : "false";
  view.retry.hidden = !failed;
  renderPanel(analysis);
}

// A Go point's looks besides its stone: which edges cut its lines, the last stone played,
// and, at the human's turn, whether the rules forbid it (suicide, or retaking a ko at once):
// such a point takes no click.
function markPoint(cell, game, analysis) {
  const row = Number(cell.dataset.row);
  const col = Number(cell.dataset.col);
  if (row === 0) cell.classList.add("top");
  if (row === game.rows - 1) cell.classList.add("bottom");
  if (col === 0) cell.classList.add("left");
  if (col === game.cols - 1) cell.classList.add("right");
  if (!analysis) return;
  const move = cell.dataset.move;
  if (splitMoves(game, analysis.position).at(-1) === move) cell.classList.add("last");
  const stone = analysis.board[row][col];
  const yours = !analysis.terminal && analysis.to_play === humanSide();
  if (!stone && yours && !analysis.legal_moves.includes(move)) {
    cell.classList.add("illegal");
    cell.disabled = true;
    cell.title = `${move} is illegal here (suicide, or retaking the ko at once)`;
  }
}

function coordinate(text) {
  const label = document.createElement("span");
  label.className = "coord";
  label.textContent = text;
  return label;
}

function stoneName(game, side) {
  const index = side === "first" ? 0 : 1;
  if (isGo(game)) return ["black", "white"][index];
  return game.name === "connect4" ? ["red", "yellow"][index] : game.stones[index];
}

// Go's margin, as records write it: " by 3 points (B+3)" (komi included).
function scoreText(analysis) {
  const margin = Math.abs(analysis.score);
  return ` by ${margin} points (${analysis.score > 0 ? "B" : "W"}+${margin})`;
}

function statusText(game, analysis) {
  if (!analysis) return "";
  const you = humanSide();
  if (analysis.terminal) {
    if (analysis.result === "draw") return "Draw.";
    const stone = stoneName(game, analysis.result);
    const by = isGo(game) ? scoreText(analysis) : "";
    return analysis.result === you ? `You win (${stone})${by}!` : `You lose: ${stone} wins${by}.`;
  }
  const stone = stoneName(game, you);
  if (isGo(game)) {
    // A pass changes nothing on the board: say so, for passing back ends the game.
    const passed = splitMoves(game, analysis.position).at(-1) === game.pass;
    const other = stoneName(game, you === "first" ? "second" : "first");
    return `Your move (${stone}): click a point or pass${passed ? ` (${other} passed)` : ""}.`;
  }
  const what = game.name === "connect4" ? "click a column" : "click a cell";
  return `Your move (${stone}): ${what}.`;
}

function renderPanel(analysis) {
  if (!analysis || analysis.terminal) {
    view.source.textContent = analysis ? `The game is over: ${statusText(currentGame(), analysis)}` : "";
    view.value.textContent = "–";
    view.meter.style.width = "50%";
    return;
  }
  const network = analysis.evaluator.startsWith("network:");
  // "network:connect4/tiny.pt": the checkpoint's id, as the Opponent list shows it.
  const by = network
    ? `the network ${analysis.evaluator.slice("network:".length)}`
    : "a random-rollout search";
  const sims = analysis.simulations;
  const how = sims ? ` with ${sims.toLocaleString("en")} simulations` : network ? " alone" : "";
  const stopped = state.stopped ? " (search stopped)" : "";
  view.source.textContent = `Analysis by ${by}${how}${stopped}: it would play ${analysis.move}.`;
  // The value is for the player to move; turn it into the human's expected score.
  const value = analysis.to_play === humanSide() ? analysis.value : -analysis.value;
  const score = (1 + value) / 2;
  view.value.textContent = `Your chances: ${percent(score)} (value ${signed(value)} for you)`;
  view.value.dataset.value = String(value);
  view.meter.style.width = percent(score);
}

function percent(p) {
  return `${Math.round(100 * p)}%`;
}

function signed(x) {
  return `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(2)}`;
}

async function start() {
  try {
    state.options = await api("/api/options");
  } catch (err) {
    view.status.textContent = `Error: ${err.message}`;
    view.status.dataset.error = "true";
    return;
  }
  for (const game of state.options.games) {
    const title = TITLES[game.name] || (isGo(game) ? `Go ${game.rows}×${game.cols}` : game.name);
    view.game.add(new Option(title, game.name));
  }
  view.game.value = "connect4";
  view.sims.max = state.options.max_simulations;
  fillOpponents();
  view.game.addEventListener("change", () => { fillOpponents(); newGame(); });
  view.side.addEventListener("change", newGame);
  view.opponent.addEventListener("change", newGame);
  view.sims.addEventListener("change", () => { if (!state.busy) advance(); });
  view.newGame.addEventListener("click", newGame);
  view.undo.addEventListener("click", undo);
  view.stop.addEventListener("click", () => stopSearch());
  view.retry.addEventListener("click", retry);
  view.pass.addEventListener("click", () => play(currentGame().pass));
  newGame();
}

start();
