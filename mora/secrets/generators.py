"""The catalogue of secret generators (`password(...)`, `tls_cert(...)`, `wireguard()` ...).

The type checker imports this module on every `mora check`, so it only uses the standard library
at import time: cryptography, bcrypt and argon2 are imported inside the functions that need them.
"""

from __future__ import annotations

import functools
import re
from types import MappingProxyType

from mora.record import Record, field
from mora.secrets.errors import GeneratorError

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime
    from typing import Any, TypeVar

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "GENERATORS",
    "PARAM_TYPES",
    "Entropy",
    "Generator",
    "GeneratorParam",
    "SeededEntropy",
    "SystemEntropy",
    "join_parts",
]

#: the parameter types the language can pass; "secret" is a reference to another secret
PARAM_TYPES = frozenset({"int", "string", "bool", "list(string)", "secret"})

if TYPE_CHECKING:
    T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Randomness
# --------------------------------------------------------------------------------------------


class Entropy:
    """Where a generator gets random bytes and the current time.

    Real secrets always use `SystemEntropy`; `SeededEntropy` exists so tests and golden outputs
    can be reproduced byte for byte.
    """

    seeded = False

    def token_bytes(self, n: int) -> bytes:
        raise NotImplementedError

    def now(self) -> datetime:
        raise NotImplementedError

    def below(self, n: int) -> int:
        """A uniform integer in [0, n), by rejection sampling so no value is favoured."""
        if n <= 0:
            raise ValueError("below() needs a positive bound")
        nbytes = (n.bit_length() + 7) // 8 + 1
        limit = (256**nbytes // n) * n
        while True:
            x = int.from_bytes(self.token_bytes(nbytes), "big")
            if x < limit:
                return x % n

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.below(len(seq))]


class SystemEntropy(Entropy):
    """The operating system's CSPRNG (what the `secrets` module uses) and the real clock."""

    # `secrets`, `datetime`, `hashlib` and the like are imported where they are used: `mora check`
    # imports this module for its catalogue and never generates (docs/performance.md).
    def token_bytes(self, n: int) -> bytes:
        import secrets

        return secrets.token_bytes(n)

    def below(self, n: int) -> int:
        import secrets

        return secrets.randbelow(n)

    def now(self) -> datetime:
        from datetime import UTC, datetime

        return datetime.now(UTC).replace(microsecond=0)


class SeededEntropy(Entropy):
    """A deterministic stream (HMAC-SHA256 in counter mode) for tests only, never for real sites.

    `label` separates the streams of different secrets that share one seed.
    """

    seeded = True

    def __init__(self, seed: bytes, label: str = "") -> None:
        import hashlib

        self._key = hashlib.sha256(b"mora-seeded-entropy\0" + seed).digest()
        self._label = label.encode("utf-8")
        self._counter = 0
        self._buffer = b""

    def token_bytes(self, n: int) -> bytes:
        import hashlib
        import hmac

        while len(self._buffer) < n:
            block = self._label + b"\0" + self._counter.to_bytes(8, "big")
            self._buffer += hmac.new(self._key, block, hashlib.sha256).digest()
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def now(self) -> datetime:
        """A fixed "now", so certificates made from a seed are reproducible."""
        from datetime import UTC, datetime

        return datetime(2025, 1, 1, tzinfo=UTC)


SYSTEM_ENTROPY = SystemEntropy()


# --------------------------------------------------------------------------------------------
# The catalogue types
# --------------------------------------------------------------------------------------------


class GeneratorParam(Record, frozen=True):
    """One parameter of a generator function, as the language sees it."""

    name: str
    type: str
    default: object | None = None
    required: bool = False
    doc: str = ""


if TYPE_CHECKING:
    Impl = Callable[[Mapping[str, Any], Mapping[str, str], Entropy], dict[str, str]]
    Check = Callable[[Mapping[str, Any]], None]


