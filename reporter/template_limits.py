"""Resource limits for user templates: a template may loop, nest, build values and print only so much.

Jinja's compiled code cannot be interrupted from outside (no thread kill, and a timer signal is
process-wide and main-thread-only, wrong for the service's workers), so the limits are enforced
*cooperatively from inside* the render, at every construct through which a template can repeat work
or grow a value:

* every ``{% for %}``: its iterable is wrapped at compile time (``LimitedEnvironment._generate``)
  in a counter that charges a per-render iteration budget and checks the deadline on every item,
  so nested loops over anything stop instead of hanging, whatever they iterate;
* ``range()`` refuses more than ``max_range`` items (the sandbox's own MAX_RANGE is 100,000 and
  ends in a bare OverflowError);
* macro calls, ``caller()``, recursive loops and include/import/extends check the nesting depth
  (frames of this environment's template code on the stack), so self-includes and recursive macros
  stop cleanly far below Python's recursion limit;
* calls, filters, attribute/item lookups and the ``+ * ** %`` operators refuse to build strings,
  sequences or integers over ``max_value_chars``/``max_int_bits``, and refuse huge repeat counts
  and format widths *before* allocating;
* everything printed through ``{{ }}`` (also inside macros and captured blocks) is counted by
  ``finalize``, and the render itself is streamed (``Template.generate``) and stopped once the
  output passes ``max_output_chars``.

Every repetition in a template is a loop, a recursion or a call, and each of those checks the
deadline, so the render time is bounded by ``timeout_s`` plus one bounded step. A violation raises
RenderLimitError (a TemplateError) inside template code, so the message names the template file
and line.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import jinja2
import jinja2.filters
from jinja2 import nodes
from jinja2.runtime import LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import pass_context, pass_environment
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from phantom_report.errors import TemplateError

_SIZED = (str, bytes, list, tuple, dict, set, frozenset)
# width/precision of a printf conversion: %(name)-10.3f
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")
_NESTED_FIELD = re.compile(r"\{[^{}]*\{")
# filters whose integer arguments are sizes of what they build (the others take values: default(n))
_SIZE_ARG_FILTERS = frozenset({"center", "indent", "batch", "slice", "wordwrap", "truncate"})


@dataclass(frozen=True)
class RenderLimits:
    """Per-render limits. The defaults leave the built-in reports far inside every bound (the
    detailed report of a large spec loops ~10^4 times, nests 6 templates deep, prints ~10 MB)."""

    timeout_s: float = 60.0
    max_loop_iterations: int = 1_000_000  # all loops of one render together
    max_range: int = 10_000  # items of one range()
    max_depth: int = 40  # nested template frames: includes, extends, blocks, macro calls
    max_output_chars: int = 50_000_000  # the rendered document
    max_printed_chars: int = 100_000_000  # all output incl. what macros, blocks and {% set %} capture
    max_value_chars: int = 16_000_000  # one string/sequence built by the template
    max_built_chars: int = 200_000_000  # all strings/sequences built by calls, filters, operators, ~
    max_int_bits: int = 16_384  # one integer built by the template (~4,900 digits)


class RenderLimitError(TemplateError):
    """A template went over one of its RenderLimits. ``where`` (file:line) is set when the limit
    was detected outside template code (the streamed output size)."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(message)
        self.where = where


