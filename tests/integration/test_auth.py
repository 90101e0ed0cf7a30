"""Authentication: bearer tokens checked against a JWKS file, development tokens, API keys.

Every refused credential answers the same 401 `unauthenticated` document, whatever was wrong.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi.testclient import TestClient
from httpx import Response
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from sqlalchemy.engine import Engine

from service.cli import main
from service.domain.values import Actor, Role
from service.main import create_app
from service.security.api_keys import create_api_key, hash_key, list_api_keys, revoke_api_key
from service.security.tokens import development_token
from service.settings import DEVELOPMENT_API_KEYS, Settings, get_settings
from tests.databases import database_bytes

ISSUER = "https://idp.example.jp/realms/demo"
AUDIENCE = "kasane"
DEV_SECRET = "development-only-secret-of-at-least-32-bytes"
PARTY = {"municipality_id": "token-town", "agency_id": "token-coordinator", "role": "coordinator"}
CASE = {
    "referral": {
        "route": "direct_consultation",
        "received_on": "2026-04-01",
        "reason": "家計と介護の複合課題",
    },
    "person": {"name": "試験ハナコ"},
}
Json = dict[str, Any]


# --- keys and tokens ------------------------------------------------------------------------


def _private_keys() -> dict[str, Any]:
    return {
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "EdDSA": ed25519.Ed25519PrivateKey.generate(),
    }


_TO_JWK = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}


@pytest.fixture(scope="module")
def private_keys() -> dict[str, Any]:
    """Return one signing key per accepted algorithm (kid = the algorithm's name)."""
    return _private_keys()


def _jwks(private_keys: dict[str, Any]) -> Json:
    keys = []
    for alg, key in private_keys.items():
        jwk = _TO_JWK[alg].to_jwk(key.public_key(), as_dict=True)
        keys.append({**jwk, "kid": alg, "use": "sig", "alg": alg})
    return {"keys": keys}


def claims(**changes: Any) -> Json:
    """Return valid claims of the identity provider, with `changes` (None removes a claim)."""
    now = dt.datetime.now(dt.UTC)
    base: Json = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "exp": now + dt.timedelta(minutes=5),
        **PARTY,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(private_keys: dict[str, Any], alg: str = "RS256", kid: str | None = None, **c: Any) -> str:
    """Return a token signed with the test key of `alg`."""
    return jwt.encode(claims(**c), private_keys[alg], algorithm=alg, headers={"kid": kid or alg})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: Json, body: Json) -> str:
    payload = {k: int(v.timestamp()) if isinstance(v, dt.datetime) else v for k, v in body.items()}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def handmade_hs256(body: Json, secret: bytes, kid: str = "RS256") -> str:
    """Return an HS256 token PyJWT would refuse to make (e.g. keyed with a public key)."""
    signing_input = _segments({"alg": "HS256", "typ": "JWT", "kid": kid}, body)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def bearer(token: str) -> dict[str, str]:
    """Return the headers of a request with a bearer token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def jwks_settings(database_url: str, tmp_path: Path, private_keys: dict[str, Any]) -> Settings:
    """Return settings that trust the test keys, written as a JWKS file."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(_jwks(private_keys)), encoding="utf-8")
    return Settings(
        database_url=database_url,
        jwks_file=str(path),
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )


@pytest.fixture
def idp_client(jwks_settings: Settings) -> TestClient:
    """Return a client of an app that trusts the test identity provider."""
    return TestClient(create_app(jwks_settings))


