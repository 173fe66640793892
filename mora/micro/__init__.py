"""The setup-step executor (micromanagers, docs/micromanagers.md).

It reads the compiled model (`model.Step`) and the site's secret store, never syntax: each
service's steps run after the service is healthy, in order, with retries and a timeout; what
ran and what it produced is kept in the store, so a second run does only what is missing.
"""
