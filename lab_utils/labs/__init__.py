"""Notebook helpers, one module per lab: what a notebook calls. Nothing in the package imports them."""
