"""Jobs: one-off tasks (`run = "before"` / `"after"` the service starts, once per deploy) and
scheduled tasks (`schedule = "*/5 * * * *"`) that run in a service's image with its environment,
secrets and volumes. `cron` parses and converts the schedule; `check` and `evaluate` are the
checker's and the evaluator's hooks (a few lines each in checker.py and evaluator.py).
"""
