"""What the backends cost a small project before their first document (fifteenth round).

A media compile writes ~100 files; what it pays besides is fixed: the backends' imports and the
regular expressions compiled when they load. A pattern only some texts need is compiled when such
a text comes (or replaced by a set or a string method that answers the same); a module only some
projects need (the jobs' modules with `copy`, the cron converter for scheduled jobs) is imported
where it is used. The hand-written checks are held to the patterns they replace, copied here as
they were.
"""

from __future__ import annotations

import ast as pyast
import os
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mora.backends.kubernetes import emit

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO / "projects" / "media"

# The patterns as `emit` compiled them at import before this round.
OLD_TYPED = re.compile(
    r"(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL)"
)
OLD_IMPLICIT = re.compile(
    r"""(?:
      yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
    | ~|null|Null|NULL|<<|=
    | [-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0[0-7_]+|0|[1-9][0-9_]*(?::[0-5]?[0-9])*)
    | [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?
    | \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
    | [0-9]{4}-[0-9]{2}-[0-9]{2}
    | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[\ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
      (?:[\ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?
    )""",
    re.X,
)
OLD_NOT_OWN_TEXT = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff\U00010000-\U0010ffff]"
)

_BASES = ("y", "n", "yes", "no", "true", "false", "on", "off", "null", "nul", "tru", "ye")
_WORDS = [w for b in _BASES for w in (b, b.title(), b.upper(), b.title().swapcase())]
_WORDS += ["~", "<<", "=", "<", "==", "~~"]
_NUMERIC = "0123456789+-._:eExXbBaAfFiInNTtZ \t"


def _texts() -> st.SearchStrategy[str]:
    """Text near the patterns' edges: their own matches, words, numbers, dates, and noise."""
    return st.one_of(
        st.from_regex(OLD_IMPLICIT, fullmatch=True),
        st.sampled_from(_WORDS),
        st.text(alphabet=_NUMERIC, max_size=14),
        st.text(alphabet=_NUMERIC + "yoslurg~<=Ggi/", max_size=8),
        st.text(max_size=10),
    )


@settings(max_examples=1500, deadline=None)
@given(_texts())
@example("17.6")
@example("089")
@example("2001-12-14 21:59:43.10 -5")
@example("+.inf")
@example("")
def test_implicit_answers_as_the_old_pattern(text: str) -> None:
    assert emit._implicit(text) == bool(OLD_IMPLICIT.fullmatch(text))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.sampled_from(_WORDS), st.text(alphabet="yYnNesoOtrufalFLS", max_size=6)))
def test_typed_words_are_the_old_patterns_words(text: str) -> None:
    assert (text in emit._TYPED) == bool(OLD_TYPED.fullmatch(text))


@settings(max_examples=1500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=12),
        st.text(alphabet="a \n\t\r\x00\x1f\x7f\x80\x9f\xa0\u2028\ufeff\ufffd", max_size=8),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12),
    )
)
@example("a\nb")
@example("a\tb")
@example("\n")
def test_own_text_answers_as_the_old_pattern(text: str) -> None:
    assert emit._own_text(text) == (OLD_NOT_OWN_TEXT.search(text) is None)


# Runs `mora ARGS...` in-process, then prints the modules it loaded, whether the old patterns
# are in re's cache and whether emit's lazy patterns were compiled, as a Python literal.
_PROBE = (
    "import re, sys\n"
    "from mora.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "from mora.backends.kubernetes import emit\n"
    "cached = {key[1] for cache in ('_cache', '_cache2') for key in getattr(re, cache, {})}\n"
    "print(repr({'modules': sorted(sys.modules), 'cached': sorted(cached, key=repr),\n"
    "    'own_text': getattr(emit._NOT_OWN_TEXT, '_compiled', 'at import') is not None}))\n"
)


def _run(args: list[str], cwd: Path) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("MORA_NO_CACHE", None)
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=True,
    )
    return pyast.literal_eval(run.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_media_compile_loads_only_the_modules_and_patterns_its_data_needs(
    tmp_path: Path,
) -> None:
    """The media project has no jobs and no placement, its site no manager: the Kubernetes and
    podman jobs' modules, `copy` (jobs copy their service's pod), the cron converter (scheduled
    jobs' timers), `kubernetes.placement` and the manager's files (`manager_service`) are not
    imported; its texts are ASCII, so the class of characters `own_scalar` leaves to PyYAML is
    not compiled; the YAML words are sets."""
    args = ["compile", str(MEDIA), "--domain", "example.org"]
    _run([*args, "--out", str(tmp_path / "first")], tmp_path)  # fills the caches, makes the store
    result = _run([*args, "--out", str(tmp_path / "out")], tmp_path)
    assert (tmp_path / "out" / "kubernetes" / "kustomization.yaml").is_file()
    modules = set(result["modules"])  # type: ignore[call-overload]
    assert {"mora.backends.kubernetes", "mora.backends.quadlet"} <= modules  # the probe works
    jobs_only = {"mora.backends.kubernetes.jobs", "mora.backends._podman_jobs"}
    assert jobs_only & modules == set()
    # no `manager:` in the site: the manager's Containerfile, manifests and units are not made
    assert "mora.backends.manager_service" not in modules
    assert "mora.backends.kubernetes.placement" not in modules  # no service has a `placement`
    bare = subprocess.run(
        [sys.executable, "-c", "import sys; print(repr(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = modules - set(pyast.literal_eval(bare.stdout))  # (not what `site` loads itself)
    assert "copy" not in loaded
    assert "mora.vocabulary.cron" not in loaded
    cached = result["cached"]
    assert OLD_TYPED.pattern not in cached  # type: ignore[operator]
    assert OLD_IMPLICIT.pattern not in cached  # type: ignore[operator]
    assert OLD_NOT_OWN_TEXT.pattern not in cached  # type: ignore[operator]
    assert result["own_text"] is False
