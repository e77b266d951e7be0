"""One loss per module; each docstring lists its inputs."""
