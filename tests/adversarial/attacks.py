"""Hostile submissions: each is the reference solutions with ONE attack in ONE module.

An attack is code appended to ``solutions/<module>.py`` (a later ``def`` replaces the
solution's function, module-level code runs at import) and/or extra files placed in the
submission folder. ``fails`` names the checks the attack must cost, each with the status
of its first failing case; every other graded check must keep full marks.

Sources are templates: ``@NAME@`` placeholders are filled per test from a context (the
attack's process-name marker, the repository path, the results and control folders, the
test's pid and listening ports), so an attack can aim at the real places.

Every dangerous attack bounds itself, so that even a broken sandbox cannot hurt the
machine: loops stop after 60 s of wall time, fork bombs after 200 processes (and refuse
to run as root), memory bombs refuse to run without an address-space limit of at most
2 GiB, output stops at 50 MB, disk writes at 100 MB, and signals to other processes are
only sent from inside a fresh PID namespace as an unprivileged user.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import numpy as np

from grader.checks import status
from grader.checks.activations import _public_inputs
from grader.engine.activations import ACTIVATIONS

ACTIVATION_CHECKS = tuple(f"activations.{name}" for name in (
    "sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad", "leaky_relu",
    "leaky_relu_grad", "elu", "elu_grad", "selu", "selu_grad", "gelu", "gelu_grad", "silu",
    "silu_grad"))

# What a module-level failure costs: every check of the module, with one status.
EVERY = "*"


@dataclass(frozen=True)
class Attack:
    name: str
    module: str  # the one module the attack is in
    kind: str  # the family it belongs to, as listed in the README
    description: str
    code: str = ""  # appended to solutions/<module>.py
    files: dict = field(default_factory=dict)  # extra submission files: name -> str | bytes
    fails: dict = field(default_factory=dict)  # check -> status of its first failing case
    feedback: dict = field(default_factory=dict)  # check -> regexes its feedback must hold
    scope: str = "module"  # "module": grade only that exercise; "course": every exercise
    deadline: float = 8.0  # seconds the attacked grading may take at most
    public_pass: bool = False  # public cases pass, hidden ones fail (hard-coded answers)
    planted: tuple = ()  # paths (templates) the attack tries to create: none may exist after
    needs: tuple = ()  # "listener": the test opens loopback sockets the attack aims at
    pyc: bool = False  # ship __pycache__/<module>.cpython-XY.pyc and <module>.pyc (wrong code)
    weakness: str = ""  # known uncontained: the test xfails (strict) on exactly that

    def source(self, solution: str, context: dict) -> str:
        if not self.code:
            return solution
        return (solution.rstrip("\n") + f"\n\n\n# --- attack: {self.name} ---\n"
                + render(self.code, context))


def render(template: str, context: dict) -> str:
    text = textwrap.dedent(template).lstrip("\n")
    for key, value in context.items():
        text = text.replace(f"@{key}@", str(value))
    assert "@" not in text.replace("@property", "").replace("@staticmethod", ""), \
        f"unfilled placeholder in:\n{text}"
    return text


def hard_coded_relu_table() -> str:
    """The public relu cases' expected outputs, keyed by the exact input bytes."""
    table = {}
    for _, z in _public_inputs():
        out = ACTIVATIONS["relu"].fn(z)
        table[(z.shape, z.tobytes().hex())] = np.asarray(out, dtype=np.float64).tolist()
    return repr(table)


# Code shared by several attacks: bounded loops and a process-name marker.
_BOUNDED_LOOP = """
        def _bounded_loop():
            import signal, time
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM,
                        signal.SIGUSR1, signal.SIGXCPU):
                signal.signal(sig, signal.SIG_IGN)
            end = time.monotonic() + 60  # bounded even if nothing stops it
            while time.monotonic() < end:
                pass
            raise RuntimeError("the loop ran for 60 s: nothing stopped it")
"""


