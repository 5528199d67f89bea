"""Start-up work the CLI saves between processes (issue 16 item 6): dataclass methods compiled
once per installation (gait.cli.methodcache) and ``inspect`` left unexecuted. What a command
prints and exits with must not depend on whether that saved work was there, absent or damaged."""

from __future__ import annotations

import json
import marshal
import os
import platform
import subprocess
import sys
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from typing import Any

import pytest

POLICY = """\
default_verdict: require_approval
rules:
  - name: allow-safe-write
    priority: 10
    effect: allow
    match:
      tool_names: [tool.write]
      target_kinds: [path]
    reason_codes: [safe_write]
"""

# A rate limit loads gait.gate.state, whose classes are dataclasses: a plain decision defines
# none (it imports no dataclasses), so the method cache is exercised by this one.
RATED_POLICY = (
    POLICY
    + """\
    rate_limit:
      requests: 100
      window: hour
"""
)

INTENT = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-02-18T00:00:00Z",
    "producer_version": "test",
    "tool_name": "tool.write",
    "args": {"path": "/tmp/out.txt"},
    "targets": [{"kind": "path", "value": "/tmp/out.txt", "operation": "write"}],
    "context": {"identity": "alice", "workspace": "/tmp", "risk_class": "low"},
}


@pytest.fixture
def cli(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A work directory with a policy and an intent, and an environment whose bytecode (and so
    the method cache) goes to a prefix of its own, not to the checkout's __pycache__."""
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "rated.yaml").write_text(RATED_POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(INTENT))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")
    env["GAIT_HOME"] = str(tmp_path / "home")
    return tmp_path, env


def _eval(
    work: Path, env: dict[str, str], run: int, policy: str = "policy.yaml"
) -> tuple[int, str]:
    cwd = work / f"run{run}"  # each run its own trace directory: same trace id, same output
    cwd.mkdir()  # and its own rate-limit state (the state file's path is relative)
    env = {**env, "GAIT_GATE_STATE": "state.json"}
    argv = ["gate", "eval", "--policy", f"../{policy}", "--intent", "../intent.json", "--json"]
    proc = subprocess.run(
        [sys.executable, "-m", "gait", *argv], cwd=cwd, env=env, capture_output=True, text=True
    )
    return proc.returncode, proc.stdout


RATED = "rated.yaml"


def _cache_files(work: Path) -> list[Path]:
    return sorted((work / "pycache").rglob("dataclass-methods.*.marshal"))


def test_method_cache_is_written_reused_and_never_changes_an_answer(
    cli: tuple[Path, dict[str, str]],
) -> None:
    work, env = cli
    first = _eval(work, env, 1, RATED)
    assert first[0] == 0 and json.loads(first[1])["verdict"] == "allow"
    [cache] = _cache_files(work)
    written = cache.read_bytes()
    sources = _sources(written)
    assert len(sources) > 5 and all("def " in text for text in sources)

    assert _eval(work, env, 2, RATED) == first  # from the cache
    assert cache.read_bytes() == written  # nothing new to compile: not rewritten

    cache.write_bytes(b"not a marshal file")  # damaged: compiled as before, then rewritten
    assert _eval(work, env, 3, RATED) == first
    rewritten = _sources(cache.read_bytes())
    assert rewritten and rewritten <= sources  # what this decision used (no key to create now)

    cache.write_bytes(written[:-200])  # truncated
    assert _eval(work, env, 4, RATED) == first
    assert _sources(cache.read_bytes()) == rewritten

    cache.write_bytes(written[:4] + marshal.dumps({"x": 1}))  # wrong shape
    assert _eval(work, env, 5, RATED) == first


def _sources(data: bytes) -> set[str]:
    """The source texts a cache file holds code for (after the bytecode magic number)."""
    assert data.startswith(MAGIC_NUMBER)
    table = marshal.loads(data[len(MAGIC_NUMBER) :])
    return set(table)


