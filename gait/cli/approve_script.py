"""``gait approve-script``: see gait.cli.scripts."""

from gait.cli.scripts import register_approve as register

__all__ = ["register"]
