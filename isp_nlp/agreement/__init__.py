"""Inter-coder agreement: coefficients, ratings, set distances, bootstrap, coding tables,
the reliability report and humans vs humans+model (groups)."""
