"""phantom-report: predict ML model performance and cost on GPUs, and report it."""

__version__ = "0.1.0"