class RenderBudget:
    """What one render has used so far (iterations, printed characters) and its deadline."""

    def __init__(self, limits: RenderLimits, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self._clock = clock
        self.deadline = clock() + limits.timeout_s
        self.iterations = 0
        self.printed_chars = 0
        self.built_chars = 0

    def tick(self) -> None:
        """Raise when the render is past its deadline (``timeout_s``)."""
        if self._clock() > self.deadline:
            raise RenderLimitError(f"rendering took longer than {self.limits.timeout_s:g} s (template render "
                                   "time limit); simplify the template's loops")

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """``iterable`` item by item, charging each to the loop limit and checking the deadline."""
        limit = self.limits.max_loop_iterations
        for item in iterable:
            self.iterations += 1
            if self.iterations > limit:
                raise RenderLimitError(f"loops ran over {limit:,} iterations in one render (template loop "
                                       "limit); nested loops over large ranges?")
            self.tick()
            yield item

    def printed(self, value: Any) -> None:
        """Charge ``value``'s printed length to the output limit (characters)."""
        self.printed_chars += len(value) if isinstance(value, str) else len(str(value))
        if self.printed_chars > self.limits.max_printed_chars:
            raise RenderLimitError(f"printed over {self.limits.max_printed_chars:,} characters (template "
                                   "output limit)")

    def check_value(self, value: Any, new: bool = True) -> Any:
        """``value`` unchanged, unless it is a string/sequence or integer over the value limits;
        a ``new`` value (built by the template, not looked up) is charged to the built total."""
        if isinstance(value, _SIZED):
            self.check_size(len(value), new)
        if isinstance(value, int) and value.bit_length() > self.limits.max_int_bits:
            raise RenderLimitError(f"built an integer of {value.bit_length():,} bits; at most "
                                   f"{self.limits.max_int_bits:,} allowed (template value limit)")
        return value

    def check_size(self, size: int, new: bool = True) -> None:
        """Refuse a value of ``size`` items over the value limit; a ``new`` one also counts
        toward the built-characters total of the render."""
        if size > self.limits.max_value_chars:
            raise RenderLimitError(f"built a value of {size:,} items/characters; at most "
                                   f"{self.limits.max_value_chars:,} allowed (template value limit)")
        if new:
            self.built_chars += size
            if self.built_chars > self.limits.max_built_chars:
                raise RenderLimitError(f"built over {self.limits.max_built_chars:,} characters of values in one "
                                       "render (template value limit)")

    def check_count(self, n: Any, what: str) -> None:
        """Refuse an integer argument that would make a huge value (repeat counts, widths)."""
        if isinstance(n, int) and abs(n) > self.limits.max_value_chars:
            raise RenderLimitError(f"{what} {n:,} is over {self.limits.max_value_chars:,} (template value limit)")

    def check_args(self, args: Iterable[Any], kwargs: dict[str, Any]) -> None:
        """Refuse integer arguments over the value limit (repeat counts and widths of str methods)."""
        for a in (*args, *kwargs.values()):
            self.check_count(a, "argument")

    def check_binop(self, op: str, left: Any, right: Any) -> None:
        """Refuse ``left op right`` before it is computed when the result would be over a limit:
        repeats, huge integers, long joins, ``%`` formats with huge widths."""
        lim = self.limits
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, _SIZED) and isinstance(n, int) and len(seq) * n > lim.max_value_chars:
                    raise RenderLimitError(f"repeating {len(seq):,} items {n:,} times is over "
                                           f"{lim.max_value_chars:,} (template value limit)")
            if isinstance(left, int) and isinstance(right, int):
                self._int_bits(left.bit_length() + right.bit_length())
        elif op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            self._int_bits((abs(left).bit_length() - 1) * right)
        elif op == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED):
            if len(left) + len(right) > lim.max_value_chars:
                raise RenderLimitError(f"joining values of {len(left):,} and {len(right):,} items is over "
                                       f"{lim.max_value_chars:,} (template value limit)")
        elif op == "%" and isinstance(left, str):
            self.check_printf(left)

    def _int_bits(self, bits: int) -> None:
        if bits > self.limits.max_int_bits:
            raise RenderLimitError(f"integer arithmetic of ~{bits:,} bits; at most {self.limits.max_int_bits:,} "
                                   "allowed (template value limit)")

    def check_printf(self, fmt: str) -> None:
        """Widths and precisions of a ``%`` format: no ``*`` (width from the data), none huge."""
        for m in _PRINTF_SPEC.finditer(fmt):
            for g in m.groups():
                if g == "*":
                    raise RenderLimitError("'*' widths in % formats are not allowed in templates")
                if g:
                    self.check_count(int(g), "format width")

    def check_format(self, fmt: str) -> None:
        """Widths and precisions inside the ``{...}`` fields of a ``str.format`` string."""
        for field in re.findall(r"\{[^{}]*\}", fmt):
            for d in _DIGITS.findall(field):
                self.check_count(int(d), "format width")


def template_depth(env: jinja2.Environment) -> int:
    """Frames of ``env``'s compiled template code on the current stack (Jinja runs each template,
    block and macro as a Python function whose globals hold ``environment``)."""
    n, f = 0, sys._getframe(1)
    while f is not None:
        if f.f_globals.get("environment") is env:
            n += 1
        f = f.f_back
    return n


