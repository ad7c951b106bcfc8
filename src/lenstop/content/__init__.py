"""5 · Report content: how numbers are written, tables and figures."""
