"""``gait list-scripts``: see gait.cli.scripts."""

from gait.cli.scripts import register_list as register

__all__ = ["register"]
