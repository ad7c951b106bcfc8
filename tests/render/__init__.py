"""Tests of lenstop.render (the Quarto-free manuscript renderer)."""
