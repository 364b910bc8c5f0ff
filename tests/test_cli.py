"""``python -m fastgd``: the demo and info commands run end to end; every command and option is described."""

import argparse

import pytest

import fastgd
from fastgd import __main__ as cli


def test_info_lists_backends_and_versions(run_python):
    result = run_python("-m", "fastgd", "info")
    assert result.returncode == 0, result.stderr
    assert f"fastgd {fastgd.__version__}" in result.stdout
    assert "available backends (default order): " + ", ".join(fastgd.available_backends()) in result.stdout


def test_demo_on_a_small_problem_agrees_across_backends(run_python, tmp_path):
    plot = tmp_path / "curves.png"
    result = run_python("-m", "fastgd", "demo", "--n-samples", "2001", "--n-features", "7", "--repeat", "2",
                        "--dtype", "float32", "--epochs", "2", "--plot", str(plot))
    assert result.returncode == 0, result.stdout + result.stderr
    for backend in fastgd.available_backends():
        assert sum(line.startswith(backend + " ") for line in result.stdout.splitlines()) == 2
        assert f"L-BFGS ({backend})" in result.stdout and f"2 epochs ({backend})" in result.stdout
    assert "Every backend agrees with the NumPy reference." in result.stdout
    assert plot.stat().st_size > 1000


def test_demo_rejects_bad_arguments(run_python):
    result = run_python("-m", "fastgd", "demo", "--dtype", "float16")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def _commands():
    """The top-level parser and each command's parser, by name."""
    parser = cli._parser()
    (subparsers,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return {"": parser, **subparsers.choices}


def _help_text(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"] if command else ["--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_every_option_of_every_command_has_help_and_each_command_a_description():
    commands = _commands()
    assert set(commands) == {"", "demo", "bench", "info"}
    for name, parser in commands.items():
        assert parser.description and len(parser.description) > 30, name
        for action in parser._actions:
            if action.option_strings:
                assert action.help and action.help != argparse.SUPPRESS, f"{name} {action.option_strings}"


@pytest.mark.parametrize("command", ["", "demo", "bench", "info"])
def test_help_is_plain_text_with_the_defaults(command, capsys):
    text = _help_text(command, capsys)
    for markup in ("``", ":func:", ":mod:", ":class:", ":meth:", ":math:", "**"):
        assert markup not in text, markup
    defaults = {"": ["python -m fastgd bench --scale small"], "demo": ["(default: 1000000)", "(default: float64)",
                "(default: log_loss squared_error)", "(default: every core"], "bench": ["(default: small)",
                "(default: 0.5)", "(default: loss optimizer fit memory)"], "info": ["versions"]}
    for expected in defaults[command]:
        assert expected in " ".join(text.split()), expected
