"""The codebook: load it from YAML/JSON and check its structure."""
