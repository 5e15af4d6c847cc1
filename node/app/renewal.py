"""`yiwang keys rotate`: a new key and certificate through the parent, without downtime.

The node asks its parent over the usual mutual-TLS link port (federation.transport.renewal),
authenticated by its current certificate. The new key is registered for head verification
first (heads signed with either key verify), then key and chain replace the old ones
atomically; a running node uses them from its next connection, and its old certificate stays
valid until it expires. Licences at rest are sealed again to both keys; sealed bundles and
materials are named by their hash in the log, so they stay as they are and the old key is kept
under retired-keys/ (owner-only) to open them.
"""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.serialization import Encoding

from federation.transport.renewal import request_certificate
from federation.wire.certs import certified_key, code_of, make_csr, tls_key, verify_chain
from federation.wire.identity import save_chain
from node.context import Node
from node.domain.errors import SetupError
from node.services.licenses import sealed_again


def rotate_key(node: Node, timeout: float = 15.0) -> dt.datetime:
    identity = node.identity()
    parent = node.settings.code.parent()
    if identity is None or parent is None or not node.settings.parent:
        raise SetupError("only an enrolled node with a parent renews through it (a province re-creates its root)")
    new_key = node.key.generate_like()
    csr = make_csr(identity.code, new_key).public_bytes(Encoding.DER)
    chain = request_certificate(node.settings.parent, identity, parent, csr, timeout)
    verify_chain(chain, identity.anchors, node.now())
    certified = (certified_key(chain[0]), tls_key(chain[0]), code_of(chain[0]))
    if certified != (new_key.public_key, new_key.tls_key.public, identity.code):
        raise SetupError("the parent returned a certificate for another key or code")
    with node.store.transaction() as tx:
        tx.put_origin_key(node.code, new_key.key_id, new_key.public_key.pem)
        for number, stored in tx.stored_licenses():  # licences at rest follow the key
            tx.replace_license(number, sealed_again(node.key, new_key, stored))
    node.key.retire(node.settings.key_path)  # sealed bundles and materials at rest stay sealed to it
    new_key.save(node.settings.key_path, replace=True)
    save_chain(node.settings.data_dir, chain)
    return chain[0].not_valid_after_utc
