"""The importer's diagnostic codes (documented in docs/reference.md and docs/import.md).

E0901-E0909: the compose project cannot be read; W0901-W0919: something in it that mora cannot
express, or expresses differently, each at its line and column in the compose file.
"""

E_READ = "E0901"  # a compose or env file that cannot be read
E_YAML = "E0902"  # not valid YAML, or not a compose file (no services, wrong shape)
E_OUTPUT = "E0903"  # the output directory cannot be written
W_INTERPOLATION = "W0901"  # a bad `$` in a value, or `${VAR:+x}` that mora cannot keep conditional
W_UNSUPPORTED = "W0902"  # a key mora cannot express: left out
W_VALUE = "W0903"  # a value mora cannot express (or only partly): changed or left out, says how
W_SECRET = "W0904"  # a secret value where mora allows none (command, label): not written
W_NAME = "W0905"  # a service renamed to a mora name (its host name changes)
W_TEMPLATE = "W0906"  # (note) a stdlib image kept as a plain service: which settings did not map
W_PROFILE = "W0907"  # (note) a service left out because its profile is not enabled
W_DROPPED = "W0908"  # (note) keys compose itself or mora does for you: networks, container_name...
