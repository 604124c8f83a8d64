"""Thin command-line entry points; each parses one argument dataclass and calls ``train/``."""
