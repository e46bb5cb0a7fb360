"""The worker endpoint protocol, both halves (the public face is `aion.endpoint`).

* ``_errors``  `EndpointError` (the endpoint itself failed) and `RemoteError`
  (the worker's operation raised), both under `aion.StoreError` / `AionError`
* ``_file``    the endpoint file: where it lives, written privately, trusted
  only when it is the user's own mode-0600 regular file
* ``_nonces``  request ids, so a replayed request never runs twice
* ``_server``  `EndpointServer`: the worker's loopback HTTP listener
* ``_client``  `EndpointClient`: one JSON POST per operation
"""
