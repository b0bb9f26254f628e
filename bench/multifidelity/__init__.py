"""bench/multifidelity: schedulers against their peers on problems with a budget (epochs)."""
