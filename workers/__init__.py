"""Tunehub workers: run trials of studies on a Ray cluster and report back over HTTP.

Workers depend on the SDK only, never on the server.
"""
