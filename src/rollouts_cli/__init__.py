"""The rollouts command line and the embedded local engine."""
