"""The ``codefinder`` command line. Errors are one line on stderr and a non-zero exit.

Each command lives in its own module under ``api/commands/`` and is registered here."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from codefinder.api.commands import build, changes, evaluate, lookup, mcp, search, serve, suggest, train_encoder, verify
from codefinder.api.context import AppContext
from codefinder.indexer.errors import CodefinderError
from codefinder.indexer.settings import Settings

EXIT_USER_ERROR = 1


class OneLineErrors(click.Group):
    """Turn every failure into one readable line; CODEFINDER_DEBUG=1 shows the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except CodefinderError as error:
            self._die(str(error))
        except KeyboardInterrupt:
            self._die("interrupted")
        except UnicodeDecodeError as error:  # a --file of another encoding, or not text at all
            byte = error.object[error.start : error.start + 1].hex()
            self._die(f"the file is not UTF-8 text (byte 0x{byte} at offset {error.start}): save it as UTF-8")
        except BrokenPipeError:  # the reader went away (`| head`): nothing left to say to anyone
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except Exception as error:  # the CLI promises no tracebacks
            if os.environ.get("CODEFINDER_DEBUG"):
                raise
            self._die(f"{type(error).__name__}: {error} (set CODEFINDER_DEBUG=1 for details)")

    @staticmethod
    def _die(message: str) -> None:
        click.echo(f"codefinder: error: {message}", err=True)
        sys.exit(EXIT_USER_ERROR)


@click.group(cls=OneLineErrors)
@click.version_option(package_name="codefinder")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Find HCPCS Level II and CPT codes from plain-language descriptions."""
    if ctx.obj is None:
        ctx.obj = AppContext(settings=Settings())


COMMANDS = (
    build.build,
    search.search,
    suggest.suggest_command,
    lookup.lookup,
    verify.verify_command,
    changes.changes,
    evaluate.evaluate_command,
    serve.serve,
    mcp.mcp,
    train_encoder.train_encoder,
)
for command in COMMANDS:
    main.add_command(command)


if __name__ == "__main__":
    main()
