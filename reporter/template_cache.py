"""Compiled built-in templates kept between runs, so a cold run does not recompile them.

Compiling the built-in report templates (parse, the limits' AST pass, code generation) took about
0.4-0.6 s of every cold `phantom-report run`, on the PDF's critical path. Jinja's bytecode cache
stores each template's compiled code next to a checksum of its source; this one

- caches only the *built-in* templates: a user's template is compiled fresh each run, so nothing a
  user hands us is stored or read back, and the cache cannot grow with the templates people try;
- keys every entry by the compiler that produced it — Jinja's version, Python's, and the source of
  the two modules that decide the generated code (templating.py: the environment's options;
  template_limits.py: the sandbox and the limits' AST pass) — so an upgrade never runs code
  compiled by an older version, and the source checksum catches an edited template;
- lives in a folder private to the user (phantom_report.user_cache) — Jinja reads an entry's
  header with pickle and its code with marshal, so only the user may write there — and treats every cache
  failure (read-only home, full disk, a corrupt file) as a miss: the template is compiled as before.

``PHANTOM_TEMPLATE_CACHE=off`` turns it off; ``PHANTOM_TEMPLATE_CACHE=<folder>`` moves it.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2.bccache import Bucket

from phantom_report import safe_files
from phantom_report.user_cache import cache_home, private_dir

# the modules whose code decides what a template compiles to (see the module docstring)
_COMPILER_MODULES = ("templating.py", "template_limits.py")
PRUNE_AFTER_S = 30 * 24 * 3600.0


@lru_cache(maxsize=1)
def compiler_fingerprint() -> str:
    """A digest of what turns a template's source into code: Jinja's and Python's versions and the
    source of this package's template environment and limits."""
    h = hashlib.sha256(f"jinja2 {jinja2.__version__}|python {sys.version}".encode())
    here = Path(__file__).parent
    for name in _COMPILER_MODULES:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:32]


class BuiltinTemplateCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file bytecode cache restricted to templates under ``builtin_dir``, keyed by the
    compiler fingerprint, and quiet on any file-system error (a miss, never a failed run)."""

    def __init__(self, directory: Path, builtin_dir: Path):
        super().__init__(str(directory), "%s.jinja")
        self._builtin = [builtin_dir]

    def get_bucket(self, environment: jinja2.Environment, name: str, filename: str | None,
                   source: str) -> Bucket:
        """The cached code of a built-in template; an empty bucket, never loaded nor stored, for
        any other template."""
        if filename is None or not safe_files.inside(filename, self._builtin):
            return Bucket(environment, "", self.get_source_checksum(source))
        return super().get_bucket(environment, name, filename, source)

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        """Jinja's key (name and file) with the compiler fingerprint in it."""
        return hashlib.sha1(f"{compiler_fingerprint()}|{name}|{filename}".encode()).hexdigest()

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` from its file when there is one (any error: a miss)."""
        if bucket.key:
            try:
                super().load_bytecode(bucket)
            except Exception:  # noqa: BLE001 - a truncated or corrupt entry (pickle, marshal errors): a miss
                bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Store ``bucket`` (atomically: Jinja writes a temporary file and renames it); an error
        leaves the cache as it was. A store happens only on a miss (a new version or an edited
        template), which is when entries of earlier versions are pruned."""
        if bucket.key:
            try:
                self._prune()
                super().dump_bytecode(bucket)
            except OSError:
                pass

    def _prune(self) -> None:
        # entries are written once and then only read, so an entry untouched for PRUNE_AFTER_S is
        # one of an earlier version's (or will be rewritten by the next miss, at the cost of a compile)
        cutoff = time.time() - PRUNE_AFTER_S
        for entry in os.scandir(self.directory):
            if entry.name.endswith(".jinja") and entry.is_file(follow_symlinks=False) \
                    and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)


def builtin_template_cache(builtin_dir: Path) -> BuiltinTemplateCache | None:
    """The cache for the built-in templates in ``builtin_dir``, or None when it is turned off or
    its folder cannot be made private (see the module docstring)."""
    setting = os.environ.get("PHANTOM_TEMPLATE_CACHE", "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    directory = private_dir(Path(setting).expanduser() if setting else cache_home() / "templates")
    return BuiltinTemplateCache(directory, builtin_dir) if directory is not None else None
