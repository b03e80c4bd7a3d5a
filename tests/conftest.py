"""Shared fixtures: the compiled/pure twin fixture and real redis-server processes."""
import dataclasses
import importlib

import pytest

from servers import RedisServer


def pytest_addoption(parser):
    parser.addoption(
        "--no-c-extensions",
        action="store_true",
        default=False,
        help="Do not run tests against the compiled twins (for a pure-only install)",
    )


@dataclasses.dataclass(frozen=True)
class Twin:
    """One implementation of pyredis' compiled modules: the C one or the pure one."""

    tag: str
    compiled: bool

    def load(self, dotted):
        """``twin.load("pyredis.protocol._reader")`` -> that module or its ``_py`` twin."""
        return importlib.import_module(dotted if self.compiled else dotted + "_py")

    def __str__(self):
        return self.tag


COMPILED = Twin("c", True)
PURE = Twin("py", False)


@pytest.fixture(
    scope="session",
    params=[pytest.param(COMPILED, marks=pytest.mark.c_extension, id="c"),
            pytest.param(PURE, id="py")],
)
def twin(request):
    """Every behaviour test of a compiled module takes this: both twins run it.

    A compiled module that fails to import is a test error, never a skip.
    """
    return request.param


def pytest_collection_modifyitems(config, items):
    if config.getoption("--no-c-extensions"):
        skip = pytest.mark.skip(reason="--no-c-extensions")
        for item in items:
            if "c_extension" in item.keywords:
                item.add_marker(skip)


def _start(**kwargs):
    try:
        return RedisServer(**kwargs).start()
    except RuntimeError as exc:  # a missing server fails the run, never skips it
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def redis_server():
    """A plain redis-server on a free loopback port plus a unix socket."""
    server = _start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_auth_server():
    """requirepass ``secret``; ACL user ``alice`` / ``wonderland`` with full access."""
    server = _start(password="secret", users={"alice": "wonderland"})
    yield server
    server.stop()


@pytest.fixture
def redis(redis_server):
    """The plain server, emptied before the test."""
    redis_server.flushall()
    return redis_server


@pytest.fixture(scope="session")
def redis_tls_server(tmp_path_factory):
    """A redis-server with a TLS port (``tls_port``) whose certificate is signed by
    a throwaway CA made with trustme; ``ca_file`` / ``ca`` are that CA (PEM path /
    trustme.CA, whose ``configure_trust(ctx)`` makes an SSLContext trust it).
    Plain TCP stays on ``port``."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    paths = {name: str(folder / (name + ".pem")) for name in ("cert", "key", "ca")}
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(paths["cert"], append=True)
    cert.private_key_pem.write_to_path(paths["key"])
    ca.cert_pem.write_to_path(paths["ca"])
    server = _start(tls=paths, unix=False)
    server.ca = ca
    server.ca_file = paths["ca"]
    yield server
    server.stop()
