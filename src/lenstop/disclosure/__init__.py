"""Beside the flow · Disclosure control: minimum cell sizes, where data may go, the leak scan."""
