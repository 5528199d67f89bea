"""Gait: signed, replayable runpacks, regressions and policy gates for production AI agents."""

__version__ = "0.1.0"