def refused(response: Response) -> Json:
    """Assert a 401 unauthenticated problem and return its body."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Json = response.json()
    assert body["code"] == "unauthenticated"
    return body


# --- bearer tokens --------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_token_signed_with_a_jwks_key_names_the_acting_party(
    idp_client: TestClient, private_keys: dict[str, Any], alg: str
) -> None:
    """R-ORG-1, R-ORG-2: the municipality, agency and role come from the verified claims."""
    token = sign(private_keys, alg)
    created = idp_client.post("/cases", json=CASE, headers=bearer(token))
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    history = idp_client.get(f"/cases/{case_id}/events", headers=bearer(token)).json()
    assert history[0]["actor"] == PARTY
    listed = idp_client.get("/cases", headers=bearer(token)).json()
    assert [c["case_id"] for c in listed["items"]] == [case_id]
    # demo-city's development key does not see token-town's case
    other = idp_client.get(f"/cases/{case_id}", headers={"X-API-Key": "dev-coordinator"})
    assert other.status_code == 404


def _bad_tokens(keys: dict[str, Any]) -> dict[str, str]:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        keys["RS256"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    valid = sign(keys)
    head, _, signature = valid.split(".")
    tampered_body = _segments({}, claims(role="municipality")).split(".")[1]
    return {
        "expired": sign(keys, exp=past, iat=past - dt.timedelta(minutes=5)),
        "no_exp": sign(keys, exp=None),
        "wrong_audience": sign(keys, aud="another-service"),
        "no_audience": sign(keys, aud=None),
        "wrong_issuer": sign(keys, iss="https://idp.example.com/evil"),
        "no_issuer": sign(keys, iss=None),
        "wrong_key": jwt.encode(claims(), other_rsa, algorithm="RS256", headers={"kid": "RS256"}),
        "unknown_kid": sign(keys, kid="rotated-away"),
        "key_of_another_algorithm": jwt.encode(
            claims(), keys["RS256"], algorithm="RS256", headers={"kid": "ES256"}
        ),
        "alg_none": _segments({"alg": "none", "typ": "JWT"}, claims()) + ".",
        "hs256_without_dev_secret": handmade_hs256(claims(), DEV_SECRET.encode()),
        "hs256_keyed_with_the_public_key": handmade_hs256(claims(), public_pem),
        "ps256_not_accepted": jwt.encode(
            claims(), keys["RS256"], algorithm="PS256", headers={"kid": "RS256"}
        ),
        "tampered_payload": f"{head}.{tampered_body}.{signature}",
        "unknown_role": sign(keys, role="mayor"),
        "no_role": sign(keys, role=None),
        "no_municipality": sign(keys, municipality_id=None),
        "empty_agency": sign(keys, agency_id=""),
        "numeric_municipality": sign(keys, municipality_id=13),
        "not_a_jwt": "not-a-token",
    }


def test_every_bad_token_answers_the_same_401(
    idp_client: TestClient, private_keys: dict[str, Any]
) -> None:
    """Expired, wrong aud/iss, wrong key, alg none, HS256 without the development secret,
    missing or unknown claims: each is 401 unauthenticated with the body of no credential at all.
    """
    no_credential = idp_client.get("/cases")
    reference = refused(no_credential)
    for name, token in _bad_tokens(private_keys).items():
        response = idp_client.get("/cases", headers=bearer(token))
        assert refused(response) == reference, name
        assert response.headers.get("www-authenticate") == no_credential.headers.get(
            "www-authenticate"
        ), name


@pytest.fixture
def jwks_url(private_keys: dict[str, Any]) -> Iterator[str]:
    """Serve the test keys as a JWKS document on loopback; return its URL."""
    document = json.dumps(_jwks(private_keys)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    thread.join()


def test_token_verified_against_the_jwks_url(
    database_url: str, jwks_url: str, private_keys: dict[str, Any]
) -> None:
    """With KASANE_JWKS_URL the keys are fetched from the identity provider, picked by kid."""
    config = Settings(database_url=database_url, jwks_url=jwks_url, jwt_issuer=ISSUER)
    client = TestClient(create_app(config))
    assert client.get("/cases", headers=bearer(sign(private_keys, "ES256"))).status_code == 200
    refused(client.get("/cases", headers=bearer(sign(private_keys, kid="rotated-away"))))
    refused(client.get("/cases", headers=bearer(sign(private_keys, aud="another-service"))))


def test_a_bearer_token_and_an_api_key_together_are_refused(
    idp_client: TestClient, private_keys: dict[str, Any]
) -> None:
    """A request names its party by one credential; two are ambiguous and refused."""
    headers = {**bearer(sign(private_keys)), "X-API-Key": "dev-coordinator"}
    assert refused(idp_client.get("/cases", headers=headers)) == refused(idp_client.get("/cases"))


def test_dev_hs256_token_is_accepted_only_with_the_dev_secret(database_url: str) -> None:
    """HS256 is a development setting: with the secret its tokens work, without it they don't."""
    dev = Settings(database_url=database_url, jwt_dev_hs256_secret=DEV_SECRET)
    token = development_token(dev, Actor("demo-city", "demo-coordinator", Role.coordinator))
    assert TestClient(create_app(dev)).get("/cases", headers=bearer(token)).status_code == 200
    plain = TestClient(create_app(Settings(database_url=database_url)))
    refused(plain.get("/cases", headers=bearer(token)))
    other = Settings(database_url=database_url, jwt_dev_hs256_secret=DEV_SECRET + "-other")
    refused(TestClient(create_app(other)).get("/cases", headers=bearer(token)))


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_env(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., str]]:
    """Return a runner of `kasane …` on the test database; it returns what was printed."""
    monkeypatch.setenv("KASANE_DATABASE_URL", database_url)
    monkeypatch.delenv("KASANE_JWT_DEV_HS256_SECRET", raising=False)

    def run(*argv: str, status: int = 0) -> str:
        get_settings.cache_clear()
        capsys.readouterr()
        assert main(list(argv)) == status
        return capsys.readouterr().out

    yield run
    get_settings.cache_clear()


