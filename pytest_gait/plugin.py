"""The gait pytest plugin: regress fixtures collected as test items (pytest --gait)."""
