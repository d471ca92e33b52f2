"""Inter-coder agreement: coefficients, ratings, set distances, bootstrap, coding tables
and the report object."""
