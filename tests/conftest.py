"""Shared fixtures: the embedded local engine (see rollouts_cli.local.pytest_plugin)."""

pytest_plugins = ["rollouts_cli.local.pytest_plugin"]
