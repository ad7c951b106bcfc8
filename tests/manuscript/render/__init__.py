"""Tests of lenstop.manuscript.render (the Quarto-free manuscript renderer)."""