class Generator(Record, frozen=True):
    """A secret generator: its signature for the checker, and how to make the value."""

    name: str
    params: tuple[GeneratorParam, ...]
    parts: tuple[str, ...]
    public_parts: frozenset[str]
    doc: str
    impl: Impl = field(repr=False, compare=False)
    check: Check | None = field(default=None, repr=False, compare=False)

    @property
    def derived(self) -> bool:
        """Derived secrets are computed from other secrets and follow them when they change."""
        return any(p.type == "secret" for p in self.params)

    @property
    def secret_params(self) -> tuple[GeneratorParam, ...]:
        return tuple(p for p in self.params if p.type == "secret")

    @property
    def plain_params(self) -> tuple[GeneratorParam, ...]:
        return tuple(p for p in self.params if p.type != "secret")

    def param(self, name: str) -> GeneratorParam | None:
        return next((p for p in self.params if p.name == name), None)

    def bind(
        self, positional: Sequence[object] = (), named: Mapping[str, object] | None = None
    ) -> dict[str, object]:
        """Map a call's positional and named arguments to parameter names (no validation of values).

        Secret-typed parameters are included; the caller moves them into `sources`.
        """
        named = dict(named or {})
        if len(positional) > len(self.params):
            raise GeneratorError(
                f"{self.name}() takes at most {len(self.params)} positional argument(s), "
                f"got {len(positional)}"
            )
        bound: dict[str, object] = {}
        for param, value in zip(self.params, positional, strict=False):
            bound[param.name] = value
        for key, value in named.items():
            if self.param(key) is None:
                raise GeneratorError(f"{self.name}() has no parameter `{key}`{self._known()}")
            if key in bound:
                raise GeneratorError(f"{self.name}() got parameter `{key}` twice")
            bound[key] = value
        return bound

    def normalize_args(self, args: Mapping[str, object]) -> dict[str, object]:
        """Check the plain arguments, fill defaults; the result is what the store records.

        Cheap (no crypto imports), so the type checker can call it on literal arguments.
        """
        out: dict[str, object] = {}
        for key in args:
            param = self.param(key)
            if param is None:
                raise GeneratorError(f"{self.name}() has no parameter `{key}`{self._known()}")
            if param.type == "secret":
                raise GeneratorError(
                    f"{self.name}(): `{key}` must be a reference to a secret (e.g. secret.name)"
                )
        for param in self.plain_params:
            if param.name in args:
                out[param.name] = _check_type(self.name, param, args[param.name])
            elif param.required:
                raise GeneratorError(f"{self.name}() needs `{param.name}`")
            else:
                out[param.name] = _copy_json(param.default)
        if self.check is not None:
            self.check(out)
        return out

    def generate(
        self,
        args: Mapping[str, object],
        sources: Mapping[str, str],
        *,
        entropy: Entropy | None = None,
    ) -> dict[str, str]:
        """Make a fresh value: {part: text}. Randomness comes from the system unless told."""
        plain = self.normalize_args(args)
        wanted = {p.name for p in self.secret_params}
        if set(sources) != wanted:
            missing = sorted(wanted - set(sources))
            extra = sorted(set(sources) - wanted)
            detail = []
            if missing:
                detail.append("missing " + ", ".join(f"`{m}`" for m in missing))
            if extra:
                detail.append("unexpected " + ", ".join(f"`{e}`" for e in extra))
            raise GeneratorError(f"{self.name}(): secret arguments {'; '.join(detail)}")
        result = self.impl(plain, sources, entropy or SYSTEM_ENTROPY)
        if tuple(sorted(result)) != tuple(sorted(self.parts)):  # pragma: no cover - our bug
            raise GeneratorError(f"{self.name}() produced unexpected parts")
        return {part: result[part] for part in self.parts}

    def _known(self) -> str:
        if not self.params:
            return " (it takes no parameters)"
        return " (parameters: " + ", ".join(p.name for p in self.params) + ")"


def _copy_json(value: object) -> object:
    return list(value) if isinstance(value, list | tuple) else value


def _check_type(gen: str, param: GeneratorParam, value: object) -> object:
    bad = False
    if param.type == "int":
        bad = not isinstance(value, int) or isinstance(value, bool)
    elif param.type == "string":
        bad = not isinstance(value, str)
    elif param.type == "bool":
        bad = not isinstance(value, bool)
    elif param.type == "list(string)":
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return list(value)
        bad = True
    if bad:
        raise GeneratorError(
            f"{gen}(): `{param.name}` must be {_type_words(param.type)}, got {_describe(value)}"
        )
    return value


def _type_words(t: str) -> str:
    return {
        "int": "an integer",
        "string": "a string",
        "bool": "true or false",
        "list(string)": "a list of strings",
    }.get(t, t)


def _describe(value: object) -> str:
    # Plain arguments are not secret, but keep messages short anyway.
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _int_range(gen: str, args: Mapping[str, Any], name: str, lo: int, hi: int) -> None:
    value = args[name]
    if not lo <= value <= hi:
        raise GeneratorError(f"{gen}(): `{name}` must be between {lo} and {hi}, got {value}")


def join_parts(parts: Mapping[str, str]) -> str:
    """The text a whole-secret reference (`secret.ca`) stands for when used as a source.

    A single-valued secret is its value; a multi-part one (a CA: key + cert) is canonical JSON
    of its parts, so a generator can take them all and a fingerprint covers every part.
    """
    import json

    if set(parts) == {"value"}:
        return parts["value"]
    return json.dumps(dict(parts), sort_keys=True, separators=(",", ":"))