class LimitedEnvironment(SandboxedEnvironment):
    """A SandboxedEnvironment enforcing RenderLimits; call ``start_render()`` before each render."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, *args: Any, limits: RenderLimits = RenderLimits(),
                 clock: Callable[[], float] = time.monotonic, **kwargs: Any):
        super().__init__(*args, finalize=_count_printed, **kwargs)
        self.limits = limits
        self._clock = clock
        self.budget = RenderBudget(limits, clock)
        self.globals["range"] = self._range
        self.globals.pop("lipsum", None)  # lipsum(n=...) makes arbitrary amounts of text
        self.filters.update(_loop_budget=_loop_budget, _concat=_concat, _literal=_literal)

    def start_render(self) -> RenderBudget:
        """A fresh budget (iterations, output, deadline) for the next render."""
        self.budget = RenderBudget(self.limits, self._clock)
        return self.budget

    def guard_filters(self) -> None:
        """Wrap every filter with the budget's checks (call after adding custom filters)."""
        self.filters = {name: _guarded_filter(self, name, f) for name, f in self.filters.items()}

    def _range(self, *args: int) -> range:
        rng = range(*args)
        if len(rng) > self.limits.max_range:
            raise RenderLimitError(f"range() of {len(rng):,} items; at most {self.limits.max_range:,} "
                                   "allowed (template range limit)")
        return rng

    def _check_depth(self) -> None:
        depth = template_depth(self)
        if depth > self.limits.max_depth:
            raise RenderLimitError(f"templates nested {depth} deep; at most {self.limits.max_depth} "
                                   "(recursive include, extends or macro?)")

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        source = _Metered().visit(source)
        source.set_environment(self)
        return super()._generate(source, name, filename, defer_init)

    def _load_template(self, name: str, globals: Any) -> jinja2.Template:
        self._check_depth()  # include/import/extends of a template that includes itself ...
        return super()._load_template(name, globals)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """A call from a template, with the deadline, nesting depth and size limits applied."""
        budget = __self.budget
        budget.tick()
        if isinstance(__obj, LoopContext) and args:  # loop(children) of a recursive loop: charge its items too
            args = (budget.iterate(args[0]), *args[1:])
        if isinstance(__obj, (Macro, LoopContext)):
            __self._check_depth()
        elif isinstance(getattr(__obj, "__self__", None), _SIZED):  # 'x'.ljust(n), .center, .zfill, ...
            budget.check_args(args, {k: v for k, v in kwargs.items() if not k.startswith("_")})
        return budget.check_value(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """``left operator right`` from a template, checked before and after."""
        self.budget.check_binop(operator, left, right)
        return self.budget.check_value(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute`` from a template (the sandbox's rules), with the deadline checked."""
        self.budget.tick()
        return self.budget.check_value(super().getattr(obj, attribute), new=False)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``obj[argument]`` from a template (the sandbox's rules), with the deadline checked."""
        self.budget.tick()
        return self.budget.check_value(super().getitem(obj, argument), new=False)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """The sandbox's ``str.format`` wrapper, with widths and results checked against the limits."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt, budget = value.__self__, self.budget

        @functools.wraps(wrapper)
        def checked(*args: Any, **kwargs: Any) -> str:
            budget.check_format(fmt)
            if _NESTED_FIELD.search(fmt):  # '{:>{}}'.format(x, width): widths come from the arguments
                budget.check_args(args, kwargs)
            return budget.check_value(wrapper(*args, **kwargs))

        return checked


class _Metered(NodeTransformer):
    """Routes the template constructs Jinja runs without any hook through budget filters: every
    ``{% for %}`` iterable (iteration budget, deadline), every ``~`` concatenation (size checked
    before joining) and every piece of literal text (counted as printed, so text repeated by loops
    into a captured block is bounded too). The filters take the context (pass_context), the one
    thing that keeps Jinja from folding a filter into a constant at compile time."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = _filter(node.iter, "_loop_budget")
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return _filter(nodes.List(node.nodes, lineno=node.lineno), "_concat")

    def visit_TemplateData(self, node: nodes.TemplateData) -> nodes.Node:
        return _filter(nodes.Const(node.data, lineno=node.lineno), "_literal")


def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


@pass_context
def _literal(context: Any, text: str) -> Markup:
    return Markup(text)  # never escaped, as before; finalize (_count_printed) counts it


@pass_context
def _concat(context: Any, parts: list[Any]) -> str:
    env, eval_ctx = context.environment, context.eval_ctx
    env.budget.tick()
    env.budget.check_size(sum(len(p) if isinstance(p, str) else len(str(p)) for p in parts))
    return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


@pass_environment
def _count_printed(env: LimitedEnvironment, value: Any) -> Any:
    env.budget.printed(value)
    return value


@pass_context
def _loop_budget(context: Any, iterable: Any) -> Iterator[Any]:
    return context.environment.budget.iterate(iterable)


def _guarded_filter(env: LimitedEnvironment, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    if func in (_loop_budget, _concat, _literal) or getattr(func, "_phantom_guarded", False):
        return func
    sizes = name in _SIZE_ARG_FILTERS
    # with pass_context/pass_environment Jinja passes that first, then the filtered value
    skip = 2 if getattr(func, "jinja_pass_arg", None) is not None else 1

    @functools.wraps(func)  # keeps jinja_pass_arg
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = env.budget
        budget.tick()
        if sizes:
            budget.check_args(args[skip:], kwargs)
        if func is jinja2.filters.do_format and len(args) >= skip and isinstance(args[skip - 1], str):
            budget.check_printf(args[skip - 1])
        return budget.check_value(func(*args, **kwargs))

    guarded._phantom_guarded = True  # type: ignore[attr-defined]
    return guarded
