"""Textual screens and widgets of the operator console."""
