"""End to end: the web board in a real headless Chromium, driven by Selenium.

The server runs in this process on a free port of 127.0.0.1 with tiny untrained checkpoints;
the test clicks moves, waits for the opponent's replies and reads what the page shows: the
winning line, the Go board (its points, coordinates, pass and illegal points), a 400-px-wide
layout, a long search's progress and its Stop button, and the error of a failed request.
Skipped only where Debian's Chromium and ChromeDriver are not installed
(``bash .ci/install-browser.sh`` installs them).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from envs import CONNECT4, GO7, TICTACTOE
from envs.core import State
from envs.experts import tictactoe_action_values
from models.checkpoint import save_checkpoint
from models.net import NetConfig, PolicyValueNet
from scripts.serve import App, make_server
from scripts.web.search_jobs import SearchAnalyser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,900",
]
WAIT_S = 60  # generous: CI machines can be slow and busy


pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="no browser: /usr/bin/chromium and /usr/bin/chromedriver are not installed "
    "(bash .ci/install-browser.sh installs them)",
)


def tiny_network(game: str) -> PolicyValueNet:
    model = PolicyValueNet(NetConfig(game, blocks=1, channels=8, value_hidden=16))
    with torch.no_grad():  # a fresh net is nearly uniform; sharpen it so moves differ
        model.policy_head[-1].weight.mul_(20)
        model.value_head[-1].weight.mul_(20)
    return model


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkpoints the server lists: one tiny network per game."""
    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    for game in ("connect4", "tictactoe", "go7"):
        save_checkpoint(
            folder / game / "tiny.pt",
            tiny_network(game),
            **dict(stage="test", step=0, args={}, metrics={}, seed=0),
        )
    return folder


@pytest.fixture(scope="module")
def site(folder: Path) -> Iterator[str]:
    """The URL of a server for the checkpoints of ``folder``."""
    server = make_server(App(folder, SearchAnalyser(seed=0), seed=0), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install selenium (test extras)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('profile')}"]:
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(WAIT_S)
    yield browser
    browser.quit()


def wait_idle(driver) -> str:
    """Wait until it is the human's turn or the game is over; returns the status text."""
    from selenium.webdriver.support.ui import WebDriverWait

    def idle(d) -> str | bool:
        # Text and flag are read in one script call: read separately, the page can change
        # between the two reads (a stale "thinking" text with a fresh "terminal" flag).
        text, terminal = d.execute_script(
            "const s = document.getElementById('status');"
            "return [s.textContent, s.getAttribute('data-terminal')];"
        )
        text = " ".join(text.split())
        over = terminal == "true" and "thinking" not in text
        return text if over or text.startswith("Your move") else False

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.02).until(idle)


def stones(driver) -> int:
    return len(driver.find_elements("css selector", "#board .cell.first, #board .cell.second"))


def column_probabilities(driver) -> dict[str, int]:
    """{column: percent} as shown under the Connect Four board (empty labels left out)."""
    labels = driver.find_elements("css selector", "#probs .prob")
    return {
        label.get_attribute("data-move"): int(label.text.rstrip("%"))
        for label in labels
        if label.text
    }


def point_probabilities(driver) -> dict[str, int]:
    """{point: percent} as shown on the empty points of the Go board."""
    labels = driver.find_elements("css selector", "#board .cell .p")
    return {
        label.find_element("xpath", "..").get_attribute("data-move"): int(label.text.rstrip("%"))
        for label in labels
    }


def moves_played(driver) -> list[str]:
    return driver.find_element("id", "moves").text.removeprefix("Moves: ").split()


def your_chances(driver) -> int:
    match = re.search(r"Your chances: (\d+)%", driver.find_element("id", "value").text)
    assert match, driver.find_element("id", "value").text
    return int(match[1])


def click(driver, move: str) -> None:
    driver.find_element("css selector", f'#board .cell[data-move="{move}"]').click()


