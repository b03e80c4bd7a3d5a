"""The set-up scripts under tools/, run against stand-in commands.

Each test copies one script into a scratch tree and puts small shell stubs
(which log how they were called) where the script looks for the real
commands, so nothing is installed, built or stopped for real.
"""
import os
import shutil
import stat
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")

pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(TOOLS, "test.sh")),
                                reason="tools/ is not shipped with an installed package")


def _stub(path, body):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("#!/bin/bash\n" + body + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _scratch_tree(tmp_path, tool, stubbed):
    """tmp_path/tree with tools/``tool`` and a do-nothing tools/``stubbed``;
    and the log file the python stand-ins write to."""
    tree = tmp_path / "tree"
    os.makedirs(str(tree / "tools"))
    shutil.copy(os.path.join(TOOLS, tool), str(tree / "tools" / tool))
    _stub(str(tree / "tools" / stubbed), "exit 0")
    return tree, str(tmp_path / "python.log")


def _calls(log):
    with open(log) as f:
        return f.read().splitlines()


def _run(argv, env, cwd=None):
    return subprocess.run(["/bin/bash"] + argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


# -- tools/test.sh: where extra arguments go --------------------------------------------------
@pytest.fixture
def scratch_test_sh(tmp_path):
    tree, log = _scratch_tree(tmp_path, "test.sh", "bootstrap.sh")
    # The venv's python: logs its arguments and the twin switch, succeeds.
    _stub(str(tree / ".venv" / "bin" / "python"),
          'echo "NO_EXT=${PYREDIS_NO_EXTENSIONS:-} $*" >> %s' % log)
    return tree, log


def _pytest_runs(log):
    return [line for line in _calls(log) if " -m pytest " in line]


def test_test_sh_without_arguments_runs_bench_smoke_and_both_suites(scratch_test_sh):
    tree, log = scratch_test_sh
    proc = _run(["tools/test.sh"], dict(os.environ, PYREDIS_NO_EXTENSIONS=""), str(tree))
    assert proc.returncode == 0, proc.stderr
    runs = _pytest_runs(log)
    assert len(runs) == 3
    assert " bench -q --benchmark-disable" in runs[0]
    assert runs[1].startswith("NO_EXT= ") and runs[1].endswith(" tests -q")
    assert runs[2].startswith("NO_EXT=1 ") and runs[2].endswith(" tests -q")


def test_test_sh_arguments_go_to_the_suite_runs_only(scratch_test_sh):
    tree, log = scratch_test_sh
    proc = _run(["tools/test.sh", "-k", "url"], dict(os.environ, PYREDIS_NO_EXTENSIONS=""),
                str(tree))
    assert proc.returncode == 0, proc.stderr
    runs = _pytest_runs(log)
    assert not any(" bench " in run for run in runs), runs  # no "-k url" deselecting it all
    assert len(runs) == 2
    assert all(run.endswith(" tests -q -k url") for run in runs), runs
    assert "benchmarks: skipped" in proc.stdout


# -- tools/install-redis.sh: never stops a server it did not start ----------------------------
@pytest.fixture
def apt_machine(tmp_path):
    """A PATH with apt-get, dpkg and service stubs; redis-server and redis-cli
    present and the redis-server package installed, redis-sentinel missing."""
    bin_dir = tmp_path / "bin"
    log = tmp_path / "calls.log"
    installed = tmp_path / "installed"
    installed.write_text("redis-server\nredis-tools\n")
    for name in ("redis-server", "redis-cli"):
        _stub(str(bin_dir / name), "exit 0")
    _stub(str(bin_dir / "id"), 'echo 0')
    grep, chmod = shutil.which("grep"), shutil.which("chmod")  # PATH holds only the stubs
    _stub(str(bin_dir / "dpkg"), '%s -qx "$2" %s' % (grep, installed))
    # apt-get install: the packages become installed, redis-sentinel appears.
    _stub(str(bin_dir / "apt-get"),
          'echo "apt-get $*" >> {log}\n'
          'if [ "$1" = install ]; then\n'
          '  for p in "$@"; do case "$p" in redis-*) echo "$p" >> {inst};; esac; done\n'
          '  printf "#!/bin/bash\\nexit 0\\n" > {bin}/redis-sentinel; {chmod} +x {bin}/redis-sentinel\n'
          'fi'.format(log=log, inst=installed, bin=bin_dir, chmod=chmod))
    _stub(str(bin_dir / "service"), 'echo "service $*" >> %s' % log)
    env = dict(os.environ, PATH=str(bin_dir))
    return env, str(log), installed


def test_install_redis_stops_only_the_services_it_installed(apt_machine, tmp_path):
    env, log, _ = apt_machine
    proc = _run([os.path.join(TOOLS, "install-redis.sh")], env)
    assert proc.returncode == 0, proc.stderr
    calls = _calls(log)
    assert any(c.startswith("apt-get install") for c in calls), calls
    assert "service redis-sentinel stop" in calls  # new: Debian started it, we stop it
    assert "service redis-server stop" not in calls  # the user's: left running


def test_install_redis_stops_both_services_on_a_machine_without_redis(apt_machine):
    env, log, installed = apt_machine
    installed.write_text("")
    os.remove(os.path.join(env["PATH"], "redis-server"))
    os.remove(os.path.join(env["PATH"], "redis-cli"))
    # apt-get brings redis-server too on this machine.
    with open(os.path.join(env["PATH"], "apt-get"), "a") as f:
        f.write('[ "$1" = install ] && printf "#!/bin/bash\\nexit 0\\n" > %s/redis-server'
                ' && %s +x %s/redis-server\nexit 0\n'
                % (env["PATH"], shutil.which("chmod"), env["PATH"]))
    proc = _run([os.path.join(TOOLS, "install-redis.sh")], env)
    assert proc.returncode == 0, proc.stderr
    calls = _calls(log)
    assert "service redis-server stop" in calls and "service redis-sentinel stop" in calls


# -- tools/bootstrap.sh: PYTHON=... ----------------------------------------------------------
def _fake_python(path, identity, log):
    """A python stand-in: answers the identity query with ``identity``, makes
    a venv (another stand-in with the same identity) on ``-m venv DIR``."""
    _stub(path,
          'echo "{path} $*" >> {log}\n'
          'case "$1" in\n'
          '  -c) echo "{identity}";;\n'
          '  -m) if [ "$2" = venv ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; fi;;\n'
          'esac\n'
          'exit 0'.format(path=path, log=log, identity=identity))


@pytest.fixture
def bootstrap_tree(tmp_path):
    tree, log = _scratch_tree(tmp_path, "bootstrap.sh", "install-redis.sh")
    bin_dir = tmp_path / "bin"
    _stub(str(bin_dir / "redis-server"), 'echo "Redis server v=7.0.0 sha=0"')
    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]))
    env.pop("PYTHON", None)
    _fake_python(str(tmp_path / "old-python"), "/old 3.11.7", log)
    _fake_python(str(tmp_path / "new-python"), "/new 3.13.0", log)
    proc = _run(["tools/bootstrap.sh"], dict(env, PYTHON=str(tmp_path / "old-python")),
                str(tree))
    assert proc.returncode == 0, proc.stderr
    (tree / ".venv" / "marker").write_text("made from old-python")
    return tree, env, tmp_path


