"""Event and histogram data: synthetic generators and readers of the real formats."""
