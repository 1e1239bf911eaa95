import pytest

from weaksup.bench import localize


def pytest_configure(config):
    localize._single_thread_peers()  # peers run on one thread, as in `weaksup bench`


