"""Training: losses, expert data, imitation, batched search, self-play and evaluation."""
