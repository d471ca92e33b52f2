"""Exchange with other qualitative-analysis tools (the REFI-QDA standard)."""
