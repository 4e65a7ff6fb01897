"""Domain rules. Views, the agent API, the CLI and the workers all call these."""