def test_method_cache_entries_are_read_one_by_one(cli: tuple[Path, dict[str, str]]) -> None:
    """Each entry is its own marshal bytes, unmarshalled only when its class is defined: a
    damaged entry is compiled and written again, the others are kept as they were; a file of
    the older shape (code objects themselves) is read as empty and rewritten."""
    work, env = cli
    first = _eval(work, env, 1, RATED)
    [cache] = _cache_files(work)
    table = marshal.loads(cache.read_bytes()[len(MAGIC_NUMBER) :])
    assert table and all(type(blob) is bytes for blob in table.values())
    damaged = sorted(table)[0]
    cache.write_bytes(MAGIC_NUMBER + marshal.dumps({**table, damaged: b"\x00 not code"}))
    assert _eval(work, env, 2, RATED) == first
    assert marshal.loads(cache.read_bytes()[len(MAGIC_NUMBER) :]) == table

    older = {text: marshal.loads(blob) for text, blob in table.items()}
    cache.write_bytes(MAGIC_NUMBER + marshal.dumps(older))
    assert _eval(work, env, 3, RATED) == first
    assert marshal.loads(cache.read_bytes()[len(MAGIC_NUMBER) :]) == table


def test_method_cache_honours_dont_write_bytecode(cli: tuple[Path, dict[str, str]]) -> None:
    work, env = cli
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    code, out = _eval(work, env, 1)
    assert code == 0 and json.loads(out)["verdict"] == "allow"
    assert _cache_files(work) == []
    assert _regex_files(work) == []


def _regex_files(work: Path) -> list[Path]:
    return sorted((work / "pycache").rglob("regex-code.*.marshal"))


def _regex_table(data: bytes) -> tuple[bytes, dict[Any, Any]]:
    """A regex cache file's stamp (bytecode magic number, interpreter, re's magic number; one
    line) and its table."""
    assert data.startswith(MAGIC_NUMBER)
    line, _, body = data[len(MAGIC_NUMBER) :].partition(b"\n")
    return MAGIC_NUMBER + line + b"\n", marshal.loads(body)


def test_regex_cache_is_written_reused_and_never_changes_an_answer(
    cli: tuple[Path, dict[str, str]],
) -> None:
    """gait.cli.regexcache: the patterns a decision compiles are kept once, read back by the
    next process, and a damaged, truncated or foreign file only means compiling again."""
    work, env = cli
    first = _eval(work, env, 1)
    assert first[0] == 0 and json.loads(first[1])["verdict"] == "allow"
    [cache] = _regex_files(work)
    written = cache.read_bytes()
    stamp, table = _regex_table(written)
    assert len(table) > 10 and all(type(text) in (str, bytes) for text, _ in table)

    assert _eval(work, env, 2) == first  # from the cache
    assert cache.read_bytes() == written  # nothing new to compile: not rewritten

    damaged = (b"not a marshal file", written[:-100], stamp + marshal.dumps([1]))
    for run, data in enumerate(damaged, start=3):
        cache.write_bytes(data)
        assert _eval(work, env, run) == first
        again = _regex_table(cache.read_bytes())  # compiled again and rewritten: what a
        assert again[0] == stamp and again[1].items() <= table.items()  # decision uses
    used = set(again[1])
    assert len(used) > 5  # the intent schema's, timefmt's, the secret scan's...

    refused = {key: (flags, [999, 1], *rest) for key, (flags, _, *rest) in table.items()}
    cache.write_bytes(stamp + marshal.dumps({**table, **{k: refused[k] for k in used}}))
    assert _eval(work, env, 6) == first  # code _sre.compile refuses: compiled again
    assert _regex_table(cache.read_bytes()) == (stamp, table)


