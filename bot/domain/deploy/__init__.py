"""The /deploy command: its grammar, the deploy tool port, and each action."""
