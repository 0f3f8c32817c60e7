"""Jinja environment for report templates: sandboxed, autoescaped, limited, user directory first.

Lookup order for a template name: the user's ``template_dir`` (when given), then the built-ins in
``templates/``. ``default:NAME`` always means the built-in, so a user template may carry a built-in's
own name and still extend it (``{% extends "default:executive.html.j2" %}``), as Datasette does.
Templates only present: they get one documented context (templates/README.md) and a few formatting
filters; the sandbox refuses attribute tricks such as ``''.__class__.__mro__``, the loader serves only
files whose real path is inside the template directories (a symlink to /etc/passwd is refused), and
template_limits bounds render time, loops, nesting and output size. Any template error becomes a
TemplateError naming the template file and line.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import os
import time
from typing import Callable

import jinja2
from jinja2.loaders import split_template_path
from jinja2.sandbox import SecurityError

from phantom_report.engine.limits import clip
from phantom_report.errors import TemplateError
from phantom_report import safe_files
from phantom_report.reporter import fmt
from phantom_report.reporter.template_cache import builtin_template_cache
from phantom_report.reporter.template_limits import LimitedEnvironment, RenderLimitError, RenderLimits

BUILTIN_KINDS = ("executive", "detailed")


def builtin_dir() -> Path:
    """The directory of the built-in templates (the installed ``phantom_report.templates``)."""
    return Path(str(resources.files("phantom_report.templates")))


def _autoescape(name: str | None) -> bool:
    return not (name or "").endswith((".md.j2", ".txt.j2", ".css"))


MAX_TEMPLATE_BYTES = 1_000_000  # one template file; the largest built-in is ~20 KB


class ConfinedLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that serves only regular UTF-8 files of at most MAX_TEMPLATE_BYTES whose
    *real* path is inside its directory: a symlink may point within the directory, never out of it
    (``leak.txt -> /etc/passwd`` is a TemplateError, not a rendered password file). Names with
    ``..`` are refused by Jinja's own split_template_path."""

    def __init__(self, directory: str | Path):
        super().__init__(str(directory), followlinks=False)
        self.directory = str(directory)

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        """A template's source, read only when its real path lies inside the directory (a symlink
        may not lead out), as a regular UTF-8 file of at most ``MAX_TEMPLATE_BYTES``."""
        candidate = os.path.join(self.directory, *split_template_path(template))
        if not os.path.lexists(candidate) or os.path.isdir(candidate):
            raise jinja2.TemplateNotFound(template)
        real = os.path.realpath(candidate)
        if not safe_files.inside(real, [self.directory]):
            raise TemplateError(f"template {template!r} is a link to a file outside the template directory "
                                f"{self.directory}; templates may only read files inside it")
        try:
            source = safe_files.read_regular_file(real, MAX_TEMPLATE_BYTES).decode("utf-8")
            mtime = os.path.getmtime(real)
        except UnicodeDecodeError as exc:
            raise TemplateError(f"{candidate}: not UTF-8 text (byte {exc.start})") from None
        except ValueError as exc:
            raise TemplateError(f"{candidate}: {exc} (template file limit)") from None
        except OSError as exc:
            raise TemplateError(f"{candidate}: cannot read template: {exc.strerror or exc}") from None

        def uptodate() -> bool:
            try:
                return os.path.getmtime(real) == mtime
            except OSError:
                return False

        return source, candidate, uptodate


def make_env(user_dir: Path | None = None, limits: RenderLimits | None = None,
             clock: Callable[[], float] = time.monotonic) -> LimitedEnvironment:
    """The environment for one report run: ``user_dir`` first, then the built-ins, under ``limits``
    (``clock`` is for tests of the time limit)."""
    builtin = ConfinedLoader(builtin_dir())
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        loaders.append(ConfinedLoader(user_dir))
    loaders += [jinja2.PrefixLoader({"default": builtin}, delimiter=":"), builtin]
    env = LimitedEnvironment(
        loader=jinja2.ChoiceLoader(loaders), autoescape=_autoescape, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, limits=limits or RenderLimits(), clock=clock,
        bytecode_cache=builtin_template_cache(builtin_dir()),
    )
    env.filters.update(usd=fmt.usd, num=fmt.num, pct=fmt.pct, ms=fmt.ms, months=fmt.months)
    env.guard_filters()
    return env


