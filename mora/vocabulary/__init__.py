"""The language's nouns, declared once as data (imports only `mora.types`).

`service.py` holds every service attribute and block setting; the checker, the evaluator, the
backends' routing tables and `docs/reference.md` are tied to it by tests.
"""
