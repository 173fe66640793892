"""Pinned dependencies: `require NAME = "REPO//DIR" version "TAG"`, `mora get`, `mora.lock`.

Only `mora get` (mora.deps.get) touches the network. It resolves each requirement to a commit,
copies exactly the `.mora` files of the required directory into a content-addressed cache
(mora.deps.lock) and records repository, version, commit and content hash in the committed
`mora.lock`. `check` and `compile` read the locked copy only after its hash matches the lock, so
they stay offline and deterministic, and each dependency is its own confinement boundary.
"""