def choose(driver, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", select_id)).select_by_value(value)


def set_simulations(driver, sims: int) -> None:
    """Type a new thinking budget and leave the field, as a user would (it re-analyses)."""
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element("id", "sims")
    # Select all and type over it: one change event (clear() would fire one of its own).
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(str(sims), Keys.TAB)


def wait_until(driver, condition, timeout: float = WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.02).until(condition)


def wait_error(driver) -> str:
    """Wait until the status line shows a failed request's error; returns it."""

    def failed(d) -> str | bool:
        text, error = d.execute_script(
            "const s = document.getElementById('status');"
            "return [s.textContent, s.getAttribute('data-error')];"
        )
        return " ".join(text.split()) if error == "true" else False

    return wait_until(driver, failed)


def shown_winning_cells(driver) -> list[tuple[int, int, str]]:
    """(row, col, "first" or "second") of every cell drawn as part of the winning line."""
    cells = driver.find_elements("css selector", "#board .cell.win")
    return sorted(
        (
            int(cell.get_attribute("data-row")),
            int(cell.get_attribute("data-col")),
            "first" if "first" in cell.get_attribute("class").split() else "second",
        )
        for cell in cells
    )


def assert_one_straight_line(cells: list[tuple[int, int, str]], length: int, winner: str) -> None:
    """``cells`` are ``length`` stones of ``winner`` in a row, a column or a diagonal."""
    assert len(cells) == length, cells
    assert {who for _, _, who in cells} == {winner}, cells
    steps = {(b[0] - a[0], b[1] - a[1]) for a, b in zip(cells, cells[1:], strict=False)}
    assert len(steps) == 1 and steps.pop() in {(0, 1), (1, 0), (1, 1), (1, -1)}, cells


def test_play_connect_four_against_a_network(site: str, driver, tmp_path: Path) -> None:
    driver.get(site)
    assert wait_idle(driver).startswith("Your move")
    # The opponent defaults to the network of the chosen game.
    assert driver.find_element("id", "opponent").get_attribute("value") == "connect4/tiny.pt"
    assert stones(driver) == 0
    before = column_probabilities(driver)
    assert sorted(before) == [str(c) for c in range(1, 8)]
    assert abs(sum(before.values()) - 100) <= 4  # rounded percentages
    assert 0 <= your_chances(driver) <= 100
    # The network is named by its id, once ("By network network:..." before).
    source = driver.find_element("id", "source").text
    found = re.fullmatch(
        r"Analysis by the network connect4/tiny\.pt with 50 simulations: it would play [1-7]\.",
        source,
    )
    assert found, source

    click(driver, "4")
    wait_idle(driver)
    assert stones(driver) == 2  # our move and the network's reply
    after = column_probabilities(driver)
    assert after != before  # a new position, new probabilities
    moves = driver.find_element("id", "moves").text
    assert re.fullmatch(r"Moves: 4[1-7]", moves), moves
    driver.save_screenshot(str(tmp_path / "connect4_opening.png"))

    # Undo takes back our move and the reply.
    driver.find_element("id", "undo").click()
    wait_idle(driver)
    assert stones(driver) == 0
    assert column_probabilities(driver) == before

    # Play the leftmost open column until the game ends (at most 21 of our moves); the
    # network alone answers, to keep the test quick.
    sims = driver.find_element("id", "sims")
    sims.clear()
    sims.send_keys("0")
    for _ in range(22):
        status = wait_idle(driver)
        if driver.find_element("id", "status").get_attribute("data-terminal") == "true":
            break
        click(driver, min(column_probabilities(driver)))
    else:
        pytest.fail("the game did not end")
    assert re.fullmatch(r"You win \(red\)!|You lose: yellow wins\.|Draw\.", status), status
    if status == "Draw.":
        assert shown_winning_cells(driver) == []
    else:  # the four (or more) that won, ringed, all of the winner's colour
        cells = shown_winning_cells(driver)
        winner = "first" if "red" in status else "second"
        assert len(cells) >= 4 and {who for _, _, who in cells} == {winner}, cells
    # The page's final board agrees with the rules replayed from its move list.
    played = driver.find_element("id", "moves").text.removeprefix("Moves: ")
    final = CONNECT4.parse(played)
    assert CONNECT4.is_terminal(final)
    assert stones(driver) == len(played)
    driver.save_screenshot(str(tmp_path / "connect4.png"))
    assert (tmp_path / "connect4.png").stat().st_size > 0

    driver.find_element("id", "new-game").click()
    wait_idle(driver)
    assert stones(driver) == 0


def test_tictactoe_against_the_expert_as_second_player(site: str, driver, tmp_path) -> None:
    driver.get(site)
    wait_idle(driver)
    choose(driver, "game", "tictactoe")
    wait_idle(driver)
    choose(driver, "opponent", "expert")
    choose(driver, "side", "second")
    wait_idle(driver)
    assert stones(driver) == 1  # the expert opened
    for _ in range(5):
        status = wait_idle(driver)
        if driver.find_element("id", "status").get_attribute("data-terminal") == "true":
            break
        empty = driver.find_elements("css selector", "#board .cell:not(.first):not(.second)")
        empty[0].click()
    else:
        status = wait_idle(driver)
    # The expert plays perfectly: we can draw at best.
    assert status in ("Draw.", "You lose: X wins."), status
    assert "The game is over" in driver.find_element("id", "source").text
    driver.save_screenshot(str(tmp_path / "tictactoe.png"))


def test_the_winning_line_is_highlighted(site: str, driver, tmp_path: Path) -> None:
    driver.get(site)
    wait_idle(driver)
    choose(driver, "game", "tictactoe")
    wait_idle(driver)
    assert driver.find_element("id", "opponent").get_attribute("value") == "tictactoe/tiny.pt"
    set_simulations(driver, 0)  # the untrained network alone: it errs, and perfect play wins
    for _ in range(5):
        status = wait_idle(driver)
        if driver.find_element("id", "status").get_attribute("data-terminal") == "true":
            break
        assert shown_winning_cells(driver) == []  # nothing ringed while the game goes on
        played = driver.find_element("id", "moves").text.removeprefix("Moves: ")
        values = tictactoe_action_values(TICTACTOE.parse(played))
        click(driver, str(int(np.argmax(values)) + 1))  # a best move (the lowest of equals)
    else:
        status = wait_idle(driver)
    assert status == "You win (X)!", status
    cells = shown_winning_cells(driver)
    assert_one_straight_line(cells, 3, "first")
    # The rules agree: those three cells alone make a line.
    bits = np.bitwise_or.reduce([TICTACTOE.cell_bits[r * 3 + c] for r, c, _ in cells])
    assert TICTACTOE.is_won(State(np.uint64(0), np.uint64(bits), np.int32(3)))
    driver.save_screenshot(str(tmp_path / "tictactoe_won.png"))


def test_play_go_against_a_network(site: str, driver, tmp_path: Path) -> None:
    driver.get(site)
    wait_idle(driver)
    choose(driver, "game", "go7")
    assert wait_idle(driver) == "Your move (black): click a point or pass."
    assert driver.find_element("id", "opponent").get_attribute("value") == "go7/tiny.pt"
    # 49 points named as GTP names them, rows numbered on the left, letters below.
    points = driver.find_elements("css selector", "#board .cell")
    assert len(points) == 49 and points[0].get_attribute("data-move") == "A7"
    assert points[-1].get_attribute("data-move") == "G1"
    coordinates = [c.text for c in driver.find_elements("css selector", "#board .coord")]
    assert coordinates == [*"7654321", "", *"ABCDEFG"]
    # The network's probabilities: on every point, and on the pass button.
    before = point_probabilities(driver)
    assert len(before) == 49
    pass_button = driver.find_element("id", "pass")
    assert pass_button.is_displayed() and pass_button.is_enabled()
    found = re.fullmatch(r"Pass \((\d+)%\)", pass_button.text)
    assert found, pass_button.text
    assert abs(sum(before.values()) + int(found[1]) - 100) <= 25  # 50 rounded percentages
    assert 0 <= your_chances(driver) <= 100

    click(driver, "D4")
    wait_idle(driver)
    (mine, reply) = moves_played(driver)
    assert mine == "D4" and reply != "D4"
    black = driver.find_element("css selector", '#board .cell[data-move="D4"]')
    assert "first" in black.get_attribute("class").split()
    if reply != "pass":  # the reply is a white stone, ringed as the last move
        white = driver.find_element("css selector", f'#board .cell[data-move="{reply}"]')
        assert {"second", "last"} <= set(white.get_attribute("class").split())
        assert stones(driver) == 2
    assert GO7.legal_mask(GO7.parse("D4"))[GO7.parse_move(reply)]
    assert point_probabilities(driver) != before and "D4" not in point_probabilities(driver)
    driver.save_screenshot(str(tmp_path / "go.png"))

    # Pass: the network answers, or passes back and the game is scored.
    driver.find_element("id", "pass").click()
    status = wait_idle(driver)
    played = moves_played(driver)
    assert played[:3] == ["D4", reply, "pass"]
    final = GO7.parse(" ".join(played))
    if GO7.is_terminal(final):
        assert played[-1] == "pass"
        margin = float(GO7.score(final)) * (1 if int(GO7.to_play(final)) == 0 else -1)
        winner = "black" if margin > 0 else "white"
        score = f"by {abs(margin):g} points ({winner[0].upper()}+{abs(margin):g})"
        assert status in (f"You win (black) {score}!", f"You lose: white wins {score}.")
        assert not driver.find_element("id", "pass").is_enabled()
    else:
        assert len(played) == 4 and status == "Your move (black): click a point or pass."


def test_go_points_the_rules_forbid_take_no_click(site: str, driver, tmp_path: Path) -> None:
    driver.get(site)
    wait_idle(driver)
    choose(driver, "game", "go7")
    wait_idle(driver)
    choose(driver, "side", "second")
    wait_idle(driver)
    #   A B C D E F G     White (us) to move: Black's E5 has just taken a stone at D5, so
    # 6 . . . X O . .     D5 is the ko; A1 would be suicide. The page is set to this
    # 5 . . X . X O .     position through its own state, as if these moves were played.
    # 4 . . . X O . .
    position = "D6 E6 C5 F5 D4 E4 A2 G7 B1 D5 E5"
    driver.execute_script(
        "state.generation += 1; state.moves = arguments[0].split(' '); advance();", position
    )
    assert wait_idle(driver) == "Your move (white): click a point or pass."
    assert " ".join(moves_played(driver)) == position
    illegal = driver.find_elements("css selector", "#board .cell.illegal")
    assert sorted(cell.get_attribute("data-move") for cell in illegal) == ["A1", "D5"]
    assert all(not cell.is_enabled() for cell in illegal)
    assert "ko" in illegal[0].get_attribute("title")
    assert "D5" not in point_probabilities(driver)
    driver.save_screenshot(str(tmp_path / "go_ko.png"))
    click(driver, "D5")  # nothing happens: no move, no request, no error
    time.sleep(0.3)
    assert " ".join(moves_played(driver)) == position
    assert driver.find_element("id", "error").text == ""
    assert wait_idle(driver) == "Your move (white): click a point or pass."
    # Elsewhere is fine: a white stone, then Black's reply.
    click(driver, "F6")
    wait_idle(driver)
    assert moves_played(driver)[:12] == [*position.split(), "F6"]


@pytest.mark.parametrize("game", ["connect4", "tictactoe", "go7"])
def test_the_page_fits_a_400_px_wide_window(site: str, driver, tmp_path: Path, game) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 400, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        driver.get(site)
        wait_idle(driver)
        if game != "connect4":
            choose(driver, "game", game)
            wait_idle(driver)
        # A move and a reply: the board, its labels and the panel filled.
        click(driver, "D4" if game == "go7" else "1")
        wait_idle(driver)
        assert driver.execute_script("return window.innerWidth") == 400
        # No sideways scrolling: the page is no wider than the window less its scroll bar.
        page = "document.documentElement"
        visible = driver.execute_script(f"return {page}.clientWidth")
        assert driver.execute_script(f"return {page}.scrollWidth") <= visible <= 400
        # Nothing sticks out on the right, however deep in the page.
        outside = driver.execute_script(
            "return Array.from(document.querySelectorAll('body *'))"
            f".filter(e => e.getBoundingClientRect().right > {visible} + 0.5)"
            ".map(e => e.id || e.className || e.tagName);"
        )
        assert outside == []
        # Still a board one can play: cells big enough to tap, the whole row visible.
        size = driver.execute_script(
            "return document.querySelector('#board .cell').getBoundingClientRect().width"
        )
        assert size >= 36, size
        driver.save_screenshot(str(tmp_path / f"{game}_400px.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_a_long_search_shows_its_progress_and_can_be_stopped(
    site: str, driver, tmp_path: Path
) -> None:
    driver.get(site)
    wait_idle(driver)
    set_simulations(driver, 20_000)  # about half a minute for the tiny network here

    def progress(d) -> tuple[int, float] | bool:
        text, hidden, value = d.execute_script(
            "const p = document.getElementById('progress');"
            "return [document.getElementById('status').textContent, p.hidden, p.value];"
        )
        found = re.search(r"Thinking… ([\d,]+) of 20,000 simulations \((\d+)%\)", text)
        done = int(found[1].replace(",", "")) if found else 0
        return (done, value) if done > 0 and not hidden else False

    first, bar = wait_until(driver, progress)
    assert bar == first  # the bar and the count say the same
    later, _ = wait_until(driver, lambda d: (p := progress(d)) and p[0] > first and p)
    assert first < later < 20_000
    driver.save_screenshot(str(tmp_path / "thinking.png"))
    stop = driver.find_element("id", "stop")
    assert stop.is_displayed()
    started = time.monotonic()
    stop.click()
    # The server stops the search too: the network-alone answer does not queue behind it.
    assert wait_idle(driver).startswith("Your move")
    assert time.monotonic() - started < 10
    source = driver.find_element("id", "source").text
    assert "alone (search stopped)" in source, source
    assert not driver.find_element("id", "progress").is_displayed() and not stop.is_displayed()
    assert len(column_probabilities(driver)) == 7  # the network's priors, to go on with


def test_a_failed_request_shows_its_error(site: str, driver, folder: Path, tmp_path: Path) -> None:
    driver.get(site)
    wait_idle(driver)
    # The connection goes: every analysis fails as fetch fails when the server is gone.
    driver.execute_script(
        "window.realFetch = window.fetch;"
        "window.fetch = (url, options) => String(url).startsWith('/api/analyse')"
        "  ? Promise.reject(new TypeError('Failed to fetch')) : window.realFetch(url, options);"
    )
    click(driver, "4")
    assert wait_error(driver) == "Error: cannot reach the server (Failed to fetch)"
    retry = driver.find_element("id", "retry")
    assert retry.is_displayed()
    # The unanswered move is taken back until then: the board and the move list agree.
    assert stones(driver) == 0 and driver.find_element("id", "moves").text == ""
    driver.save_screenshot(str(tmp_path / "failed.png"))
    driver.execute_script("window.fetch = window.realFetch;")  # it comes back
    retry.click()
    assert wait_idle(driver).startswith("Your move")
    assert stones(driver) == 2 and not retry.is_displayed()

    # The server refuses: a network damaged after it was listed.
    broken = folder / "connect4" / "broken.pt"
    save_checkpoint(
        broken, tiny_network("connect4"), **dict(stage="test", step=0, args={}, metrics={}, seed=0)
    )
    try:
        driver.get(site)
        wait_idle(driver)
        choose(driver, "opponent", "connect4/broken.pt")
        wait_idle(driver)
        broken.write_bytes(b"damaged")
        click(driver, "4")
        status = wait_error(driver)
        assert status.startswith("Error: the server answered: connect4/broken.pt: "), status
        assert "corrupt" in status and str(folder) not in status  # no server path shown
    finally:
        broken.unlink()