def _source(gen: str, sources: Mapping[str, str], name: str) -> bytes:
    value = sources[name]
    if value == "":
        raise GeneratorError(f"{gen}(): the source secret `{name}` is empty")
    return value.encode("utf-8")


# --------------------------------------------------------------------------------------------
# Random values
# --------------------------------------------------------------------------------------------

# The `string` module's constants, written out (importing it compiles a regex at start-up);
# tests/test_startup.py compares them with the module's.
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_LETTERS = _LOWER + _LOWER.upper()
_DIGITS = "0123456789"
_PUNCTUATION = r"""!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"""

ALPHABETS: Mapping[str, str] = {
    "alphanumeric": _LETTERS + _DIGITS,
    # every printable ASCII character except space: strongest, but quote it in shells
    "ascii": _LETTERS + _DIGITS + _PUNCTUATION,
    "urlsafe": _LETTERS + _DIGITS + "-_",
    "lowercase": _LOWER + _DIGITS,
    "digits": _DIGITS,
    "hex": "0123456789abcdef",
}


def _check_password(args: Mapping[str, Any]) -> None:
    _int_range("password", args, "length", 8, 4096)
    alphabet, chars = args["alphabet"], args["chars"]
    if chars:
        if alphabet != "alphanumeric":
            raise GeneratorError("password(): give `alphabet` or `chars`, not both")
        if len(set(chars)) != len(chars):
            dup = next(c for c in chars if chars.count(c) > 1)
            raise GeneratorError(f"password(): `chars` repeats {dup!r} (it would be favoured)")
        if any(not c.isprintable() or c.isspace() for c in chars):
            raise GeneratorError("password(): `chars` may only hold visible characters")
        if len(chars) < 2:
            raise GeneratorError("password(): `chars` needs at least 2 characters")
    elif alphabet not in ALPHABETS:
        raise GeneratorError(
            f"password(): unknown alphabet {alphabet!r} (known: {', '.join(ALPHABETS)}; "
            "or give your own with `chars`)"
        )


