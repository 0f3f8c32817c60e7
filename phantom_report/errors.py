"""Errors a user can fix. The CLI prints their message on one line and exits with code 2.

Anything that is *not* a PhantomError is a bug in phantom-report and is allowed to show a traceback
(with `--debug`); everything caused by user input must raise one of these with a message that names
the file, line, key and what was expected.
"""

from __future__ import annotations


class PhantomError(Exception):
    """A problem with user input or environment, explained in one line."""

    exit_code = 2


class ProfileError(PhantomError):
    """A GPU profile is malformed or a GPU name is unknown."""


class ModelError(PhantomError):
    """A model source cannot be read, or a model name is unknown."""


class PredictionError(PhantomError):
    """A prediction request is invalid (batch 0, precision the GPU lacks, ...)."""


class SpecError(PhantomError):
    """A run spec is invalid."""


class PricingError(PhantomError):
    """Prices cannot be obtained or parsed."""


class TemplateError(PhantomError):
    """A report template is invalid or tried something it may not do."""


class OutputError(PhantomError):
    """Report files cannot be written (output path under a file, a directory in the way, disk full)."""