def test_cached_patterns_are_the_patterns_re_builds(tmp_path: Path) -> None:
    """A pattern built from the cache is the one ``re.compile`` builds (flags, groups, names,
    matches), first and second time; errors and ``re.DEBUG`` are never kept."""
    script = r"""
import json, re, sys
from gait.cli import regexcache
if sys.argv[1] == "cached":
    regexcache.install()
out = []
for pattern, flags, text in [
    (r"(?P<year>\d{4})-(\d\d)(?:-(?P<day>\d\d))?", 0, "2026-02-18 1999-01"),
    (r"^\s*(?:path|url)\b", re.IGNORECASE, "  PATH x\nurl"),
    (r" a+ # letters", re.VERBOSE | re.MULTILINE, "aaa\na"),
    (r"(?=(\w))\w\Z", re.ASCII, "ab\u00e9"),
    (r"caf\u00e9|\u00c9t\u00e9", re.IGNORECASE, "CAF\u00c9 \u00e9t\u00e9"),
    (rb"[\x80-\xff]+", 0, b"ab\xc3\xa9"),
]:
    p = re.compile(pattern, flags)
    found = [m.group(0) for m in p.finditer(text)]
    out.append([p.pattern if isinstance(p.pattern, str) else p.pattern.hex(), p.flags,
                p.groups, dict(p.groupindex), repr(found)])
import warnings
with warnings.catch_warnings(record=True) as shown:
    warnings.simplefilter("always")
    re.compile("[[a]")  # a possible nested set: the parser warns, every time
    re.compile(b"(?P<\xe9>x)")  # a non-ASCII group name in a bytes pattern
out.append([str(warning.message) for warning in shown])
for bad in ("(unclosed", "a{2,1}"):
    try:
        re.compile(bad)
    except re.error as exc:
        out.append(str(exc))
print(json.dumps(out))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")

    def run(mode: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", script, mode], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    plain = run("plain")
    assert run("cached") == plain  # compiled, then saved
    [cache] = _regex_files(tmp_path)
    keys = {text for text, _ in _regex_table(cache.read_bytes())[1]}
    assert rb"[\x80-\xff]+" in keys and "(unclosed" not in keys and "[[a]" not in keys
    assert run("cached") == plain  # read back from the file


def test_cached_methods_are_the_methods_dataclasses_builds(tmp_path: Path) -> None:
    """A class defined with the cache in place has the same generated methods (code, names,
    defaults, annotations, behaviour) as one defined without it, first and second time."""
    script = """
import dataclasses, json, sys
from gait.cli import methodcache
if sys.argv[1] == "cached":
    methodcache.install()

@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: "tuple[str, ...]" = dataclasses.field(default_factory=tuple)
    z: float = 1.5

p = Point(1, ("a",))
out = {}
for name in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__"):
    code = getattr(Point, name).__code__
    out[name] = [code.co_code.hex(), code.co_filename, code.co_firstlineno, code.co_varnames,
                 repr(getattr(Point, name).__annotations__)]
out["repr"] = repr(p)
out["eq"] = p == Point(1, ("a",))
out["hash"] = hash(Point(2)) == hash(Point(2))
try:
    p.x = 3
except dataclasses.FrozenInstanceError as exc:
    out["frozen"] = str(exc)
