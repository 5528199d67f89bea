"""The gait pytest plugin: regress fixtures collected as test items (pytest --gait)."""
from pytest_gait.recorder import gait_recorder  # noqa: F401
