"""Library versions for manifests: every output records what made it."""

import platform
from importlib import metadata

GENERATION = ("nanoflux", "dspy", "litellm", "chromadb", "sentence-transformers", "sympy", "trl", "peft",
              "transformers", "torch", "llama_cpp_python")
CURATION = ("nanoflux", "chromadb", "sentence-transformers")
TRAINING = ("nanoflux", "torch", "transformers", "trl", "peft", "datasets", "accelerate")


def library_versions(names: tuple[str, ...] = GENERATION) -> dict[str, str | None]:
    """Python's version and each installed distribution's (None when one is not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