print(json.dumps(out, sort_keys=True))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")

    def run(mode: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", script, mode], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    plain = run("plain")
    assert run("cached") == plain  # compiled, then saved
    assert run("cached") == plain  # read back from the file
    assert sorted(tmp_path.joinpath("pycache").rglob("dataclass-methods.*.marshal"))


def test_inspect_is_whole_when_a_gate_command_reads_it(cli: tuple[Path, dict[str, str]]) -> None:
    """The gate command leaves ``inspect`` unexecuted; whoever reads it later (in that process)
    gets the real module, by ``import inspect`` or ``from inspect import ...``."""
    work, env = cli
    assert _eval(work, env, 1)[0] == 0  # creates the dev key (a first run loads more)
    script = (
        "import io, contextlib, sys\n"
        "from gait.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['gate', 'eval', '--policy', 'policy.yaml', '--intent', 'intent.json'])\n"
        "assert code == 0 and 'tokenize' not in sys.modules\n"
        "from inspect import signature\n"
        "import inspect, dataclasses\n"
        "assert dataclasses.inspect is inspect is sys.modules['inspect']\n"
        "assert type(inspect).__name__ == 'module' and 'tokenize' in sys.modules\n"
        "print(signature(main), inspect.isfunction(main))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "(argv: 'Sequence[str] | None' = None) -> 'int' True\n"


def test_ipaddress_runs_only_when_read(cli: tuple[Path, dict[str, str]]) -> None:
    """A gate decision leaves ``ipaddress`` (which urllib.parse imports for bracketed IPv6 URL
    hosts) unexecuted; the first read of it runs the whole module. Run without site processing,
    with the checkout and site-packages on the path: an editable install's import hook loads
    ipaddress at interpreter start-up by itself."""
    import sysconfig

    work, env = cli
    assert _eval(work, env, 1)[0] == 0  # creates the dev key (a first run loads more)
    repo = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join([str(repo), sysconfig.get_paths()["purelib"]])
    script = (
        "import io, contextlib, sys\n"
        "assert 'ipaddress' not in sys.modules\n"
        "from gait.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['gate', 'eval', '--policy', 'policy.yaml', '--intent', 'intent.json'])\n"
        "ip = sys.modules['ipaddress']\n"
        "assert code == 0 and 'ip_address' not in vars(ip)\n"
        "from urllib.parse import urlsplit\n"
        "print(urlsplit('http://[::1]:8/').hostname, 'ip_address' in vars(ip))\n"
        "from ipaddress import ip_network\n"
        "print(ip_network('10.0.0.0/8').num_addresses, sys.modules['ipaddress'] is ip)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", script], cwd=work, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "::1 True\n16777216 True\n"


def test_a_decision_leaves_rarely_used_modules_unexecuted(cli: tuple[Path, dict[str, str]]) -> None:
    """``gate eval`` and ``policy test`` (issue 16 item 6) leave the modules that pathlib and
    dataclasses import for rare uses unexecuted (gait.cli.main.DEFERRED), take the C datetime
    types without datetime.py, and find files without importlib.util; what they hand out
    (``from urllib.parse import urlsplit``) and whoever reads them later get the real thing.
    Run without site processing (an editable install's hook imports some of them at start)."""
    import sysconfig

    work, env = cli
    assert _eval(work, env, 1)[0] == 0  # creates the dev key (a first run loads more)
    repo = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join([str(repo), sysconfig.get_paths()["purelib"]])
    script = (
        "import io, contextlib, sys\n"
        "from gait.cli.main import main, DEFERRED\n"
        "for argv in (['gate', 'eval', '--policy', 'policy.yaml', '--intent', 'intent.json'],\n"
        "             ['policy', 'test', 'policy.yaml', 'intent.json']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main(argv) == 0\n"
        "    ran = [n for n in DEFERRED if '__builtins__' in vars(sys.modules[n])]\n"
        "    loaded = {'datetime', 'weakref', 'importlib', 'importlib.util', 'base64'}\n"
        "    loaded &= set(sys.modules)\n"
        "    print(sorted(ran), sorted(loaded))\n"
        "import pathlib, copy\n"
        "from urllib.parse import urlsplit\n"
        "print(pathlib.Path('/a b').as_uri(), urlsplit('http://h:8/p').port)\n"
        "print(copy.deepcopy([{'a': [1]}]), sys.modules['urllib.parse'].quote('a b'))\n"
        "import ntpath, fnmatch\n"
        "print(ntpath.join('a', 'b'), fnmatch.fnmatch('x.json', '*.json'))\n"
        "import _warnings\n"  # a warning from C code reads the deferred module
        "with contextlib.redirect_stderr(io.StringIO()) as err:\n"
        "    _warnings.warn('raised in C', UserWarning)\n"
        "print('UserWarning: raised in C' in err.getvalue())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", script], cwd=work, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("[] []\n[] []\nfile:///a%20b 8\n[{'a': [1]}] a%20b\na\\b True\nTrue\n")


def test_a_decision_process_runs_no_garbage_collection(cli: tuple[Path, dict[str, str]]) -> None:
    """A ``gate eval`` process (issue 16 item 6) turns the cyclic collector off before its
    imports and leaves it off on its way out (it ends without teardown); ``main()`` called in a
    process that goes on turns it back on."""
    work, env = cli
    assert _eval(work, env, 1)[0] == 0  # creates the dev key (a first run loads more)
    script = (
        "import atexit, gc, io, sys\n"
        "before = gc.get_stats()[0]['collections']\n"
        "report = lambda: print('collections', gc.get_stats()[0]['collections'] - before,\n"
        "                       'enabled', gc.isenabled(), file=sys.stderr)\n"
        "atexit.register(report)\n"
        "from gait.cli.main import entry, main\n"
        "argv = ['gate', 'eval', '--policy', 'policy.yaml', '--intent', 'intent.json']\n"
        "if sys.argv[1] == 'main':\n"
        "    sys.stdout = io.StringIO()\n"
        "    sys.exit(main(argv))\n"
        "sys.argv = ['gait', *argv]\n"
        "entry()\n"
    )
    for mode, expected in (("entry", "collections 0 enabled False"), ("main", "enabled True")):
        proc = subprocess.run(
            [sys.executable, "-c", script, mode], cwd=work, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        assert expected in proc.stderr.splitlines()[-1], proc.stderr


def test_verify_and_run_diff_skip_inspect_and_keep_their_output(tmp_path: Path) -> None:
    """``gait verify`` / ``gait run diff`` processes (issue 14 item 6) run no ``inspect`` (none
    of their dataclasses lacks a docstring) and end without teardown: same bytes, same exit."""
    env = {**os.environ, "GAIT_HOME": str(tmp_path / "home")}
    demo = subprocess.run(
        [sys.executable, "-m", "gait", "demo", "--json"], cwd=tmp_path, env=env, capture_output=True
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    script = (
        "import sys\n"
        "from gait.cli.main import main, _run\n"
        "code = _run(sys.argv[1:])\n"
        "sys.stdout.flush()\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
        "sys.exit(code)\n"
    )
    diff = ["run", "diff", "run_demo", "run_demo", "--json"]
    for argv in (["verify", "run_demo", "--json"], diff):
        inproc = subprocess.run(
            [sys.executable, "-c", script, *argv], cwd=tmp_path, env=env, capture_output=True,
            text=True,
        )  # fmt: skip
        assert inproc.returncode == 0, inproc.stderr
        out, modules = inproc.stdout.split("MODULES ", 1)
        loaded = set(modules.split())
        assert "gait.runpack.verify" in loaded and "zipfile" in loaded  # it did verify
        assert sorted({"ast", "dis", "tokenize", "linecache"} & loaded) == []
        proc = subprocess.run(
            [sys.executable, "-m", "gait", *argv], cwd=tmp_path, env=env, capture_output=True,
            text=True,
        )  # fmt: skip
        assert (proc.returncode, proc.stdout) == (0, out)
        assert json.loads(out)["ok"] is True


def test_unsigned_verify_imports_no_cryptography(tmp_path: Path) -> None:
    """A runpack without signatures is verified without importing cryptography (issue 14 item 6:
    a tenth of the process); a signed one (the demo's, above) still has its signature checked.
    Its plain command line is read without argparse (gait.cli.fastparse)."""
    from gait.runpack.recorder import Recorder

    recorder = Recorder("run_plain", out=tmp_path / "plain.zip", sign=False)
    recorder.result(recorder.intent("tool.read", {"path": "/tmp/a"}), {"ok": True})
    recorder.close()
    script = (
        "import sys\n"
        "from gait.cli.main import _run\n"
        "code = _run(['verify', 'plain.zip', '--json'])\n"
        "sys.stdout.flush()\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "GAIT_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    out, modules = proc.stdout.split("MODULES ", 1)
    report = json.loads(out)
    assert report["ok"] is True and report["signature_status"] == "missing"
    loaded = set(modules.split())
    assert "gait.sign.keys" in loaded and "cryptography" not in loaded and "nacl" not in loaded
    assert "gait.cli.fastparse" in loaded and sorted({"argparse", "gettext"} & loaded) == []


def test_lazy_patterns_answer_as_compiled_ones() -> None:
    """gait.lazyre.lazy stands for re.compile: same matches, groups, substitutions and splits,
    before and after its first use compiled it."""
    import re

    from gait.lazyre import lazy

    cases = [
        (r"^[a-f0-9]{64}$", ["a" * 64, "A" * 64, "a" * 63, ""]),
        (r"(\d+)(?:\.(\d+))?(ns|us|µs|μs|ms|s|m|h|d)", ["1.5ms", "x2h", "µs", "3d4s"]),
        (r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$", [".a.12.x.tmp", "a.12.x.tmp"]),
    ]
    for pattern, texts in cases:
        compiled, pending = re.compile(pattern), lazy(pattern)
        for text in texts:
            for method in ("match", "search", "fullmatch"):
                want, got = getattr(compiled, method)(text), getattr(pending, method)(text)
                assert (want and (want.span(), want.groups())) == (
                    got and (got.span(), got.groups())
                )
            assert pending.findall(text) == compiled.findall(text)
            assert pending.sub("-", text) == compiled.sub("-", text)
            assert pending.split(text) == compiled.split(text)
        assert pending.pattern == pattern


# What a signed ``gait verify`` process must not run (issue 14 item 6): typing (annotations
# only; cryptography.exceptions imported it, but a failing signature no longer loads it), what
# zipfile imports for uses a runpack never has (gait.cli.main DEFERRED_FOR_ARCHIVES), and
# hashlib for a runpack without a member big enough to hash faster with OpenSSL
# (gait.runpack.archive _OPENSSL_FROM), and datetime.py (orjson imported with the C types:
# gait.cli.main _orjson_without_datetime_py). Signatures are checked by libsodium through
# PyNaCl's cffi module alone (gait.sign.keys._sodium): neither cryptography's OpenSSL binding
# nor PyNaCl's public wrappers (nacl.bindings, 68 M instructions).
NOT_FOR_A_VERIFY = (
    "typing", "cryptography.exceptions", "shutil", "bz2", "lzma", "inspect", "hashlib", "datetime",
    "cryptography", "nacl.bindings", "platform", "gait.runpack.pack",
)  # fmt: skip


def test_signed_verify_leaves_typing_and_archive_extras_unrun(tmp_path: Path) -> None:
    """A signed verify (the demo's runpack) runs none of ``NOT_FOR_A_VERIFY`` and no garbage
    collection (gait.cli.main QUIET_COLLECTOR), and prints what it printed before; a runpack
    whose signature fails still says so."""
    env = {**os.environ, "GAIT_HOME": str(tmp_path / "home")}
    demo = subprocess.run(
        [sys.executable, "-m", "gait", "demo", "--json"], cwd=tmp_path, env=env, capture_output=True
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    script = (
        "import gc, sys\n"
        "from gait.cli import main\n"
        "main._ENDING = True  # as entry() sets it: the process ends without teardown\n"
        "before = sum(s['collections'] for s in gc.get_stats())\n"
        "code = main._run(sys.argv[1:-1])\n"
        "sys.stdout.flush()\n"
        "ran = [m for m in sys.argv[-1].split(',') if type(sys.modules.get(m)) is type(sys)]\n"
        "print('RAN', ' '.join(ran), sum(s['collections'] for s in gc.get_stats()) - before)\n"
        "sys.exit(code)\n"
    )
    argv = ["verify", "run_demo", "--json"]
    proc = subprocess.run(
        [sys.executable, "-c", script, *argv, ",".join(NOT_FOR_A_VERIFY)], cwd=tmp_path,
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    out, ran = proc.stdout.split("RAN ", 1)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out)["signature_status"] == "verified"
    assert ran.split() == ["0"]  # nothing of NOT_FOR_A_VERIFY ran, no collection
    plain = subprocess.run(
        [sys.executable, "-m", "gait", *argv], cwd=tmp_path, env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert (plain.returncode, plain.stdout) == (0, out)


def test_orjson_imported_without_datetime_py_still_knows_datetimes() -> None:
    """orjson imported with ``_datetime`` standing in for ``datetime`` (a verify's set-up) still
    serialises the real module's values, imported afterwards, as it always did; ``platform``,
    stood in for while uuid was imported, is the real module afterwards, and uuid's flags are
    what the real one gives."""
    script = (
        "import sys\n"
        "from gait.cli import main\n"
        "main._orjson_without_datetime_py()\n"
        "assert 'orjson' in sys.modules and 'datetime' not in sys.modules\n"
        "import datetime, orjson\n"
        "assert datetime.__file__.endswith('datetime.py')\n"
        "values = [datetime.datetime(2026, 1, 2, 3, 4, 5, 6), datetime.date(2026, 1, 2),\n"
        "          datetime.time(1, 2, 3), datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)]\n"
        "print(orjson.dumps(values).decode())\n"
        "import platform, uuid\n"
        "assert platform.__file__.endswith('platform.py') and not hasattr(uuid, 'platform')\n"
        "assert (uuid._LINUX, uuid._AIX) == (platform.system() == 'Linux', False)\n"
        "print(orjson.dumps([uuid.UUID(int=5), platform.system()]).decode())\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == (
        '["2026-01-02T03:04:05.000006","2026-01-02","01:02:03","2026-01-01T00:00:00+00:00"]'
    )
    assert (
        proc.stdout.split("\n")[1]
        == f'["00000000-0000-0000-0000-000000000005","{platform.system()}"]'
    )


def test_exit_codes_are_named_ints_without_enum() -> None:
    """``gait.errors`` builds no enum (issue 16 item 6): its exit codes print, compare, encode
    and pickle as the ``IntEnum`` members did, and ``from gait import <submodule>`` does not
    import the reference SDK's API package (gait.compat) to learn that a name is no export."""
    import pickle

    import gait
    import gait.compat

    script = (
        "import sys\n"
        "from gait.errors import ExitCode\n"
        "enum = 'enum' in sys.modules\n"
        "from gait import timefmt\n"
        "import json\n"
        "code = ExitCode.POLICY_BLOCKED\n"
        "print(enum, 'gait.compat' in sys.modules, code, f'{code:>2}', repr(code),\n"
        "      json.dumps([code]), ExitCode.INTERRUPTED + 0, ExitCode.OK == 0)\n"
    )
    proc = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "False False 3  3 <ExitCode.POLICY_BLOCKED: 3> [3] 130 True\n"
    from gait.errors import ExitCode

    assert pickle.loads(pickle.dumps(ExitCode.INVALID_INPUT)) is ExitCode.INVALID_INPUT
    assert ExitCode(6) is ExitCode.INVALID_INPUT and ExitCode(130) is ExitCode.INTERRUPTED
    with pytest.raises(ValueError, match="^99 is not a valid ExitCode$"):
        ExitCode(99)  # as the IntEnum said it
    exported = {name for name in gait.compat.EXPORTS if not name[:1].isupper()}
    assert exported == gait._COMPAT_FUNCTIONS
    assert gait.gate_tool is gait.compat.decorators.gate_tool  # type: ignore[attr-defined]


def test_collector_pause_and_file_lock_without_contextlib(tmp_path: Path) -> None:
    """gait.gcpause.paused and gait.fsutil.file_lock are classes, not contextlib generators (a
    decision process imports no contextlib): nested and decorated pauses turn the collector
    back on only when the last ends and only if it was on, through exceptions; a held lock
    keeps a second holder out until released."""
    import gc
    import threading

    from gait import gcpause
    from gait.fsutil import file_lock

    @gcpause.paused()
    def build(fail: bool) -> bool:
        """Docstring kept."""
        with gcpause.paused():
            if fail:
                raise KeyError("x")
            return gc.isenabled()

    assert build.__name__ == "build" and build.__doc__ == "Docstring kept."
    was = gc.isenabled()
    try:
        gc.enable()
        assert build(False) is False and gc.isenabled()
        with pytest.raises(KeyError):
            build(True)
        assert gc.isenabled()
        gc.disable()
        assert build(False) is False and not gc.isenabled()  # off before: stays off
    finally:
        (gc.enable if was else gc.disable)()

    lock_path = tmp_path / "sub" / "x.lock"
    order: list[str] = []
    with file_lock(lock_path):
        other = threading.Thread(target=lambda: _take(lock_path, order))
        other.start()
        other.join(0.3)
        order.append("released")
    other.join(5)
    assert order == ["released", "taken"]


def _take(path: Path, order: list[str]) -> None:
    from gait.fsutil import file_lock

    with file_lock(path):
        order.append("taken")


def test_method_cache_waits_for_dataclasses_to_be_imported(tmp_path: Path) -> None:
    """install() before anything imports dataclasses imports nothing (a gate decision defines no
    dataclass, issue 16 item 6); the first import of dataclasses then gets the cache, its
    methods saved and read back, and its loader and source as before."""
    script = """
import json, sys
from gait.cli import methodcache
methodcache.install()
methodcache.install()
out = {"before": "dataclasses" in sys.modules}
import dataclasses, inspect
out["cached"] = dataclasses.exec.__module__ == "gait.cli.methodcache"
out["loader"] = type(dataclasses.__loader__).__name__
out["source"] = "def dataclass(" in inspect.getsource(dataclasses)
out["hooks"] = sum(type(f).__module__ == "gait.cli.methodcache" or getattr(f, "__module__", "")
                   == "gait.cli.methodcache" for f in sys.meta_path)
@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int = 2
out["repr"] = repr(Point(1))
print(json.dumps(out, sort_keys=True))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")
    expected = {
        "before": False,
        "cached": True,
        "loader": "SourceFileLoader",
        "source": True,
        "hooks": 0,
        "repr": "Point(x=1, y=2)",
    }
    for _ in range(2):  # saved, then read back
        proc = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == expected
        assert sorted(tmp_path.joinpath("pycache").rglob("dataclass-methods.*.marshal"))
