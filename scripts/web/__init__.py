"""What the web board's server (scripts/serve.py) needs besides HTTP: searches that report
their progress and can be stopped, and the winning line of a finished game."""