def test_cli_token_is_refused_without_the_dev_secret(cli_env: Callable[..., str]) -> None:
    """`kasane token` prints nothing unless KASANE_JWT_DEV_HS256_SECRET is set."""
    party = ("--municipality", "demo-city", "--agency", "demo-coordinator", "--role", "coordinator")
    assert cli_env("token", *party, status=2) == ""


def test_cli_token_works_against_the_app(
    cli_env: Callable[..., str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kasane token` prints a development token the app accepts when it has the same secret."""
    monkeypatch.setenv("KASANE_JWT_DEV_HS256_SECRET", DEV_SECRET)
    party = ("--municipality", "demo-city", "--agency", "demo-city-welfare", "--role", "auditor")
    token = cli_env("token", *party, "--minutes", "5").strip()
    dev = Settings(database_url=database_url, jwt_dev_hs256_secret=DEV_SECRET)
    client = TestClient(create_app(dev))
    assert client.get("/cases", headers=bearer(token)).status_code == 200
    # the auditor reads but may not refer a case
    assert client.post("/cases", json=CASE, headers=bearer(token)).status_code == 403


def test_cli_api_key_works_until_revoked(
    cli_env: Callable[..., str], client: TestClient, database_url: str
) -> None:
    """`kasane apikeys create` prints a key once; `list` never shows it; after `revoke` the very
    next request with it (same app instance: nothing cached) is 401.
    """
    party = (
        "--municipality",
        "vendor-town",
        "--agency",
        "vendor-x",
        "--role",
        "integration_client",
    )
    key = cli_env("apikeys", "create", "--name", "vendor X", *party).strip()
    assert key.startswith("kasane_") and len(key) > 40
    assert client.get("/cases", headers={"X-API-Key": key}).status_code == 200

    listing = cli_env("apikeys", "list")
    line = next(row for row in listing.splitlines() if "vendor X" in row)
    assert key not in listing
    assert line.split("\t")[2:5] == ["vendor-town", "vendor-x", "integration_client"]
    assert line.endswith("active")

    key_id = line.split("\t")[0]
    cli_env("apikeys", "revoke", key_id)
    refused(client.get("/cases", headers={"X-API-Key": key}))
    assert "revoked" in next(r for r in cli_env("apikeys", "list").splitlines() if key_id in r)
    cli_env("apikeys", "revoke", key_id, status=1)


# --- API keys -------------------------------------------------------------------------------


def test_revoked_and_unknown_keys_answer_like_no_key(client: TestClient, engine: Engine) -> None:
    """A revoked key, an unknown key and no key give the same 401 document."""
    record, key = create_api_key(engine, "t", Actor("demo-city", "x", Role.coordinator))
    assert client.get("/cases", headers={"X-API-Key": key}).status_code == 200
    assert revoke_api_key(engine, record.id)
    reference = refused(client.get("/cases"))
    assert refused(client.get("/cases", headers={"X-API-Key": key})) == reference
    assert refused(client.get("/cases", headers={"X-API-Key": key + "x"})) == reference
    assert refused(client.get("/cases", headers={"X-API-Key": ""})) == reference


def test_the_database_holds_only_the_hash_of_a_key(
    client: TestClient, engine: Engine, database_url: str
) -> None:
    """The key string is nowhere in the database; its SHA-256 is."""
    _, key = create_api_key(engine, "vendor", Actor("demo-city", "vendor", Role.integration_client))
    assert client.get("/cases", headers={"X-API-Key": key}).status_code == 200
    stored = database_bytes(database_url)  # the SQLite file, or every row on PostgreSQL
    assert key.encode() not in stored
    assert hash_key(key).encode() in stored


def test_development_keys_are_seeded_once_and_refused_when_disabled(
    database_url: str, engine: Engine
) -> None:
    """The development keys are stored hashed once however often the app starts; with
    KASANE_DEVELOPMENT_KEYS=false they are refused although still stored, and other keys work.
    """
    for _ in range(3):
        create_app(Settings(database_url=database_url))
    development = [k for k in list_api_keys(engine) if k.name.startswith("development key")]
    assert len(development) == len(DEVELOPMENT_API_KEYS)

    production = TestClient(create_app(Settings(database_url=database_url, development_keys=False)))
    for key in DEVELOPMENT_API_KEYS:
        refused(production.get("/cases", headers={"X-API-Key": key}))
    _, key = create_api_key(engine, "vendor", Actor("demo-city", "vendor", Role.integration_client))
    assert production.get("/cases", headers={"X-API-Key": key}).status_code == 200


def test_a_revoked_development_key_stays_revoked_after_a_restart(
    client: TestClient, engine: Engine, make_client: Callable[[], TestClient]
) -> None:
    """Seeding never brings a revoked key back."""
    record = next(k for k in list_api_keys(engine) if k.agency_id == "demo-audit")
    assert revoke_api_key(engine, record.id)
    refused(make_client().get("/cases", headers={"X-API-Key": "dev-auditor"}))
