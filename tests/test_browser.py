"""End to end: the web board in a real headless Chromium, driven by Selenium.

The server runs in this process on a free port of 127.0.0.1 with tiny untrained checkpoints;
the test clicks moves, waits for the opponent's replies and reads what the page shows.
Skipped only where Debian's Chromium and ChromeDriver are not installed
(``bash .ci/install-browser.sh`` installs them).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from envs import CONNECT4
from models.checkpoint import save_checkpoint
from models.net import NetConfig, PolicyValueNet
from scripts.serve import App, make_server
from train.engine.analyser import Analyser

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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a server with one tiny network per game."""
    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    for game in ("connect4", "tictactoe"):
        model = PolicyValueNet(NetConfig(game, blocks=1, channels=8, value_hidden=16))
        with torch.no_grad():  # a fresh net is nearly uniform; sharpen it so moves differ
            model.policy_head[-1].weight.mul_(20)
            model.value_head[-1].weight.mul_(20)
        save_checkpoint(
            folder / game / "tiny.pt", model, stage="test", step=0, args={}, metrics={}, seed=0
        )
    server = make_server(App(folder, Analyser(seed=0), seed=0), "127.0.0.1", 0)
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


def your_chances(driver) -> int:
    match = re.search(r"Your chances: (\d+)%", driver.find_element("id", "value").text)
    assert match, driver.find_element("id", "value").text
    return int(match[1])


def click(driver, move: str) -> None:
    driver.find_element("css selector", f'#board .cell[data-move="{move}"]').click()


def choose(driver, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", select_id)).select_by_value(value)


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
