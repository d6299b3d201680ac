"""The command line (``seqloss`` / ``python -m seqloss``) and the torch import hint."""
import ast
import os
import subprocess
import sys

import pytest

import seqloss
from seqloss import demo
from seqloss.__main__ import build_parser, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(seqloss.__file__)))


def run_cli(capsys, *argv):
    """main(argv) -> (exit status, stdout, stderr lines), whether it returns or exits."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def python(code):
    """Run ``python -c code`` in a fresh interpreter that imports this seqloss."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_version(capsys):
    """--version prints 'seqloss X.Y.Z (simd level, OpenMP on|off)' and exits 0."""
    code, out, err = run_cli(capsys, "--version")
    openmp = "on" if seqloss.openmp_enabled() else "off"
    assert code == 0 and err == []
    assert out == "seqloss %s (%s, OpenMP %s)\n" % (seqloss.__version__, seqloss.simd_level(),
                                                    openmp)


def test_version_is_a_static_literal():
    """_version.py assigns __version__ a plain string, so setuptools reads it without importing."""
    path = os.path.join(os.path.dirname(seqloss.__file__), "_version.py")
    with open(path) as f:
        tree = ast.parse(f.read())
    values = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
              and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__version__"]
              and isinstance(node.value, ast.Constant)]
    assert values == [seqloss.__version__]


def test_help_names_the_subcommands(capsys):
    """--help exits 0 with a usage naming the prog and every registered subcommand."""
    code, out, err = run_cli(capsys, "--help")
    assert code == 0 and err == []
    assert out.startswith("usage: seqloss ")
    commands = build_parser()._subparsers._group_actions[0].choices
    assert "demo" in commands
    for name in commands:
        assert name in out
    assert "--version" in out


def test_module_help_names_python_m():
    """Run as ``python -m seqloss``, the usage line says so."""
    r = subprocess.run([sys.executable, "-m", "seqloss", "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: python -m seqloss ")


@pytest.mark.parametrize("argv, words", [
    (["frobnicate"], ["seqloss: error:", "invalid choice: 'frobnicate'", "demo"]),
    ([], ["seqloss: error:", "required: COMMAND"]),
    (["--nope"], ["seqloss: error:", "required: COMMAND"]),
])
def test_bad_command_is_one_line(capsys, argv, words):
    """An unknown or missing command exits 2 with one 'seqloss: error:' line, no traceback."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err) == 1, err
    for w in words:
        assert w in err[0]


@pytest.mark.parametrize("argv, words", [
    (["--steps", "0"], ["argument --steps", "positive integer", "'0'"]),
    (["--steps", "three"], ["argument --steps", "positive integer", "'three'"]),
    (["--batch", "-4"], ["argument --batch", "positive integer", "'-4'"]),
    (["--log-every", "0"], ["argument --log-every", "positive integer"]),
    (["--seed", "-1"], ["argument --seed", "non-negative integer", "'-1'"]),
    (["--backend", "gpu"], ["argument --backend", "invalid choice: 'gpu'"]),
    (["--stpes", "3"], ["unrecognized arguments: --stpes"]),
])
def test_bad_demo_argument_is_one_line(capsys, argv, words):
    """A bad demo argument exits 2 with one 'seqloss demo: error:' line naming it; nothing runs."""
    code, out, err = run_cli(capsys, "demo", *argv)
    assert code == 2 and out == ""
    assert len(err) == 1, err
    assert err[0].startswith("seqloss demo: error: ")
    for w in words:
        assert w in err[0]


def test_demo_numpy_runs_and_summarises(capsys):
    """demo --steps 3 --backend numpy exits 0 and prints a legend, a row per step and a summary."""
    code, out, err = run_cli(capsys, "demo", "--steps", "3", "--log-every", "1",
                             "--backend", "numpy")
    assert code == 0, err
    assert "chosen with --backend numpy" in out and "not installed" not in out
    assert "LER:" in out and "ms/it:" in out and "not timed" in out
    rows = [line.split() for line in out.splitlines() if line[:5].strip().isdigit()]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert "summary: 3 steps" in out and "CTC loss step, mean over 3 steps" in out


def test_demo_torch_without_torch_is_one_line(capsys, monkeypatch):
    """demo --backend torch without torch exits 2 with one line giving the install commands."""
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    code, out, err = run_cli(capsys, "demo", "--steps", "1", "--backend", "torch")
    assert code == 2 and out == ""
    assert len(err) == 1, err
    assert err[0].startswith("seqloss demo: error: --backend torch needs torch")
    assert "pip install torch==2.13.0" in err[0] and 'pip install -e ".[torch]"' in err[0]


def test_demo_auto_without_torch_says_why(capsys, monkeypatch):
    """demo --backend auto without torch trains the NumPy model and names the reason."""
    monkeypatch.setitem(sys.modules, "torch", None)
    code, out, err = run_cli(capsys, "demo", "--steps", "1")
    assert code == 0, err
    assert out.startswith("backend: NumPy") and "torch cannot be imported" in out
    assert "summary: 1 steps" in out


def test_demo_run_checks_its_arguments():
    """demo.run rejects a non-positive step count and an unknown backend with ValueError."""
    with pytest.raises(ValueError, match="Expected steps to be an integer of at least 1"):
        demo.run(steps=0)
    with pytest.raises(ValueError, match="Expected backend to be one of"):
        demo.run(steps=1, backend="gpu")


def test_import_seqloss_torch_without_torch_says_pip_install():
    """import seqloss.torch without torch: ModuleNotFoundError whose message says pip install."""
    r = python("import sys\n"
               "sys.modules['torch'] = None\n"
               "try:\n"
               "    import seqloss.torch\n"
               "except ImportError as e:\n"
               "    print(type(e).__name__, e.name, '|', e)\n"
               "import seqloss\n"
               "print('numpy api ok', seqloss.ctc_loss is not None)\n")
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    assert first.startswith("ModuleNotFoundError torch | seqloss.torch needs PyTorch")
    assert "pip install torch==2.13.0" in first and 'pip install ".[torch]"' in first
    assert second == "numpy api ok True"
