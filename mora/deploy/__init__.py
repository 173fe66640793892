"""Deploying what compile makes: the change set against what was last deployed, and targets.

Layering: this package reads the resolved model (`mora.model`), the plan (`mora.plan`), the
backends' container plans and the secret store; it never reads syntax (no parser, no checker).
`state` records what was deployed per site, `changes` compares two records, `engine` applies a
change set stage by stage through a `targets.base.Target`.
"""
