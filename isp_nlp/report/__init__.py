"""The project report: data collection, HTML and plots."""