def test_bootstrap_keeps_the_venv_without_python_or_with_the_same_one(bootstrap_tree):
    tree, env, tmp_path = bootstrap_tree
    for extra in ({}, {"PYTHON": str(tmp_path / "old-python")}):
        proc = _run(["tools/bootstrap.sh"], dict(env, **extra), str(tree))
        assert proc.returncode == 0, proc.stderr
        assert (tree / ".venv" / "marker").exists()
        assert "rebuilding" not in proc.stderr


def test_bootstrap_rebuilds_the_venv_for_another_python(bootstrap_tree):
    tree, env, tmp_path = bootstrap_tree
    proc = _run(["tools/bootstrap.sh"], dict(env, PYTHON=str(tmp_path / "new-python")),
                str(tree))
    assert proc.returncode == 0, proc.stderr
    assert not (tree / ".venv" / "marker").exists()
    assert "/new 3.13.0: rebuilding .venv" in proc.stderr
    assert "made from /old 3.11.7" in proc.stderr


def test_bootstrap_refuses_a_python_that_does_not_run(bootstrap_tree):
    tree, env, tmp_path = bootstrap_tree
    proc = _run(["tools/bootstrap.sh"], dict(env, PYTHON=str(tmp_path / "missing-python")),
                str(tree))
    assert proc.returncode != 0
    assert "does not run" in proc.stderr
    assert (tree / ".venv" / "marker").exists()
