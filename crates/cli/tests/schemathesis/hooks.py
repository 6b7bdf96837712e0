"""Schemathesis hooks for the Plexus node API, used by crates/cli/tests/contract.rs.

Two things a JSON schema cannot say, and what these hooks do about them:

1. An address's pattern (`plx1` and 58 bech32 characters) cannot express its bech32m checksum,
   nor that its 32 bytes are an ed25519 public key. Schema-valid addresses for the fuzzing phase
   are therefore drawn from PLEXUS_ADDRESSES (comma-separated): real addresses the test derives
   from keys (the devnet's funded dev keys and fresh ones). The coverage phase still builds
   boundary values from the pattern alone; the node refuses those with `invalid_address`, which
   is right, so that one refusal of a "schema-valid" request is dropped, only when the address
   sent really fails the checksum (checked here, from BIP-350).

2. Some bodies carry rules of their own, which the node checks and answers with a 400 and one
   stable code. A refusal of a schema-valid request is dropped only with that operation's code:
   - POST /v1/txs, POST /v1/txs/batch: `malformed` (the bytes are not a signed transaction of
     the codec, which random bytes never are);
   - PUT /v1/blobs/{hash}: `hash_mismatch` (the body must hash, BLAKE3, to the path's hash);
   - POST /v1/faucet: `invalid_amount` (its bounds, 1 base unit to 10000 PLX, and its units
     syntax are a parser's, not a pattern's).
   Every other failure of these operations, and every other check on them, still counts.
"""

import os

import schemathesis
from hypothesis import strategies as st

ADDRESSES = [a for a in os.environ.get("PLEXUS_ADDRESSES", "").split(",") if a]

if ADDRESSES:
    schemathesis.openapi.format("plexus-address", st.sampled_from(ADDRESSES))

# The codes by which the node refuses a body whose own rules the schema cannot state.
BODY_RULE_CODES = {
    ("POST", "/v1/txs"): {"malformed"},
    ("POST", "/v1/txs/batch"): {"malformed"},
    ("PUT", "/v1/blobs/{hash}"): {"hash_mismatch"},
    ("POST", "/v1/faucet"): {"invalid_amount"},
}

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M_CONSTANT = 0x2BC830A3
BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def bech32m_checksum_holds(text):
    """Whether `text` is bech32m with a valid checksum (BIP-350)."""
    hrp, separator, data = text.rpartition("1")
    if not separator or not hrp or len(data) < 6 or any(c not in BECH32_CHARSET for c in data):
        return False
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    values += [BECH32_CHARSET.index(c) for c in data]
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(BECH32_GENERATOR):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum == BECH32M_CONSTANT


def sent_addresses(case):
    """Every value of the request that is in the address position of some operation."""
    values = list((case.path_parameters or {}).get(name) for name in ("address",))
    values += [
        (case.query or {}).get(name) for name in ("consumer", "provider", "verifier", "owner")
    ]
    if isinstance(case.body, dict):
        values.append(case.body.get("address"))
    return [v for v in values if isinstance(v, str)]


def refusal_code(response):
    try:
        return response.json().get("code")
    except Exception:
        return None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keep every failure but a right refusal of what the schema cannot express (see above)."""
    if type(failure).__name__ != "RejectedPositiveData" or response.status_code != 400:
        return True
    code = refusal_code(response)
    if code == "invalid_address":
        return all(bech32m_checksum_holds(a) for a in sent_addresses(case))
    operation = (case.method.upper(), case.path)
    return code not in BODY_RULE_CODES.get(operation, set())
