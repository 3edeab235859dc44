"""The typer application and the one place errors become messages and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from vpp.config import describe_validation_error
from vpp.domain import VppError


class OneLineErrors(TyperGroup):
    """vpp's command group: a wrong option or argument is one line naming it, exit code 2.

    Typer would print click's usage errors as a framed panel; vpp prints every input error
    the same way, through :func:`print_error`.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as exc:  # click's usage errors, as typer vendors them
            if type(exc).__name__ != "NoArgsIsHelpError":  # typer has printed the help
                print_error(usage_message(exc))
            sys.exit(int(getattr(exc, "exit_code", EXIT_USAGE)))
        except typer.Abort:
            err_console.print("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="vpp",
    help="Virtual power plant controller: capability, dispatch and baselines for demand response.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=OneLineErrors,
)
console = Console()
err_console = Console(stderr=True)

#: Exit code for wrong input (config, arguments, data files).
EXIT_USAGE = 2

P = ParamSpec("P")
R = TypeVar("R")


def print_error(message: str) -> None:
    """One error on stderr, printed as written: never wrapped, brackets never read as markup."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def usage_message(exc: typer.TyperException) -> str:
    """Click's message for a wrong option or argument, with where to find help."""
    message = exc.format_message().replace(": Value error, ", ": ")
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None)
    return f"{message} (see {command} --help)" if command else message


def fail(message: str) -> typer.Exit:
    """Print a one-paragraph error and return the exit to raise."""
    print_error(message)
    return typer.Exit(EXIT_USAGE)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn vpp's own errors into a clear message and exit code 2, never a traceback."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except VppError as exc:
            raise fail(str(exc)) from None
        except ValidationError as exc:  # a model refused a value that came from the user
            problems = describe_validation_error(exc)
            raise fail("; ".join(f"{field}: {reason}" for field, reason in problems)) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)

    return wrapper
