"""Virtual Window: a permanent, privacy-safe live video window between partner cities."""

__version__ = "0.1.0"