ATTACKS: list[Attack] = [
    # ---------------------------------------------------------------- return values that lie
    Attack(
        "always_equal_object", "activations", "always-equal objects",
        "relu returns an object whose __eq__ is always True and whose __array__ gives the "
        "right answer",
        """
        class _AlwaysEqual:
            def __init__(self, value):
                self._value = value
                self.shape, self.dtype = value.shape, value.dtype
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            __hash__ = object.__hash__
            def __array__(self, dtype=None, copy=None):
                return self._value
            def __float__(self):
                return 0.0
            def __len__(self):
                return len(self._value)
            def __getitem__(self, index):
                return self._value[index]
            def __bool__(self):
                return True

        def relu(z):
            return _AlwaysEqual(np.maximum(np.asarray(z, dtype=np.float64), 0.0))
        """,
        fails={"activations.relu": status.BAD_TYPE},
        feedback={"activations.relu": [r"should be a numpy ndarray", r"_AlwaysEqual"]},
    ),
    Attack(
        "array_protocol_object", "activations", "always-equal objects",
        "relu_grad returns a non-array speaking every numpy protocol (__array_interface__, "
        "__array__, __array_priority__) with the right data",
        """
        class _Mimic:
            __array_priority__ = 1e9
            def __init__(self, value):
                self._value = value
                self.__array_interface__ = value.__array_interface__
                self.shape, self.dtype, self.ndim = value.shape, value.dtype, value.ndim
            def __array__(self, dtype=None, copy=None):
                return self._value
            def __eq__(self, other):
                return np.ones(self.shape, dtype=bool)

        def relu_grad(z):
            z = np.asarray(z, dtype=np.float64)
            return _Mimic(np.where(z > 0, 1.0, 0.0))
        """,
        fails={"activations.relu_grad": status.BAD_TYPE},
    ),
    Attack(
        "ndarray_subclass_liar", "activations", "ndarray subclasses",
        "relu returns an ndarray subclass of zeros that claims to be np.ndarray and overrides "
        "__eq__, __array_ufunc__ and __array_function__ to answer True to everything",
        """
        class _Liar(np.ndarray):
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            __hash__ = None
            def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
                return True
            def __array_function__(self, func, types, args, kwargs):
                return True
            @property
            def __class__(self):
                return np.ndarray

        def relu(z):
            return np.zeros(np.shape(z)).view(_Liar)
        """,
        fails={"activations.relu": status.BAD_TYPE},
        feedback={"activations.relu": [r"_Liar"]},
    ),
    Attack(
        "object_dtype_array", "activations", "object/structured/masked arrays",
        "leaky_relu returns an ndarray of dtype object holding always-equal objects",
        """
        class _Eq:
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__

        def leaky_relu(z, alpha=0.01):
            z = np.asarray(z)
            out = np.empty(z.shape, dtype=object)
            for index in np.ndindex(z.shape):
                out[index] = _Eq()
            return out
        """,
        fails={"activations.leaky_relu": status.BAD_TYPE},
        feedback={"activations.leaky_relu": [r"dtype \|O"]},
    ),
    Attack(
        "structured_array", "activations", "object/structured/masked arrays",
        "elu returns a structured array whose single field holds the right values",
        """
        def elu(z, alpha=1.0):
            z = np.asarray(z, dtype=np.float64)
            out = np.zeros(z.shape, dtype=[("value", "<f8")])
            out["value"] = np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))
            return out
        """,
        fails={"activations.elu": status.BAD_TYPE},
    ),
    Attack(
        "masked_array", "activations", "object/structured/masked arrays",
        "gelu returns a masked array with every entry masked (the data is garbage)",
        """
        def gelu(z):
            z = np.asarray(z, dtype=np.float64)
            return np.ma.masked_array(np.full(z.shape, 7.0), mask=np.ones(z.shape, bool))
        """,
        fails={"activations.gelu": status.BAD_TYPE},
        feedback={"activations.gelu": [r"MaskedArray"]},
    ),
    Attack(
        "broadcastable_shape", "activations", "broadcastable shapes",
        "tanh_grad returns the right values with an extra leading axis ((1, n) for (n,)), "
        "which broadcasts against the expected array",
        """
        def tanh_grad(z):
            t = np.tanh(np.asarray(z, dtype=np.float64))
            return (1.0 - t * t)[np.newaxis]
        """,
        fails={"activations.tanh_grad": status.WRONG_SHAPE},
        feedback={"activations.tanh_grad": [r"has shape \(1, "]},
    ),
    Attack(
        "nan_values", "activations", "NaN/inf",
        "selu returns NaN everywhere (NaN != NaN fools naive comparisons)",
        """
        def selu(z):
            return np.full(np.shape(z), np.nan)
        """,
        fails={"activations.selu": status.NON_FINITE},
    ),
    Attack(
        "inf_values", "activations", "NaN/inf",
        "selu_grad returns +inf everywhere",
        """
        def selu_grad(z):
            return np.full(np.shape(z), np.inf)
        """,
        fails={"activations.selu_grad": status.NON_FINITE},
    ),
    Attack(
        "generator_return", "activations", "returned generators/dicts",
        "relu returns a generator over the right values",
        """
        def relu(z):
            z = np.asarray(z, dtype=np.float64)
            return (v for v in np.maximum(z, 0.0).ravel())
        """,
        fails={"activations.relu": status.BAD_TYPE},
        feedback={"activations.relu": [r"generator"]},
    ),
    Attack(
        "dict_return", "backward", "returned generators/dicts",
        "mse_loss returns a dict claiming success instead of (loss, dpred)",
        """
        def mse_loss(pred, target):
            return {"status": "passed", "score": 2, "loss": 0.0, "dpred": pred}
        """,
        fails={"backward.mse_loss": status.BAD_TYPE},
        feedback={"backward.mse_loss": [r"a dict with keys"]},
    ),
    Attack(
        "tuple_and_float_subclasses", "clipping", "always-equal objects",
        "global_norm returns a float subclass equal to everything (clip_grad_norm, which "
        "reuses it, returns it as total_norm)",
        """
        class _AnyFloat(float):
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            def __lt__(self, other):
                return False
            __le__ = __ge__ = __gt__ = __eq__
            __hash__ = float.__hash__

        _solution_global_norm = global_norm

        def global_norm(grads, norm_type=2.0):
            return _AnyFloat(_solution_global_norm(grads, norm_type))
        """,
        fails={"clipping.global_norm": status.BAD_TYPE, "clipping.clip_grad_norm": status.BAD_TYPE},
    ),
    Attack(
        "recursive_return", "clipping", "returned generators/dicts",
        "clip_grad_value returns a list that contains itself",
        """
        def clip_grad_value(grads, clip_value):
            out = [np.clip(np.asarray(g, dtype=np.float64), -clip_value, clip_value)
                   for g in grads]
            out.append(out)
            return out
        """,
        fails={"clipping.clip_grad_value": status.BAD_TYPE},
    ),
    # ---------------------------------------------------------------- leaving the process
    Attack(
        "sys_exit_at_import", "activations", "sys.exit / os._exit",
        "the module calls sys.exit(0) at import",
        """
        import sys as _sys
        _sys.exit(0)
        """,
        fails={EVERY: status.IMPORT_ERROR},
        feedback={"activations.relu": [r"SystemExit"]},
    ),
    Attack(
        "os_exit_in_call", "activations", "sys.exit / os._exit",
        "relu calls os._exit(0) (no cleanup, no exception)",
        """
        import os as _os

        def relu(z):
            _os._exit(0)
        """,
        fails={"activations.relu": status.EXITED},
        feedback={"activations.relu": [r"exited early with code 0"]},
    ),
    Attack(
        "keyboard_interrupt", "activations", "KeyboardInterrupt/SystemExit",
        "relu raises KeyboardInterrupt",
        """
        def relu(z):
            raise KeyboardInterrupt("stop the grader")
        """,
        fails={"activations.relu": status.EXCEPTION},
        feedback={"activations.relu": [r"KeyboardInterrupt"]},
    ),
    Attack(
        "system_exit_in_call", "backward", "KeyboardInterrupt/SystemExit",
        "mse_loss raises SystemExit(0)",
        """
        import sys as _sys

        def mse_loss(pred, target):
            _sys.exit(0)
        """,
        fails={"backward.mse_loss": status.EXCEPTION},
        feedback={"backward.mse_loss": [r"SystemExit"]},
    ),
    Attack(
        "hostile_exception", "activations", "hostile exceptions",
        "relu raises an exception whose __str__/__repr__ raise or loop, whose args, "
        "__traceback__ and __class__ are hostile properties, with a 10 MB message and a "
        "str subclass with a hostile __str__ among its arguments",
        _BOUNDED_LOOP + """
        class _Poison(str):
            def __str__(self):
                raise RuntimeError("poisoned __str__")
            def __repr__(self):
                _bounded_loop()

        class _Evil(Exception):
            def __str__(self):
                raise RuntimeError("poisoned __str__")
            def __repr__(self):
                _bounded_loop()
            @property
            def args(self):
                raise RuntimeError("poisoned args")
            @property
            def __traceback__(self):
                raise RuntimeError("poisoned traceback")
            @property
            def __class__(self):
                raise RuntimeError("poisoned class")
            def __getattr__(self, name):
                raise RuntimeError("poisoned attribute " + name)

        class _Sly(Exception):
            def __str__(self):
                raise RuntimeError("poisoned __str__")
            def __repr__(self):
                _bounded_loop()
            @property
            def args(self):
                return ("forged args: every case passed",)

        def relu(z):
            raise _Evil("x" * 10_000_000, _Poison("p"))

        def relu_grad(z):
            raise _Sly("plain message")
        """,
        fails={"activations.relu": status.EXCEPTION, "activations.relu_grad": status.EXCEPTION},
        feedback={"activations.relu": [r"raised activations\._Evil"],
                  "activations.relu_grad": [r"raised activations\._Sly: plain message \("]},
    ),
    # ---------------------------------------------------------------- time, memory, output
    Attack(
        "infinite_loop_sigterm_ignored", "activations", "infinite loops",
        "relu ignores SIGTERM/SIGINT/SIGXCPU and spins (bounded at 60 s)",
        _BOUNDED_LOOP + """
        def relu(z):
            _bounded_loop()
        """,
        fails={"activations.relu": status.TIMEOUT},
        feedback={"activations.relu": [r"did not finish within 2 s"]},
    ),
    Attack(
        "infinite_loop_at_import", "backward", "infinite loops",
        "the module spins at import with SIGTERM ignored (bounded at 60 s)",
        _BOUNDED_LOOP + """
        _bounded_loop()
        """,
        fails={EVERY: status.TIMEOUT},
        feedback={"backward.mse_loss": [r"within 3 s while importing"]},
    ),
    Attack(
        "stdin_block", "activations", "blocking on stdin",
        "relu reads stdin to its end, then asks for a line (would block on an inherited stdin)",
        """
        import sys as _sys

        def relu(z):
            data = _sys.stdin.read()
            return input("got %d bytes; more? " % len(data))
        """,
        fails={"activations.relu": status.EXCEPTION},
        feedback={"activations.relu": [r"EOFError"]},
        deadline=1.9,  # below task_seconds: a blocked read would have timed out
    ),
    Attack(
        "memory_bomb_numpy", "activations", "memory bombs",
        "relu allocates an 8 GiB array with np.ones (refuses without an address-space limit)",
        """
        import resource as _resource

        def relu(z):
            soft, _ = _resource.getrlimit(_resource.RLIMIT_AS)
            if soft == _resource.RLIM_INFINITY or soft > (2 << 30):
                raise RuntimeError(f"refused: no address-space limit (RLIMIT_AS = {soft})")
            return np.ones((8 << 30) // 8)
        """,
        fails={"activations.relu": status.MEMORY},
    ),
    Attack(
        "memory_bomb_list", "initializers", "memory bombs",
        "he_normal grows a list by 1 MiB chunks until MemoryError (4 GiB at most, and only "
        "under an address-space limit; the chunks are calloc'd zeros, so the pages stay "
        "untouched and the bomb is quick)",
        """
        import resource as _resource

        def he_normal(fan_in, fan_out, rng, negative_slope=0.0):
            soft, _ = _resource.getrlimit(_resource.RLIMIT_AS)
            if soft == _resource.RLIM_INFINITY or soft > (2 << 30):
                raise RuntimeError(f"refused: no address-space limit (RLIMIT_AS = {soft})")
            chunks = []
            while len(chunks) < 4096:
                chunks.append(bytes(1 << 20))
            raise RuntimeError("allocated 4 GiB without a MemoryError")
        """,
        fails={"initializers.he_normal": status.MEMORY},
    ),
    Attack(
        "fork_bomb_with_daemon", "activations", "fork bombs",
        "relu leaves a daemon (setsid + double fork) and forks until refused (200 at most, "
        "never as root); every child names itself with the marker and sleeps 60 s",
        """
        import ctypes as _ctypes
        import os as _os
        import time as _time

        def _linger():
            try:
                _ctypes.CDLL(None).prctl(15, b"@MARKER@", 0, 0, 0)  # PR_SET_NAME
                end = _time.monotonic() + 60
                while _time.monotonic() < end:
                    _time.sleep(0.2)
            finally:
                _os._exit(0)

        def relu(z):
            if _os.getuid() == 0:
                raise RuntimeError("refused: still root, the fork limit would not bind")
            pid = _os.fork()
            if pid == 0:
                try:
                    _os.setsid()
                    if _os.fork() == 0:
                        _linger()
                finally:
                    _os._exit(0)
            _os.waitpid(pid, 0)
            forked, error = 0, "no error"
            while forked < 200:
                try:
                    pid = _os.fork()
                except OSError as exc:
                    error = exc.strerror
                    break
                if pid == 0:
                    _linger()
                forked += 1
            raise RuntimeError(f"forked {forked} processes, then: {error}")
        """,
        fails={"activations.relu": status.EXCEPTION},
        feedback={"activations.relu": [r"forked \d processes|forked [1-9]\d processes",
                                        r"Resource temporarily unavailable"]},
    ),
    Attack(
        "output_flood", "activations", "output floods",
        "relu prints 50 MB to stdout and stderr",
        """
        import sys as _sys

        def relu(z):
            chunk = "y" * (1 << 20)
            for _ in range(25):
                _sys.stdout.write(chunk)
                _sys.stderr.write(chunk)
            return np.maximum(np.asarray(z, dtype=np.float64), 0.0)
        """,
        fails={"activations.relu": status.OUTPUT_LIMIT},
        feedback={"activations.relu": [r"printed more than 4 MiB"]},
    ),
    Attack(
        "huge_return", "activations", "output floods",
        "relu returns a 72 MB array (over the 64 MiB reply limit)",
        """
        def relu(z):
            return np.zeros(9_000_000)
        """,
        fails={"activations.relu": status.OUTPUT_LIMIT},
        feedback={"activations.relu": [r"returned more than 64 MiB"]},
    ),
    Attack(
        "disk_fill_one_file", "clipping", "disk fill",
        "clip_grad_value writes one file in its folder until an error (100 MB at most)",
        """
        def clip_grad_value(grads, clip_value):
            written = 0
            chunk = b"\\0" * (1 << 20)
            with open("@MARKER@-fill.bin", "wb") as f:
                while written < (100 << 20):
                    f.write(chunk)
                    written += len(chunk)
            raise RuntimeError(f"wrote {written >> 20} MiB without an error")
        """,
        fails={"clipping.clip_grad_value": status.OUTPUT_LIMIT},
    ),
    Attack(
        "disk_fill_many_files", "clipping", "disk fill",
        "clip_grad_value writes 8 MiB files in its folder, each under the file-size limit, "
        "until an error (100 MB in all at most)",
        """
        def clip_grad_value(grads, clip_value):
            written, count = 0, 0
            chunk = b"\\0" * (1 << 20)
            try:
                while written < (100 << 20):
                    with open(f"@MARKER@-fill-{count}.bin", "wb") as f:
                        for _ in range(8):
                            f.write(chunk)
                            written += len(chunk)
                    count += 1
            except OSError as exc:
                raise RuntimeError(f"stopped after {written >> 20} MiB: {exc.strerror}")
            raise RuntimeError(f"wrote {written >> 20} MiB in {count} files without an error")
        """,
        fails={"clipping.clip_grad_value": status.EXCEPTION},
        feedback={"clipping.clip_grad_value": [r"stopped after \d+ MiB"]},
    ),
    Attack(
        "segfault", "activations", "segfaults",
        "relu reads address 0 with ctypes.string_at(0)",
        """
        import ctypes as _ctypes

        def relu(z):
            return _ctypes.string_at(0)
        """,
        fails={"activations.relu": status.CRASHED},
        feedback={"activations.relu": [r"SIGSEGV"]},
    ),
    # ---------------------------------------------------------------- fooling the judge
    Attack(
        "monkeypatch_numpy", "activations", "monkeypatching numpy",
        "at import, numpy's comparison helpers are replaced by ones that always agree, and "
        "relu returns 2 z",
        """
        def _agree(*args, **kwargs):
            return True

        np.allclose = np.array_equal = np.array_equiv = _agree
        np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, bool)
        np.testing.assert_allclose = np.testing.assert_array_equal = lambda *a, **k: None
        np.testing.assert_array_almost_equal = lambda *a, **k: None
        for _name in ("__eq__", "__ne__"):
            try:
                setattr(np.ndarray, _name, lambda self, other: True)
            except TypeError:
                pass

        def relu(z):
            return 2.0 * np.asarray(z, dtype=np.float64)
        """,
        fails={"activations.relu": status.WRONG},
    ),
    Attack(
        "gc_frame_hunt", "activations", "introspection",
        "relu hunts the child's heap (gc referents) and call stack (sys._getframe) for "
        "float64 arrays shaped like its output and returns the first it finds",
        """
        import gc as _gc
        import sys as _sys

        def relu(z):
            z = np.asarray(z)
            found, seen = [], set()

            def consider(obj):
                if (type(obj) is np.ndarray and obj is not z and id(obj) not in seen
                        and obj.shape == z.shape and obj.dtype == np.float64):
                    seen.add(id(obj))
                    if not np.array_equal(obj, z):
                        found.append(obj)

            for obj in _gc.get_objects():
                for ref in _gc.get_referents(obj):
                    consider(ref)
                if type(obj) is dict:
                    for key in obj:
                        if isinstance(key, str) and key in ("expected", "reference", "answer"):
                            found.append(obj[key])
            frame = _sys._getframe()
            while frame is not None:
                for value in list(frame.f_locals.values()):
                    consider(value)
                frame = frame.f_back
            if found:
                return np.array(found[0], dtype=np.float64, copy=True)
            return np.full(z.shape, 12345.0)
        """,
        fails={"activations.relu": status.WRONG},
    ),
    Attack(
        "hard_coded_public_answers", "activations", "hard-coded public answers",
        "relu returns the public cases' expected outputs by matching the input bytes, and -1 "
        "(never a relu value) otherwise",
        """
        _TABLE = @RELU_TABLE@

        def relu(z):
            z = np.asarray(z, dtype=np.float64)
            key = (z.shape, z.tobytes().hex())
            if key in _TABLE:
                return np.array(_TABLE[key], dtype=np.float64).reshape(z.shape)
            return np.full(z.shape, -1.0)
        """,
        fails={"activations.relu": status.WRONG},
        public_pass=True,
    ),
    Attack(
        "mutate_input", "activations", "aliasing/mutating inputs",
        "leaky_relu computes the right answer, then zeroes its input in place",
        """
        def leaky_relu(z, alpha=0.01):
            out = np.where(z > 0, z, alpha * z)
            z[...] = 0.0
            return out
        """,
        fails={"activations.leaky_relu": status.MODIFIED_INPUT},
    ),
    Attack(
        "return_input_alias", "clipping", "aliasing/mutating inputs",
        "clip_grad_value hands back the caller's own arrays when they need no clipping",
        """
        def clip_grad_value(grads, clip_value):
            return [g if np.all(np.abs(g) <= clip_value)
                    else np.asarray(np.clip(g, -clip_value, clip_value)) for g in grads]
        """,
        fails={"clipping.clip_grad_value": status.RETURNED_INPUT},
    ),
    Attack(
        "mutate_input_hidden_by_patch", "activations", "monkeypatching numpy",
        "leaky_relu zeroes its input in place and np.array_equal is patched to always agree "
        "(the child checks for modified inputs with it)",
        """
        np.array_equal = lambda *args, **kwargs: True

        def leaky_relu(z, alpha=0.01):
            out = np.where(z > 0, z, alpha * z)
            z[...] = 0.0
            return out
        """,
        fails={"activations.leaky_relu": status.MODIFIED_INPUT},
    ),
    Attack(
        "alias_hidden_by_patch", "clipping", "monkeypatching numpy",
        "clip_grad_value returns the caller's arrays when in range and np.may_share_memory "
        "is patched to always say no (the child checks aliasing with it)",
        """
        np.may_share_memory = lambda *args, **kwargs: False
        np.shares_memory = lambda *args, **kwargs: False

        def clip_grad_value(grads, clip_value):
            return [g if np.all(np.abs(g) <= clip_value)
                    else np.asarray(np.clip(g, -clip_value, clip_value)) for g in grads]
        """,
        fails={"clipping.clip_grad_value": status.RETURNED_INPUT},
    ),
    Attack(
        "global_rng_hidden_by_patch", "initializers", "monkeypatching numpy",
        "he_normal draws from the global np.random state (seeded from rng, so results are "
        "reproducible) and np.random.get_state is patched to a constant (the child detects "
        "global draws with it)",
        """
        _frozen_state = np.random.get_state(legacy=False)
        np.random.get_state = lambda legacy=True: _frozen_state

        def he_normal(fan_in, fan_out, rng, negative_slope=0.0):
            np.random.seed(int(rng.integers(2**32)))
            s = np.sqrt(2.0 / ((1.0 + negative_slope**2) * fan_in))
            return np.random.normal(0.0, s, size=(fan_in, fan_out))
        """,
        fails={"initializers.he_normal": status.RNG},
    ),
    # ---------------------------------------------------------------- reaching for secrets
    Attack(
        "import_grader_engine", "activations", "importing the grader",
        "relu tries to import the grader's reference engine and to read its sources by path",
        """
        import importlib.util as _util
        import os as _os
        import sys as _sys

        def relu(z):
            leaks, errors = [], []
            attempts = [
                ("import grader.engine", lambda: __import__("grader.engine.activations")),
                ("import grader.checks", lambda: __import__("grader.checks")),
                ("read engine", lambda: open("@REPO@/grader/engine/activations.py").read(64)),
                ("load engine by path", lambda: _util.spec_from_file_location(
                    "eng", "@REPO@/grader/engine/activations.py").loader.exec_module(
                        type(_sys)("eng"))),
                ("list repo", lambda: _os.listdir("@REPO@")),
                ("list grader", lambda: _os.listdir("@REPO@/grader/engine")),
                ("read grade.py", lambda: open("@REPO@/grader/grade.py").read(64)),
                ("read checks", lambda: open("@REPO@/grader/checks/activations.py").read(64)),
                ("read sandbox run.py",
                 lambda: open(_os.path.join(_sys.argv[1], "run.py")).read(64)),
            ]
            for what, attempt in attempts:
                try:
                    attempt()
                    leaks.append(what)
                except BaseException as exc:
                    errors.append(f"{what}: {type(exc).__name__}")
            if leaks:
                raise RuntimeError("leaked: " + ", ".join(leaks))
            raise RuntimeError("nothing leaked (" + "; ".join(errors) + ")")
        """,
        fails={"activations.relu": status.EXCEPTION},
        feedback={"activations.relu": [r"nothing leaked"]},
    ),
    Attack(
        "read_solutions_and_course", "backward", "reading solutions/course.yaml",
        "mse_loss tries to read solutions/, course.yaml, the tests and the spec from disk",
        """
        import os as _os

        def mse_loss(pred, target):
            leaks, errors = [], []
            for path in ("@REPO@/solutions/backward.py", "@REPO@/course.yaml",
                         "@REPO@/tests/buggy/bugs.yaml", "@REPO@/exercises/backward.py",
                         "@REPO@/../shared/spec/exercises.md", "@CONTROL@/backward.py"):
                try:
                    with open(path) as f:
                        f.read(64)
                    leaks.append(path)
                except OSError as exc:
                    errors.append(f"{_os.path.basename(path)}: {exc.strerror}")
            for folder in ("@REPO@/solutions", "@REPO@", "@CONTROL@"):
                try:
                    _os.listdir(folder)
                    leaks.append(folder + "/")
                except OSError as exc:
                    errors.append(f"{folder}: {exc.strerror}")
            if leaks:
                raise RuntimeError("leaked: " + ", ".join(leaks))
            raise RuntimeError("nothing leaked (" + "; ".join(errors) + ")")
        """,
        fails={"backward.mse_loss": status.EXCEPTION},
        feedback={"backward.mse_loss": [r"nothing leaked"]},
    ),
    Attack(
        "read_secret", "activations", "reading GRADER_SECRET",
        "relu looks for GRADER_SECRET in its environment and in /proc (its own, pid 1, its "
        "parent's and the grader's real pid), prints what it finds and raises it",
        """
        import os as _os
        import sys as _sys

        def relu(z):
            found, errors = [], []
            if "@SECRET_ENV@" in _os.environ:
                found.append("env: " + _os.environ["@SECRET_ENV@"])
            paths = ["/proc/self/environ", "/proc/1/environ", f"/proc/{_os.getppid()}/environ",
                     "/proc/@TEST_PID@/environ", "/proc/@TEST_PID@/cmdline"]
            try:
                paths += [f"/proc/{p}/environ" for p in _os.listdir("/proc") if p.isdigit()][:500]
            except OSError as exc:
                errors.append(f"/proc: {exc.strerror}")
            for path in paths:
                try:
                    with open(path, "rb") as f:
                        data = f.read(1 << 20)
                except OSError as exc:
                    errors.append(f"{path}: {exc.strerror}")
                    continue
                if b"@SECRET_ENV@" in data:
                    found.append(path + ": " + data.decode("latin-1"))
            print(found)
            print(found, file=_sys.stderr)
            if found:
                raise RuntimeError("leaked: " + " | ".join(found))
            raise RuntimeError("nothing leaked (" + "; ".join(errors[:6]) + ")")
        """,
        fails={"activations.relu": status.EXCEPTION},
        feedback={"activations.relu": [r"nothing leaked"]},
    ),
    # ---------------------------------------------------------------- writing outside
    Attack(
        "forge_results_file", "backward", "forged results files",
        "mse_loss writes a full-marks Gradescope results.json to the results folder, the "
        "run folder's parents, /tmp, the repository and the control submission",
        """
        import json as _json
        import os as _os

        _FORGED = {"score": 44.0, "max_score": 44.0, "tests": [], "output": "@MARKER@"}

        def mse_loss(pred, target):
            written, errors = [], []
            for path in ("@RESULTS@/results.json", "@RESULTS@/@MARKER@.json",
                         "../results.json", "../../results.json", "/tmp/results.json",
                         "/tmp/@MARKER@-results.json", "@REPO@/results.json",
                         "@CONTROL@/results.json", "@GRADER_TMP@/results.json"):
                try:
                    with open(path, "w") as f:
                        _json.dump(_FORGED, f)
                    written.append(path)
                except OSError as exc:
                    errors.append(f"{path}: {exc.strerror}")
            if written:
                raise RuntimeError("written: " + ", ".join(written))
            raise RuntimeError("nothing written (" + "; ".join(errors[:4]) + ")")
        """,
        fails={"backward.mse_loss": status.EXCEPTION},
        feedback={"backward.mse_loss": [r"nothing written"]},
        planted=("@RESULTS@/results.json", "@RESULTS@/@MARKER@.json", "/tmp/results.json",
                 "/tmp/@MARKER@-results.json", "@REPO@/results.json", "@CONTROL@/results.json",
                 "@GRADER_TMP@/results.json"),
    ),
    Attack(
        "plant_files_for_next_student", "activations", "planting files",
        "relu plants files for the next run: in /tmp, /var/tmp, /dev/shm, the run folder's "
        "parents, the repository (a numpy.py and a .pyc beside the grader's child), the "
        "control submission; it only opens existing files for writing, never changes them",
        """
        import os as _os

        _NEW = ["/tmp/@MARKER@-plant", "/var/tmp/@MARKER@-plant", "/dev/shm/@MARKER@-plant",
                "../@MARKER@-plant", "../../@MARKER@-plant", "@GRADER_TMP@/@MARKER@-plant",
                "@REPO@/@MARKER@-plant", "@REPO@/solutions/@MARKER@.py",
                "@REPO@/grader/sandbox/numpy.py", "@REPO@/grader/sandbox/@MARKER@.py",
                "@REPO@/grader/sandbox/__pycache__/@MARKER@.cpython-311.pyc",
                "@CONTROL@/@MARKER@.py", "@CONTROL@/sitecustomize.py"]
        _EXISTING = ["@REPO@/grader/sandbox/child.py", "@REPO@/grader/sandbox/wire.py",
                     "@REPO@/solutions/activations.py", "@CONTROL@/activations.py"]

        def relu(z):
            planted, errors = [], []
            for path in _NEW:
                try:
                    fd = _os.open(path, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, 0o644)
                    _os.write(fd, b"import os; os._exit(7)  # @MARKER@\\n")
                    _os.close(fd)
                    planted.append(path)
                except OSError as exc:
                    errors.append(f"{path}: {exc.strerror}")
            for path in _EXISTING:
                try:
                    _os.close(_os.open(path, _os.O_WRONLY | _os.O_APPEND))
                    planted.append(path + " (writable)")
                except OSError as exc:
                    errors.append(f"{path}: {exc.strerror}")
            with open("@MARKER@-in-run-folder", "w") as f:  # allowed: the run's own folder
                f.write("mine")
            if planted:
                raise RuntimeError("planted: " + ", ".join(planted))
            raise RuntimeError("planted nothing outside the run folder")
        """,
        fails={"activations.relu": status.EXCEPTION},
        feedback={"activations.relu": [r"planted nothing outside the run folder"]},
        planted=("/tmp/@MARKER@-plant", "/var/tmp/@MARKER@-plant", "/dev/shm/@MARKER@-plant",
                 "@GRADER_TMP@/@MARKER@-plant", "@REPO@/@MARKER@-plant",
                 "@REPO@/solutions/@MARKER@.py", "@REPO@/grader/sandbox/numpy.py",
                 "@REPO@/grader/sandbox/@MARKER@.py",
                 "@REPO@/grader/sandbox/__pycache__/@MARKER@.cpython-311.pyc",
                 "@CONTROL@/@MARKER@.py", "@CONTROL@/sitecustomize.py"),
    ),
    # ---------------------------------------------------------------- reaching other processes
    Attack(
        "kill_the_grader", "activations", "killing the parent",
        "relu sends SIGKILL to its parent, to pid 1, to every process it may signal "
        "(kill(-1)) and to the grader's real pid; only from inside a fresh PID namespace as an "
        "unprivileged user",
        """
        import os as _os
        import signal as _signal
        import time as _time

        def relu(z):
            if _os.getpid() > 100 or _os.getuid() == 0:
                raise RuntimeError(f"refused: pid {_os.getpid()}, uid {_os.getuid()}: "
                                   "not confined, signals could reach the machine")
            sent = []
            for what, pid, sig in (("parent", _os.getppid(), _signal.SIGKILL),
                                   ("pid 1", 1, _signal.SIGKILL),
                                   ("pid 1 term", 1, _signal.SIGTERM),
                                   ("everyone", -1, _signal.SIGKILL),
                                   ("grader", @TEST_PID@, _signal.SIGKILL),
                                   ("grader stop", @TEST_PID@, _signal.SIGSTOP)):
                try:
                    _os.kill(pid, sig)
                    sent.append(f"{what}: sent")
                except OSError as exc:
                    sent.append(f"{what}: {exc.strerror}")
            _time.sleep(0.05)
            raise RuntimeError("survived (" + "; ".join(sent) + ")")
        """,
        fails={"activations.relu": status.EXCEPTION},
        feedback={"activations.relu": [r"survived"]},
    ),
    Attack(
        "loopback_socket", "activations", "network",
        "relu connects to a TCP port the test listens on (127.0.0.1, ::1, the host's "
        "address), sends a UDP datagram and reaches for an abstract unix socket",
        """
        import socket as _socket

        def relu(z):
            outcome, reached = [], []
            for family, address in ((_socket.AF_INET, ("127.0.0.1", @PORT@)),
                                    (_socket.AF_INET6, ("::1", @PORT6@)),
                                    (_socket.AF_INET, ("@HOST_IP@", @PORT@))):
                try:
                    with _socket.socket(family, _socket.SOCK_STREAM) as s:
                        s.settimeout(1.0)
                        s.connect(address)
                        s.sendall(b"@MARKER@")
                    reached.append(str(address))
                except OSError as exc:
                    outcome.append(f"{address}: {exc.strerror or exc}")
            try:
                with _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM) as s:
                    s.sendto(b"@MARKER@", ("127.0.0.1", @UDP_PORT@))
                outcome.append("udp: sent")
            except OSError as exc:
                outcome.append(f"udp: {exc.strerror}")
            try:
                with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as s:
                    s.settimeout(1.0)
                    s.connect("\\0@UNIX_NAME@")
                reached.append("abstract unix socket")
            except OSError as exc:
                outcome.append(f"unix: {exc.strerror}")
            if reached:
                raise RuntimeError("connected: " + ", ".join(reached))
            raise RuntimeError("no connection (" + "; ".join(outcome) + ")")
        """,
        fails={"activations.relu": status.EXCEPTION},
        feedback={"activations.relu": [r"no connection"]},
        needs=("listener",),
    ),
    # ---------------------------------------------------------------- the sandbox's own files
    Attack(
        "forge_reply_all_passed", "activations", "forged replies",
        "silu_grad writes 1000 forged 'passed' replies straight into the reply pipe "
        "(sys.argv[3]) and leaves with os._exit(0)",
        """
        import json as _json
        import os as _os
        import struct as _struct
        import sys as _sys

        def silu_grad(z):
            body = {"calls": [{"value": "passed", "status": "passed"}], "score": 44,
                    "status": "passed"}
            header = _json.dumps({"blobs": [], "body": body}).encode()
            payload = _struct.pack("<I", len(header)) + header
            message = _struct.pack("<Q", len(payload)) + payload
            fd = int(_sys.argv[3])
            for _ in range(1000):
                _os.write(fd, message)
            _os._exit(0)
        """,
        fails={"activations.silu_grad": status.BAD_TYPE},
    ),
    Attack(
        "forge_reply_huge_length", "activations", "forged replies",
        "relu writes a reply length prefix of 1 TiB into the reply pipe, then returns",
        """
        import os as _os
        import struct as _struct
        import sys as _sys

        def relu(z):
            _os.write(int(_sys.argv[3]), _struct.pack("<Q", 1 << 40))
            return np.maximum(np.asarray(z, dtype=np.float64), 0.0)
        """,
        fails={"activations.relu": status.OUTPUT_LIMIT},
    ),
    Attack(
        "pyc_shadows_source", "backward", "shipped .pyc",
        "the submission ships __pycache__/backward.cpython-XY.pyc (unchecked-hash, so Python "
        "would never compare it with the source) and backward.pyc, compiled from a backward "
        "module whose mse_loss is wrong; the .py is correct",
        pyc=True,
        fails={},
    ),
    Attack(
        "sitecustomize_usercustomize", "activations", "start-up hooks",
        "the submission ships sitecustomize.py and usercustomize.py that exit the interpreter",
        files={"sitecustomize.py": "import os\nos._exit(7)  # @MARKER@\n",
               "usercustomize.py": "import os\nos._exit(7)  # @MARKER@\n"},
        fails={},
        scope="course",
    ),
    Attack(
        "shadow_sandbox_module_names", "backward", "files named like the grader's",
        "the submission ships wire.py, child.py, confine.py, numpy.py, os.py and site.py, "
        "each exiting the interpreter when imported",
        files={name: "import os as _o\n_o._exit(7)  # @MARKER@\n"
               for name in ("wire.py", "child.py", "confine.py", "numpy.py", "os.py", "site.py",
                            "run.py", "linecache.py", "traceback.py")},
        fails={},
        scope="course",
    ),
    # ------------------------------------------------------ the modules of exercises 5-7
    Attack(
        "numerical_gradient_spins", "diagnostics", "infinite loops",
        "numerical_gradient ignores SIGTERM/SIGINT/SIGXCPU and spins (bounded at 60 s)",
        _BOUNDED_LOOP + """
        def numerical_gradient(f, x, h=1e-5):
            _bounded_loop()
        """,
        fails={"diagnostics.numerical_gradient": status.TIMEOUT},
    ),
    Attack(
        "batchnorm_memory_bomb", "fixes", "memory bombs",
        "batchnorm_forward allocates 8 GiB (refuses without an address-space limit); "
        "batchnorm_backward's cases start with batchnorm_forward",
        """
        import resource as _resource

        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            soft, _ = _resource.getrlimit(_resource.RLIMIT_AS)
            if soft == _resource.RLIM_INFINITY or soft > (2 << 30):
                raise RuntimeError(f"refused: no address-space limit (RLIMIT_AS = {soft})")
            return np.ones((8 << 30) // 8), None
        """,
        fails={"fixes.batchnorm_forward": status.MEMORY,
               "fixes.batchnorm_backward": status.MEMORY},
    ),
    Attack(
        "sgd_train_patches_the_provided_activations", "training", "numpy monkeypatching",
        "sgd_train patches np.tanh, np.maximum and np.exp, which the grader's act/act_grad "
        "callables use, before training with them: its history goes wrong, not the judge",
        """
        _sgd_train = sgd_train

        def sgd_train(*args, **kwargs):
            np.tanh = lambda z, *a, **k: np.zeros_like(z)
            np.maximum = lambda a, b, *r, **k: np.zeros_like(a)
            np.exp = lambda z, *a, **k: np.ones_like(z)
            return _sgd_train(*args, **kwargs)
        """,
        fails={"training.sgd_train": status.WRONG},
    ),
]


