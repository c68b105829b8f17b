"""Per-instance metadata services (IMDSv1/v2) and the role credentials they vend.

    model.py      InstanceView (immutable, swapped whole), MetadataOptions, IamState, Answer
    listener.py   a minimal keep-alive HTTP/1.1 server on 127.0.0.1:PORT, in the server's event loop
    service.py    the IMDSv1/v2 access rules (tokens, HttpTokens, HttpEndpoint, X-Forwarded-For)
    tokens.py     stateless session tokens bound to one boot of one instance
    tree.py       the metadata paths and listings; JSON documents as IMDS formats them
    rotation.py   when a new credential set is due (AWS's schedule within the SDKs' refresh rules)
    roles.py      association -> profile -> role -> trust (policy engine) -> STS session -> trail
    identity.py   the identity document, signed with a per-account RSA key in the data dir
    ports.py      a port per instance, chosen once and kept in the store
    manager.py    ImdsManager: all running instances' services; started by the ASGI lifespan

Everything below roles.py/manager.py works without the rest of keyless (tests/unit/imds).
"""