def resolve_template(template: str, template_dir: Path | None, kind: str = "html") -> tuple[Path | None, str]:
    """(user dir, entry template name) for ``template`` = built-in name, user template name, or a
    directory holding ``report.html.j2`` (and optionally ``report.md.j2``)."""
    suffix = ".md.j2" if kind == "md" else ".html.j2"
    p = Path(template).expanduser()
    try:
        if template.endswith(("/", "\\")) or (p.is_dir() if not template.endswith(".j2") else False):
            if not p.is_dir():
                raise TemplateError(f"template directory {template} does not exist")
            return p, f"report{suffix}"
    except OSError as exc:  # ENAMETOOLONG, EACCES, ...
        raise TemplateError(f"template {template[:120]}: {exc.strerror or exc}") from None
    name = template if template.endswith(".j2") else f"{template}{suffix}"
    return template_dir, name


MAX_ERROR_CHARS = 600  # an error may quote template data; keep it a readable line


def render(env: LimitedEnvironment, name: str, context: Mapping[str, Any]) -> str:
    """Render template ``name`` under the environment's limits (fresh budget per call), streaming
    the output and stopping once it passes the output limit. Every failure is one TemplateError
    line naming the template file and line (control characters in quoted template data escaped)."""
    try:
        return _render(env, name, context)
    except TemplateError as exc:
        # newlines and terminal escapes in quoted template data must not break the one line
        raise TemplateError(clip(str(exc), MAX_ERROR_CHARS)) from None


def _render(env: LimitedEnvironment, name: str, context: Mapping[str, Any]) -> str:
    env.start_render()
    try:
        return _stream(env, env.get_template(name), context)
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or name
        raise TemplateError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template {exc.name!r} not found (searched: {_searched(env)})") from None
    except SecurityError as exc:
        raise TemplateError(f"{_template_frame(exc, name)}: refused by the template sandbox: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{_template_frame(exc, name)}: {exc} (see templates/README.md for the context)") from None
    except RenderLimitError as exc:
        raise TemplateError(f"{exc.where or _template_frame(exc, name)}: {exc}") from None
    except TemplateError as exc:  # the loader's refusals, raised where the include/extends is
        raise TemplateError(f"{_template_frame(exc, name)}: {exc}") from None
    except RecursionError as exc:
        raise TemplateError(f"{_template_frame(exc, name)}: templates nested too deeply "
                            "(recursive include, extends or macro?)") from None
    except MemoryError as exc:
        raise TemplateError(f"{_template_frame(exc, name)}: ran out of memory rendering the template") from None
    except Exception as exc:  # noqa: BLE001 - whatever user template code raises is the template's error
        raise TemplateError(f"{_template_frame(exc, name)}: {type(exc).__name__}: {exc}") from None


def _stream(env: LimitedEnvironment, template: jinja2.Template, context: Mapping[str, Any]) -> str:
    limit = env.limits.max_output_chars
    chunks, size = [], 0
    gen = template.generate(**context)
    try:
        for chunk in gen:
            size += len(chunk)
            if size > limit:
                raise RenderLimitError(f"the report is over {limit:,} characters (template output limit); "
                                       "stopped rendering", where=_suspended_at(gen, env, template.name or ""))
            chunks.append(chunk)
    finally:
        gen.close()
    return "".join(chunks)


def _suspended_at(gen: Any, env: LimitedEnvironment, fallback: str) -> str:
    """file:line where a paused template generator is (the innermost template frame)."""
    where = fallback
    while gen is not None and getattr(gen, "gi_frame", None) is not None:
        frame = gen.gi_frame
        tpl = frame.f_globals.get("__jinja_template__")
        if frame.f_globals.get("environment") is env and tpl is not None:
            where = f"{tpl.filename or tpl.name}:{tpl.get_corresponding_lineno(frame.f_lineno)}"
        gen = gen.gi_yieldfrom
    return where


def _template_frame(exc: BaseException, fallback: str) -> str:
    """file:line of the innermost template frame in the traceback (Jinja maps template code to the
    template's own file name and line numbers)."""
    where = fallback
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        # Jinja rewrites template frames into fake ones that carry __jinja_exception__
        if "__jinja_exception__" in tb.tb_frame.f_globals or fname.endswith((".j2", ".css")):
            where = f"{fname}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _dirs(env: LimitedEnvironment) -> list[str]:
    dirs = []
    for loader in env.loader.loaders:  # type: ignore[attr-defined]
        if isinstance(loader, ConfinedLoader):
            dirs.append(loader.directory)
    return list(dict.fromkeys(dirs))


def _searched(env: LimitedEnvironment) -> str:
    return ", ".join(_dirs(env))


def template_dirs(env: LimitedEnvironment) -> list[Path]:
    """The template directories of ``env`` (real paths, user directory first): the only places a
    template or the PDF renderer may read files from."""
    return safe_files.real_dirs(_dirs(env))


