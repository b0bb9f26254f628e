"""bench/ac: algorithm configuration on solver instances, and CASH on sklearn's datasets."""
