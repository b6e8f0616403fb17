"""moto's server with the KMS behaviour the product relies on that moto 5.2 lacks.

AWS KMS offers GenerateDataKeyPairWithoutPlaintext: it makes an asymmetric key pair and
returns the public key and the private key encrypted under a symmetric KMS key, bound to an
encryption context. moto does not implement it. This adds it on moto's own terms: the pair is
generated here and the private key is encrypted with moto's Encrypt for the same key and
context, so moto's Decrypt opens it exactly as KMS's would, and refuses it under any other
context.

ScheduleKeyDeletion, CancelKeyDeletion, EnableKey and DisableKey take a key id or a key ARN in
AWS; moto fails on an ARN, so the ARN is turned into the key id before moto's own
implementation runs.

AWS refuses Sign, Encrypt and Decrypt with a key that is not enabled: `DisabledException` for a
disabled key, `KMSInvalidStateException` for one pending deletion. moto uses such keys as if
they were enabled; here they are refused as AWS refuses them.

Run as `python infra/moto_server.py -H HOST -p PORT`, like `moto_server`.
"""

import base64
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto.core.exceptions import JsonRESTError
from moto.kms.exceptions import ValidationException
from moto.kms.models import KmsBackend
from moto.kms.responses import KmsResponse
from moto.server import main

KEY_PAIR_SPECS = {
    "RSA_2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "RSA_3072": lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072),
    "RSA_4096": lambda: rsa.generate_private_key(public_exponent=65537, key_size=4096),
    "ECC_NIST_P256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ECC_NIST_P384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ECC_NIST_P521": lambda: ec.generate_private_key(ec.SECP521R1()),
}


def generate_data_key_pair_without_plaintext(self: KmsResponse) -> str:
    key_id = self._get_param("KeyId")
    spec = self._get_param("KeyPairSpec")
    context = self._get_param("EncryptionContext", {})
    self._validate_key_id(key_id)
    key = self.kms_backend.describe_key(key_id)
    # moto leaves KeyUsage unset when CreateKey omits it; AWS defaults it to ENCRYPT_DECRYPT.
    if key.key_usage not in (None, "ENCRYPT_DECRYPT") or key.key_spec != "SYMMETRIC_DEFAULT":
        raise ValidationException(f"{key_id} is not a symmetric encryption key")
    if spec not in KEY_PAIR_SPECS:
        raise ValidationException(f"KeyPairSpec {spec!r} is not supported")
    private = KEY_PAIR_SPECS[spec]()
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ciphertext, arn = self.kms_backend.encrypt(
        key_id=key_id, plaintext=pkcs8, encryption_context=context
    )
    return json.dumps(
        {
            "KeyId": arn,
            "KeyPairSpec": spec,
            "PrivateKeyCiphertextBlob": base64.b64encode(ciphertext).decode(),
            "PublicKey": base64.b64encode(spki).decode(),
        }
    )


KmsResponse.generate_data_key_pair_without_plaintext = generate_data_key_pair_without_plaintext

def by_any_id(operation):
    def taking_arns(self: KmsBackend, key_id: str, *args, **kwargs):
        return operation(self, self.any_id_to_key_id(key_id), *args, **kwargs)

    return taking_arns


for name in ("schedule_key_deletion", "cancel_key_deletion", "enable_key", "disable_key"):
    setattr(KmsBackend, name, by_any_id(getattr(KmsBackend, name)))


def ensure_enabled(backend: KmsBackend, key_id: str) -> None:
    key = backend.describe_key(key_id)
    if key.key_state == "Disabled":
        raise JsonRESTError("DisabledException", f"{key.arn} is disabled.")
    if key.key_state != "Enabled":
        raise JsonRESTError("KMSInvalidStateException", f"{key.arn} is {key.key_state}.")


def before(operation):
    def guarded(self: KmsBackend, key_id: str, *args, **kwargs):
        ensure_enabled(self, key_id)
        return operation(self, key_id, *args, **kwargs)

    return guarded


_decrypt = KmsBackend.decrypt


def decrypt(self: KmsBackend, *args, **kwargs):
    # The key of a Decrypt is known only from its ciphertext, so it is checked on moto's answer.
    plaintext, arn = _decrypt(self, *args, **kwargs)
    ensure_enabled(self, arn)
    return plaintext, arn


KmsBackend.sign = before(KmsBackend.sign)
KmsBackend.encrypt = before(KmsBackend.encrypt)
KmsBackend.decrypt = decrypt

if __name__ == "__main__":
    main()
