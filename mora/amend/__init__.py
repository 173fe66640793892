"""Instance bodies and `amend`: change a service declared elsewhere (merge.py: the rules;
target.py: which service; check.py: the check-pass hook that leaves merged bodies)."""