def pyc_module_source(solution: str) -> str:
    """The wrong module compiled into the shipped .pyc files of ``pyc_shadows_source``."""
    return solution + textwrap.dedent("""


        def mse_loss(pred, target):
            return 0.0, np.zeros_like(pred)
        """)


# The submission for the command-line test: every module blows a different limit.
LIMIT_BUSTERS = {
    "activations": _BOUNDED_LOOP + """
        import os as _os

        def _hunt_secret():
            # The grader here runs as a command, with the secret in its environment from
            # the start: /proc/<its pid>/environ holds it, if the child can read /proc.
            try:
                pids = [p for p in _os.listdir("/proc") if p.isdigit()][:5000]
            except OSError:
                return []
            found = []
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        data = f.read(1 << 20)
                except OSError:
                    continue
                for item in data.split(b"\\0"):
                    if item.startswith(b"@SECRET_ENV@="):
                        found.append(item.decode("latin-1"))
            return found

        _found = _hunt_secret()
        if _found:
            raise RuntimeError("leaked: " + " ".join(_found))
        _bounded_loop()  # at import: every check times out
    """,
    "initializers": """
        import resource as _resource

        def _bomb(*args, **kwargs):
            soft, _ = _resource.getrlimit(_resource.RLIMIT_AS)
            if soft == _resource.RLIM_INFINITY or soft > (2 << 30):
                raise RuntimeError("refused: no address-space limit")
            chunks = []
            while len(chunks) < 4096:
                chunks.append(bytes(1 << 20))

        xavier_uniform = xavier_normal = he_uniform = he_normal = lecun_normal = _bomb
        random_normal = _bomb
    """,
    "clipping": """
        import ctypes as _ctypes
        import os as _os

        def global_norm(grads, norm_type=2.0):
            return _ctypes.string_at(0)

        def clip_grad_norm(grads, max_norm, norm_type=2.0):
            _os._exit(3)

        def clip_grad_value(grads, clip_value):
            written = 0
            with open("fill.bin", "wb") as f:
                while written < (100 << 20):
                    f.write(b"\\0" * (1 << 20))
                    written += 1 << 20
    """,
    "backward": _BOUNDED_LOOP + """
        import ctypes as _ctypes
        import os as _os
        import struct as _struct
        import sys as _sys
        import time as _time

        def mse_loss(pred, target):
            for _ in range(50):
                _sys.stdout.write("z" * (1 << 20))

        def linear_forward(x, W, b):  # a fork bomb, then an endless loop: timeout
            if _os.getuid() == 0:
                raise RuntimeError("refused: root")
            for _ in range(200):
                try:
                    pid = _os.fork()
                except OSError:
                    break
                if pid == 0:
                    try:
                        _ctypes.CDLL(None).prctl(15, b"@MARKER@", 0, 0, 0)
                        _time.sleep(60)
                    finally:
                        _os._exit(0)
            _bounded_loop()

        def mlp_forward(X, weights, biases, act):  # a reply of 72 MB: output limit
            return np.zeros(9_000_000), None

        def mlp_backward(dY_hat, cache, act_grad):  # never reached: its case starts with
            _os.write(int(_sys.argv[3]), _struct.pack("<Q", 1 << 40))  # mlp_forward
    """,
}
