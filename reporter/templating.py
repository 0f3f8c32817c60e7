"""Jinja environment for report templates: sandboxed, autoescaped, user directory first.

Lookup order for a template name: the user's ``template_dir`` (when given), then the built-ins in
``templates/``. ``default:NAME`` always means the built-in, so a user template may carry a built-in's
own name and still extend it (``{% extends "default:executive.html.j2" %}``), as Datasette does.
Templates only present: they get one documented context (templates/README.md) and a few formatting
filters; the sandbox refuses attribute tricks such as ``''.__class__.__mro__``. Any template error
becomes a TemplateError naming the template file and line.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import jinja2
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from phantom_report.errors import TemplateError
from phantom_report.reporter import fmt

BUILTIN_KINDS = ("executive", "detailed")


def builtin_dir() -> Path:
    return Path(str(resources.files("phantom_report.templates")))


def _autoescape(name: str | None) -> bool:
    return not (name or "").endswith((".md.j2", ".txt.j2", ".css"))


def make_env(user_dir: Path | None = None) -> SandboxedEnvironment:
    builtin = jinja2.FileSystemLoader(str(builtin_dir()))
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(user_dir)))
    loaders += [jinja2.PrefixLoader({"default": builtin}, delimiter=":"), builtin]
    env = SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders), autoescape=_autoescape, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(usd=fmt.usd, num=fmt.num, pct=fmt.pct, ms=fmt.ms, months=fmt.months)
    return env


def resolve_template(template: str, template_dir: Path | None, kind: str = "html") -> tuple[Path | None, str]:
    """(user dir, entry template name) for ``template`` = built-in name, user template name, or a
    directory holding ``report.html.j2`` (and optionally ``report.md.j2``)."""
    suffix = ".md.j2" if kind == "md" else ".html.j2"
    p = Path(template).expanduser()
    if template.endswith(("/", "\\")) or (p.is_dir() if not template.endswith(".j2") else False):
        if not p.is_dir():
            raise TemplateError(f"template directory {template} does not exist")
        return p, f"report{suffix}"
    name = template if template.endswith(".j2") else f"{template}{suffix}"
    return template_dir, name


def render(env: SandboxedEnvironment, name: str, context: Mapping[str, Any]) -> str:
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or name
        raise TemplateError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template {exc.name!r} not found (searched: {_searched(env)})") from None
    except SecurityError as exc:
        raise TemplateError(f"{_template_frame(exc, name)}: refused by the template sandbox: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{_template_frame(exc, name)}: {exc} (see templates/README.md for the context)") from None
    except (TypeError, ValueError, AttributeError, KeyError, ZeroDivisionError) as exc:
        raise TemplateError(f"{_template_frame(exc, name)}: {type(exc).__name__}: {exc}") from None


def _template_frame(exc: BaseException, fallback: str) -> str:
    """file:line of the innermost template frame in the traceback (Jinja maps template code to the
    template's own file name and line numbers)."""
    where = fallback
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if fname.endswith(".j2") or fname.endswith(".css"):
            where = f"{fname}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _searched(env: SandboxedEnvironment) -> str:
    dirs = []
    for loader in env.loader.loaders:  # type: ignore[attr-defined]
        if isinstance(loader, jinja2.FileSystemLoader):
            dirs.extend(loader.searchpath)
    return ", ".join(dict.fromkeys(dirs))


def template_dirs(env: SandboxedEnvironment) -> list[Path]:
    return [Path(d).resolve() for d in _searched(env).split(", ") if d]


