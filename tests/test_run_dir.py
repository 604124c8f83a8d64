"""The run directory check that both training scripts make before they start."""

from __future__ import annotations

import threading
from pathlib import Path

from scripts.cli import writable_dir


def test_runs_started_together_in_one_folder_all_pass_the_check(tmp_path: Path) -> None:
    # Two experiments launched at once into one --run-dir used to share one probe file, so
    # one could delete the other's probe and refuse to start ("not writable").
    refusals: list[BaseException] = []
    start = threading.Barrier(8)

    def check_many() -> None:
        start.wait()
        for _ in range(300):
            try:
                writable_dir(tmp_path)
            except SystemExit as refusal:
                refusals.append(refusal)

    threads = [threading.Thread(target=check_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refusals == []
    assert list(tmp_path.iterdir()) == []  # the probes leave nothing behind
