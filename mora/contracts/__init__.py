"""Contracts between services, and optional values (issue 17).

A contract is a record of typed fields (`contract postgres { host: hostname ... }`) that a
service declares it provides (`provides postgres { host = ... }`) and that a template argument can
require (`db: postgres`). An argument of a contract type takes a service that provides the
contract, or a record literal standing for a provider outside the project; inside the template its
fields are typed values (`args.db.password` is a secret, as any secret is). `optional(T)` with
`none` is the absent value, narrowed by `if args.x != none { ... }`.

`check` is the checker's part (types, references, implied dependencies); `evaluate` the
evaluator's (field values, the implied `depends_on`). Both are called from the passes with a few
lines each, so the rules live here and nowhere else.
"""
