"""The address every limit counts against: REMOTE_ADDR, or what trusted proxies pass on."""

import pytest
from django.test import RequestFactory

from analytics.limits import client_ip
from conftest import make_user

PROXY = "10.0.0.5"


def address_of(remote_addr="192.0.2.10", forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote_addr, headers=headers))


def test_the_connection_address_by_default_whatever_the_headers_say():
    assert address_of("192.0.2.10", forwarded_for="198.51.100.1") == "192.0.2.10"


@pytest.fixture
def behind_proxies(settings):
    def behind(count):
        settings.CLIENT_IP_HEADER = "X-Forwarded-For"
        settings.TRUSTED_PROXIES = count

    return behind


def test_behind_one_proxy_the_address_it_appended(behind_proxies):
    behind_proxies(1)
    assert address_of(PROXY, forwarded_for="198.51.100.1") == "198.51.100.1"
    # What the client wrote itself stands further left, and is not believed.
    assert address_of(PROXY, forwarded_for="203.0.113.66, 198.51.100.1") == "198.51.100.1"


def test_behind_two_proxies_the_address_the_outer_one_appended(behind_proxies):
    behind_proxies(2)
    assert address_of(PROXY, forwarded_for="203.0.113.66, 198.51.100.1, 10.0.0.9") == "198.51.100.1"


def test_a_request_that_did_not_pass_every_proxy_counts_as_the_connection(behind_proxies):
    behind_proxies(2)
    assert address_of(PROXY, forwarded_for="198.51.100.1") == PROXY
    assert address_of(PROXY) == PROXY


def test_a_malformed_address_is_unknown(behind_proxies):
    behind_proxies(1)
    assert address_of(PROXY, forwarded_for="unknown") is None
    assert address_of("") is None


def test_an_ipv6_address_stands_for_its_64_network():
    assert address_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::"
    assert address_of("2001:db8:1:3::1") == "2001:db8:1:3::"
    assert address_of("::ffff:192.0.2.7") == "192.0.2.7"


def test_logins_are_counted_per_forwarded_address_behind_a_proxy(
    client, behind_proxies, settings, bob
):
    """django-axes counts by the same address: one attacker behind the proxy does not lock
    out everyone else who comes through it."""
    behind_proxies(1)

    def log_in(email, password, forwarded_for):
        return client.post(
            "/login/", {"username": email, "password": password},
            REMOTE_ADDR=PROXY, headers={"X-Forwarded-For": forwarded_for},
        )

    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(make_user(f"victim{n}").email, "wrong-guess", "203.0.113.9")
    assert log_in(bob.email, "bob-password-1", "203.0.113.9").status_code == 429
    assert log_in(bob.email, "bob-password-1", "198.51.100.7").status_code == 302
