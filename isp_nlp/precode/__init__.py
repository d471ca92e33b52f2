"""Pre-coding a new interview wave with a trained project's model."""