def _password(args: Mapping[str, Any], _src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    pool = args["chars"] or ALPHABETS[args["alphabet"]]
    return {"value": "".join(ent.choice(pool) for _ in range(args["length"]))}


def _check_bytes(name: str) -> Check:
    def check(args: Mapping[str, Any]) -> None:
        _int_range(name, args, "bytes", 8, 1024)

    return check


def _hex(args: Mapping[str, Any], _src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    return {"value": ent.token_bytes(args["bytes"]).hex()}


def _base64(args: Mapping[str, Any], _src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    import base64

    text = base64.b64encode(ent.token_bytes(args["bytes"])).decode("ascii")
    return {"value": text if args["padding"] else text.rstrip("=")}


def _base64url(args: Mapping[str, Any], _src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    import base64

    text = base64.urlsafe_b64encode(ent.token_bytes(args["bytes"])).decode("ascii")
    return {"value": text if args.get("padding", False) else text.rstrip("=")}


def _uuid(_args: Mapping[str, Any], _src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    import uuid

    return {"value": str(uuid.UUID(bytes=ent.token_bytes(16), version=4))}


# --------------------------------------------------------------------------------------------
# Derived digests
# --------------------------------------------------------------------------------------------

_STD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT_B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT = str.maketrans(_STD_B64, _BCRYPT_B64)
BCRYPT_MAX_BYTES = 72


def adapted_b64(data: bytes) -> str:
    """passlib's / go-crypt's "adapted base64": standard alphabet, `+` -> `.`, no padding."""
    import base64

    return base64.b64encode(data).decode("ascii").rstrip("=").replace("+", ".")


def _check_bcrypt(gen: str, default_variant: str | None) -> Check:
    def check(args: Mapping[str, Any]) -> None:
        _int_range(gen, args, "cost", 4, 31)
        if default_variant is None:
            return
        if args["variant"] not in ("2b", "2y", "2a"):
            raise GeneratorError(f'{gen}(): `variant` must be "2b", "2y" or "2a"')

    return check


def _bcrypt_hash(gen: str, secret: bytes, cost: int, variant: str, ent: Entropy) -> str:
    import base64

    import bcrypt

    if len(secret) > BCRYPT_MAX_BYTES:
        # bcrypt ignores everything after 72 bytes; refuse rather than silently truncate.
        raise GeneratorError(
            f"{gen}(): bcrypt uses only the first {BCRYPT_MAX_BYTES} bytes of its input and the "
            f"source secret is {len(secret)} bytes; use a shorter source or argon2id()"
        )
    # The salt comes from `ent` (not bcrypt.gensalt) so seeded runs are reproducible.
    salt_text = base64.b64encode(ent.token_bytes(16)).decode("ascii")[:22].translate(_TO_BCRYPT)
    salt = f"$2b${cost:02d}${salt_text}".encode("ascii")
    digest = bcrypt.hashpw(secret, salt).decode("ascii")
    # $2a$, $2b$ and $2y$ are the same algorithm for inputs bcrypt accepts; only the tag differs.
    return f"${variant}$" + digest[4:]


def _bcrypt(args: Mapping[str, Any], src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    secret = _source("bcrypt", src, "source")
    return {"value": _bcrypt_hash("bcrypt", secret, args["cost"], args["variant"], ent)}


def _check_htpasswd(args: Mapping[str, Any]) -> None:
    _check_bcrypt("htpasswd", None)(args)
    user = args["user"]
    if not user or ":" in user or any(not c.isprintable() for c in user):
        raise GeneratorError(
            "htpasswd(): `user` must be a non-empty name without `:` or control characters"
        )


def _htpasswd(args: Mapping[str, Any], src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    secret = _source("htpasswd", src, "source")
    # $2y$ is what Apache's `htpasswd -B` writes, so every htpasswd reader takes it: apr-util,
    # nginx (libxcrypt), Traefik and Caddy (Go's bcrypt); $2b$ is newer and less widely known.
    return {"value": f"{args['user']}:" + _bcrypt_hash("htpasswd", secret, args["cost"], "2y", ent)}


def _check_pbkdf2(args: Mapping[str, Any]) -> None:
    _int_range("pbkdf2_sha512", args, "iterations", 1000, 100_000_000)
    _int_range("pbkdf2_sha512", args, "salt_bytes", 8, 64)


def _pbkdf2(args: Mapping[str, Any], src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    secret = _source("pbkdf2_sha512", src, "source")
    salt = ent.token_bytes(args["salt_bytes"])
    rounds = args["iterations"]
    import hashlib

    digest = hashlib.pbkdf2_hmac("sha512", secret, salt, rounds)
    # Authelia (go-crypt) and passlib read exactly this modular-crypt form.
    return {"value": f"$pbkdf2-sha512${rounds}${adapted_b64(salt)}${adapted_b64(digest)}"}


def _check_argon2(args: Mapping[str, Any]) -> None:
    _int_range("argon2id", args, "time_cost", 1, 100)
    _int_range("argon2id", args, "parallelism", 1, 64)
    _int_range("argon2id", args, "memory_kib", 8, 4 * 1024 * 1024)
    _int_range("argon2id", args, "hash_len", 16, 128)
    _int_range("argon2id", args, "salt_bytes", 8, 64)
    if args["memory_kib"] < 8 * args["parallelism"]:
        raise GeneratorError("argon2id(): `memory_kib` must be at least 8 × `parallelism`")


def _argon2id(args: Mapping[str, Any], src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    from argon2.low_level import Type, hash_secret

    secret = _source("argon2id", src, "source")
    encoded = hash_secret(
        secret,
        ent.token_bytes(args["salt_bytes"]),
        time_cost=args["time_cost"],
        memory_cost=args["memory_kib"],
        parallelism=args["parallelism"],
        hash_len=args["hash_len"],
        type=Type.ID,
    )
    return {"value": encoded.decode("ascii")}


# --------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------

# ECDSA P-256 rather than Ed25519: every TLS stack a homelab meets (browsers, Go, OpenSSL, Java,
# Android, embedded clients) accepts P-256 certificates, while Ed25519 certificates are still
# rejected by browsers. It is also far cheaper than RSA for the same strength.
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
# compiled on first use (re's cache): only the TLS generators read them
_DNS_LABEL = r"^(?!-)[a-z0-9-]{1,63}(?<!-)$"
_PEM_BLOCK = r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?\r?\n-----END \1-----"
_BACKDATE_HOURS = 1  # tolerate clocks that run a little behind


def _check_common_name(gen: str, value: str) -> None:
    if not 1 <= len(value) <= 64:
        raise GeneratorError(f"{gen}(): `common_name` must be 1 to 64 characters")


def _check_dns(gen: str, name: str, *, wildcard: bool) -> None:
    host = name.lower()
    if wildcard and host.startswith("*."):
        host = host[2:]
    if not host.isascii():
        raise GeneratorError(f"{gen}(): host {name!r} is not ASCII; write it in punycode (xn--...)")
    labels = host.split(".")
    if len(host) > 253 or not all(re.match(_DNS_LABEL, label) for label in labels):
        raise GeneratorError(f"{gen}(): {name!r} is not a valid host name or IP address")


def _check_tls_ca(args: Mapping[str, Any]) -> None:
    _check_common_name("tls_ca", args["common_name"])
    _int_range("tls_ca", args, "days", 1, 36500)
    for domain in args["permitted_domains"]:
        _check_dns("tls_ca", domain, wildcard=False)


def _check_tls_cert(args: Mapping[str, Any]) -> None:
    import ipaddress  # here and in _tls_cert only: ~1-2 ms of every check's start-up

    _int_range("tls_cert", args, "days", 1, 3650)
    hosts = args["hosts"]
    if not hosts:
        raise GeneratorError("tls_cert(): `hosts` needs at least one host name or IP address")
    seen: set[str] = set()
    for host in hosts:
        if host.lower() in seen:
            raise GeneratorError(f"tls_cert(): host {host!r} is listed twice")
        seen.add(host.lower())
        try:
            ipaddress.ip_address(host)
        except ValueError:
            _check_dns("tls_cert", host, wildcard=True)
    if args["common_name"]:
        _check_common_name("tls_cert", args["common_name"])


def _ec_key(ent: Entropy) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    # FIPS 186-4 B.4.1: 64 extra random bits, reduce mod n-1, add 1 -> uniform private scalar.
    scalar = int.from_bytes(ent.token_bytes(40), "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _serial(ent: Entropy) -> int:
    # 159 random bits: positive and below the 20-octet limit of RFC 5280.
    return (int.from_bytes(ent.token_bytes(20), "big") >> 1) or 1


def _key_pem(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode("ascii")


def _cert_pem(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _sign(builder: x509.CertificateBuilder, key: Any, ent: Entropy) -> x509.Certificate:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

    algorithm = (
        None
        if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
        else (hashes.SHA256())
    )
    if ent.seeded and isinstance(key, ec.EllipticCurvePrivateKey):
        try:  # RFC 6979 signatures, so seeded certificates are reproducible (cryptography >= 44)
            return builder.sign(key, algorithm, ecdsa_deterministic=True)
        except TypeError:  # pragma: no cover - older cryptography
            pass
    return builder.sign(key, algorithm)


def _tls_ca(args: Mapping[str, Any], _src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    from datetime import timedelta

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    key = _ec_key(ent)
    public = key.public_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, args["common_name"])])
    now = ent.now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(_serial(ent))
        .not_valid_before(now - timedelta(hours=_BACKDATE_HOURS))
        .not_valid_after(now + timedelta(days=args["days"]))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
    )
    if args["permitted_domains"]:
        # A leaked homelab CA can then only impersonate the site's own domains.
        builder = builder.add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName(d.lower()) for d in args["permitted_domains"]],
                excluded_subtrees=None,
            ),
            critical=True,
        )
    cert = _sign(builder, key, ent)
    return {"key": _key_pem(key), "cert": _cert_pem(cert)}


def _load_ca(text: str) -> tuple[Any, x509.Certificate]:
    """The CA key and certificate from a tls_ca() secret (JSON of parts) or a PEM bundle."""
    import json

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    problem = (
        "tls_cert(): `ca` must be a tls_ca() secret, or a PEM bundle holding an unencrypted "
        "private key and its CA certificate"
    )
    key_pem = cert_pem = None
    try:
        parts = json.loads(text)
    except ValueError:
        parts = None
    if isinstance(parts, dict):
        key_pem, cert_pem = parts.get("key"), parts.get("cert")
    else:
        for match in re.finditer(_PEM_BLOCK, text, re.DOTALL):
            if match.group(1).endswith("PRIVATE KEY") and key_pem is None:
                key_pem = match.group(0)
            elif match.group(1) == "CERTIFICATE" and cert_pem is None:
                cert_pem = match.group(0)
    if not isinstance(key_pem, str) or not isinstance(cert_pem, str):
        raise GeneratorError(problem)
    try:
        key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
        cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeError):
        raise GeneratorError(problem) from None  # `from None`: no key material in a traceback
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = basic.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise GeneratorError("tls_cert(): the `ca` certificate is not a CA (basicConstraints)")
    if key.public_key() != cert.public_key():
        raise GeneratorError("tls_cert(): the `ca` private key does not match its certificate")
    return key, cert


def _tls_cert(args: Mapping[str, Any], src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    import ipaddress
    from datetime import timedelta

    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key, ca_cert = _load_ca(src["ca"])
    now = ent.now()
    not_after = min(now + timedelta(days=args["days"]), ca_cert.not_valid_after_utc)
    if not_after <= now:
        raise GeneratorError("tls_cert(): the `ca` certificate has expired; rotate the CA")
    sans: list[x509.GeneralName] = []
    for host in args["hosts"]:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host.lower()))
    cn = args["common_name"] or args["hosts"][0].lower()
    # Clients use the SANs; the CN is only informative and limited to 64 characters.
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if len(cn) <= 64 else [])
    key = _ec_key(ent)
    public = key.public_key()
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(_serial(ent))
        .not_valid_before(max(now - timedelta(hours=_BACKDATE_HOURS), ca_cert.not_valid_before_utc))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=len(subject) == 0)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(aki, critical=False)
    )
    cert = _sign(builder, ca_key, ent)
    cert_pem = _cert_pem(cert)
    return {"key": _key_pem(key), "cert": cert_pem, "chain": cert_pem + _cert_pem(ca_cert)}


# --------------------------------------------------------------------------------------------
# SSH and WireGuard
# --------------------------------------------------------------------------------------------


def _ssh_string(data: bytes) -> bytes:
    # int.to_bytes, not struct.pack(">I"): `struct` is not loaded on every compile
    return len(data).to_bytes(4, "big") + data


def _check_ssh(args: Mapping[str, Any]) -> None:
    comment = args["comment"]
    if len(comment) > 255 or any(not c.isprintable() for c in comment):
        raise GeneratorError("ssh_key(): `comment` must be printable and at most 255 characters")


def _ssh_key(args: Mapping[str, Any], _src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    seed = ent.token_bytes(32)
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    comment = args["comment"].encode("utf-8")
    kind = b"ssh-ed25519"
    pub_blob = _ssh_string(kind) + _ssh_string(pub)
    # The openssh-key-v1 container, written here rather than by cryptography so that the
    # comment is kept (as ssh-keygen does) and seeded runs are reproducible (check ints).
    check = ent.token_bytes(4)
    private = (
        check
        + check
        + _ssh_string(kind)
        + _ssh_string(pub)
        + _ssh_string(seed + pub)
        + _ssh_string(comment)
    )
    pad = 1
    while len(private) % 8:
        private += bytes([pad])
        pad += 1
    body = (
        b"openssh-key-v1\0"
        + _ssh_string(b"none")
        + _ssh_string(b"none")
        + _ssh_string(b"")
        + (1).to_bytes(4, "big")
        + _ssh_string(pub_blob)
        + _ssh_string(private)
    )
    text = base64.b64encode(body).decode("ascii")
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    private_pem = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + "\n".join(lines)
        + "\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    public = "ssh-ed25519 " + base64.b64encode(pub_blob).decode("ascii")
    if args["comment"]:
        public += " " + args["comment"]
    return {"private_key": private_pem, "public_key": public}


def _wireguard(_args: Mapping[str, Any], _src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    raw = bytearray(ent.token_bytes(32))
    # Clamp as `wg genkey` does, so the stored private key is byte-identical in form.
    raw[0] &= 248
    raw[31] = (raw[31] & 127) | 64
    key = x25519.X25519PrivateKey.from_private_bytes(bytes(raw))
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "private_key": base64.b64encode(bytes(raw)).decode("ascii"),
        "public_key": base64.b64encode(pub).decode("ascii"),
    }


# --------------------------------------------------------------------------------------------
# RSA
# --------------------------------------------------------------------------------------------

RSA_SIZES = (2048, 3072, 4096)
_RSA_E = 65537


@functools.cache
def _small_primes_product() -> int:
    """The product of the odd primes below 2000: one gcd sieves out most composite candidates.

    Computed on first use (a seeded RSA key), not at import: `mora check` imports this module.
    """
    product = 1
    for n in range(3, 2000, 2):
        if all(n % d for d in range(3, int(n**0.5) + 1, 2)):
            product *= n
    return product


def _check_rsa(args: Mapping[str, Any]) -> None:
    if args["bits"] not in RSA_SIZES:
        raise GeneratorError(
            f"rsa_key(): `bits` must be one of {', '.join(map(str, RSA_SIZES))}, not {args['bits']}"
        )


def _probably_prime(n: int, ent: Entropy, rounds: int) -> bool:
    """Miller-Rabin with witnesses from `ent` (FIPS 186-5 B.3.1 round counts)."""
    d, s = n - 1, 0
    while not d & 1:
        d >>= 1
        s += 1
    for _ in range(rounds):
        a = 2 + ent.below(n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _seeded_prime(ent: Entropy, bits: int) -> int:
    """A random `bits`-bit prime p with gcd(e, p-1) = 1, drawn only from `ent`."""
    import math

    rounds = 5 if bits <= 1024 else 4  # enough for random candidates of these sizes
    while True:
        # The top two bits set, so the product of two such primes has exactly 2*bits bits.
        candidate = int.from_bytes(ent.token_bytes(bits // 8), "big") | (3 << (bits - 2)) | 1
        if math.gcd(candidate, _small_primes_product()) != 1 or candidate % _RSA_E == 1:
            continue
        if _probably_prime(candidate, ent, rounds):
            return candidate


def _seeded_rsa(ent: Entropy, bits: int) -> Any:
    """An RSA key made only from a seeded stream, so golden tests are reproducible.

    OpenSSL's generator cannot be seeded; real keys never come here (see `_rsa_key`).
    """
    from cryptography.hazmat.primitives.asymmetric import rsa

    half = bits // 2
    p = _seeded_prime(ent, half)
    q = p
    while q == p:
        q = _seeded_prime(ent, half)
    p, q = max(p, q), min(p, q)
    phi = (p - 1) * (q - 1)
    d = pow(_RSA_E, -1, phi)
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(_RSA_E, p * q),
    )
    return numbers.private_key()  # cryptography checks the numbers are consistent


@functools.lru_cache(maxsize=16)
def _seeded_rsa_cached(seed: bytes, bits: int) -> Any:
    # One seeded key per (seed, size) per process: golden tests compile the same projects often.
    return _seeded_rsa(SeededEntropy(seed, "rsa"), bits)


def _b64url_int(n: int) -> str:
    import base64

    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _rsa_key(args: Mapping[str, Any], _src: Mapping[str, str], ent: Entropy) -> dict[str, str]:
    import base64
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    bits = args["bits"]
    if ent.seeded:
        key = _seeded_rsa_cached(ent.token_bytes(32), bits)
    else:
        key = rsa.generate_private_key(public_exponent=_RSA_E, key_size=bits)
    public = key.public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    numbers = public.public_numbers()
    n, e = _b64url_int(numbers.n), _b64url_int(numbers.e)
    # RFC 7638 thumbprint as the key id: stable for the key, the same wherever it is computed.
    canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    import hashlib

    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    jwk = {"alg": "RS256", "e": e, "kid": kid.decode("ascii"), "kty": "RSA", "n": n, "use": "sig"}
    jwks = json.dumps({"keys": [jwk]}, separators=(",", ":"), sort_keys=True)
    return {"private_key": _key_pem(key), "public_key": public_pem, "jwks": jwks}


# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------

_P = GeneratorParam
_SOURCE = _P("source", "secret", required=True, doc="the secret to digest, e.g. secret.admin")
_VALUE = ("value",)
_NONE: frozenset[str] = frozenset()


def _catalogue() -> dict[str, Generator]:
    gens = [
        Generator(
            "password",
            (
                _P("length", "int", 32, doc="number of characters (8-4096)"),
                _P("alphabet", "string", "alphanumeric", doc=", ".join(ALPHABETS)),
                _P("chars", "string", "", doc="your own alphabet instead of `alphabet`"),
            ),
            _VALUE,
            _NONE,
            "A random password, every character drawn uniformly from the alphabet.",
            _password,
            _check_password,
        ),
        Generator(
            "hex",
            (_P("bytes", "int", 32, doc="random bytes (8-1024); the text is twice as long"),),
            _VALUE,
            _NONE,
            "Random bytes as lowercase hex (API keys such as the *arr apps' 32-character keys).",
            _hex,
            _check_bytes("hex"),
        ),
        Generator(
            "base64",
            (
                _P("bytes", "int", 32, doc="random bytes (8-1024)"),
                _P("padding", "bool", True, doc="keep the trailing `=`"),
            ),
            _VALUE,
            _NONE,
            "Random bytes in standard base64, like `openssl rand -base64 32`.",
            _base64,
            _check_bytes("base64"),
        ),
        Generator(
            "base64url",
            (
                _P("bytes", "int", 32, doc="random bytes (8-1024)"),
                _P("padding", "bool", False, doc="keep the trailing `=`"),
            ),
            _VALUE,
            _NONE,
            "Random bytes in URL-safe base64 (`-` and `_`), unpadded by default.",
            _base64url,
            _check_bytes("base64url"),
        ),
        Generator(
            "token",
            (_P("bytes", "int", 32, doc="random bytes (8-1024)"),),
            _VALUE,
            _NONE,
            "Alias of base64url(): an unpadded URL-safe token like Python's token_urlsafe().",
            _base64url,
            _check_bytes("token"),
        ),
        Generator(
            "uuid",
            (),
            _VALUE,
            _NONE,
            "A random (version 4) UUID in its usual lowercase 8-4-4-4-12 form.",
            _uuid,
        ),
        Generator(
            "bcrypt",
            (
                _SOURCE,
                _P("cost", "int", 12, doc="log2 of the work factor (4-31)"),
                _P("variant", "string", "2b", doc='the tag: "2b" (default), "2y" or "2a"'),
            ),
            _VALUE,
            _NONE,
            "bcrypt digest of another secret (at most 72 bytes), e.g. $2b$12$...",
            _bcrypt,
            _check_bcrypt("bcrypt", "2b"),
        ),
        Generator(
            "htpasswd",
            (
                _SOURCE,
                _P("user", "string", "admin", doc="the user name before the colon"),
                _P("cost", "int", 10, doc="bcrypt cost; checked on every request, keep it low"),
            ),
            _VALUE,
            _NONE,
            "An htpasswd line `user:$2y$10$...` (bcrypt) for Apache, nginx, Traefik and Caddy.",
            _htpasswd,
            _check_htpasswd,
        ),
        Generator(
            "pbkdf2_sha512",
            (
                _SOURCE,
                _P("iterations", "int", 310000, doc="PBKDF2 rounds (Authelia's default)"),
                _P("salt_bytes", "int", 16, doc="random salt length (8-64)"),
            ),
            _VALUE,
            _NONE,
            "PBKDF2-HMAC-SHA512 digest `$pbkdf2-sha512$<rounds>$<salt>$<hash>` (Authelia, "
            "passlib; adapted base64).",
            _pbkdf2,
            _check_pbkdf2,
        ),
        Generator(
            "argon2id",
            (
                _SOURCE,
                _P("time_cost", "int", 3, doc="iterations"),
                _P("memory_kib", "int", 65536, doc="memory in KiB (64 MiB)"),
                _P("parallelism", "int", 4, doc="lanes"),
                _P("hash_len", "int", 32, doc="digest bytes"),
                _P("salt_bytes", "int", 16, doc="salt bytes"),
            ),
            _VALUE,
            _NONE,
            "Argon2id digest as a PHC string `$argon2id$v=19$m=...,t=...,p=...$salt$hash`.",
            _argon2id,
            _check_argon2,
        ),
        Generator(
            "tls_ca",
            (
                _P("common_name", "string", "mora site CA", doc="the CA's name"),
                _P("days", "int", 3650, doc="validity in days"),
                _P(
                    "permitted_domains",
                    "list(string)",
                    (),
                    doc="if given, the CA may only sign names under these domains",
                ),
            ),
            ("key", "cert"),
            frozenset({"cert"}),
            "A self-signed ECDSA P-256 certificate authority: key (PKCS#8 PEM), cert (PEM).",
            _tls_ca,
            _check_tls_ca,
        ),
        Generator(
            "tls_cert",
            (
                _P("ca", "secret", required=True, doc="the signing CA, e.g. secret.ca"),
                _P("hosts", "list(string)", required=True, doc="DNS names / IPs for the SANs"),
                _P("days", "int", 825, doc="validity in days (825: Apple's limit)"),
                _P("common_name", "string", "", doc="defaults to the first host"),
            ),
            ("key", "cert", "chain"),
            frozenset({"cert", "chain"}),
            "An ECDSA P-256 server/client certificate signed by `ca`; chain = cert + CA cert.",
            _tls_cert,
            _check_tls_cert,
        ),
        Generator(
            "ssh_key",
            (_P("comment", "string", "", doc="appended to the public key"),),
            ("private_key", "public_key"),
            frozenset({"public_key"}),
            "An Ed25519 SSH key pair: OpenSSH private key, `ssh-ed25519 AAAA... comment`.",
            _ssh_key,
            _check_ssh,
        ),
        Generator(
            "rsa_key",
            (_P("bits", "int", 2048, doc="key size: 2048, 3072 or 4096"),),
            ("private_key", "public_key", "jwks"),
            frozenset({"public_key", "jwks"}),
            "An RSA key pair (e = 65537): private key as PKCS#8 PEM, public key as PEM "
            "(SubjectPublicKeyInfo), and the public key as a JWKS (RS256, RFC 7638 kid).",
            _rsa_key,
            _check_rsa,
        ),
        Generator(
            "wireguard",
            (),
            ("private_key", "public_key"),
            frozenset({"public_key"}),
            "A WireGuard (X25519) key pair, base64 like `wg genkey` / `wg pubkey`.",
            _wireguard,
        ),
    ]
    return {g.name: g for g in gens}


GENERATORS: Mapping[str, Generator] = MappingProxyType(_catalogue())
