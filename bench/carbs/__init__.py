"""Cost-aware search at equal total cost: hypervolume of (objective, log cost) vs cost spent."""
