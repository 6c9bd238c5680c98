"""A tiny library the python_example pack installs from its own wheelhouse."""

__version__ = "0.1.0"


def greet(name: str) -> str:
    return f"Hello, {name}!"
