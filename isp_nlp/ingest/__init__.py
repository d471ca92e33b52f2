"""Read transcript files and cut them into segments with stable ids and offsets."""
