"""Quality evaluations on public data: `python -m eval.<name>`."""
