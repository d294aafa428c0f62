"""Notebook helpers, one module per lab (lab0, lab3, lab4, lab4_vgg) plus the quick-mode presets:
what a notebook calls. Nothing in the package imports them."""
