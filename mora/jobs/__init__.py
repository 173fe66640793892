"""Jobs: one-off tasks (`run = "before"` / `"after"` the service starts, once per deploy) and
scheduled tasks (`schedule = "*/5 * * * *"`) that run in a service's image with its environment,
secrets and volumes. `check` and `evaluate` are the checker's and the evaluator's hooks (a few
lines each in checker.py and evaluator.py); the schedule's grammar and its conversion to systemd
are `mora.vocabulary.cron`, which the backends may import too.
"""
