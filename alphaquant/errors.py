"""Every error a user can see subclasses AlphaquantError; its message is one line."""

from __future__ import annotations


class AlphaquantError(Exception):
    """Base of all user-facing errors. ``str(error)`` is a single line for stderr."""


class InputError(AlphaquantError):
    """Bad input: missing file, unknown extension, unknown theorem, bad option value."""


class ProverUnavailable(AlphaquantError):
    """The machine's fault, not the goal's: the prover is missing or cannot run at all. Never a
    goal's result: a batch stops before its workers start, or leaves the goal to try."""


class ProverNotInstalled(ProverUnavailable):
    """A prover (or one of its parts) is not on this machine; the message names the fix."""


class FileDoesNotCompile(InputError):
    """The file fails to check before any search; the message carries the prover's first error."""


class ProverCrashed(AlphaquantError):
    """The prover process died or hung; prover backends raise it and recover where they can."""


class ProverStartError(AlphaquantError):
    """The prover could not be started at all (bad header, missing binary, dies at start-up)."""


class ProverCannotRun(ProverStartError, ProverUnavailable):
    """The prover's program exists but the system cannot run it (permissions, exec format)."""
