"""storyboard: YAML shot lists → five-part video prompts → previs or hosted renders → one edit."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.2.0"
