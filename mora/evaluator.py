"""The evaluation pass's old address: every name is re-exported from `mora.eval` (issue 10).

The pass itself lives in the `mora/eval/` package, one module per concern. This module stays so
that every `from mora.evaluator import ...` written before the split keeps working.
"""

from __future__ import annotations

from mora.check.program import Program, ServiceSym  # imported from here before the split
from mora.compiled import Compiled  # re-exported since the model moved (architecture step 1)
from mora.eval import (
    Evaluator,
    evaluate,
)
from mora.eval.expressions import (
    ExpressionsPass,
)
from mora.eval.inputs import (
    InputsPass,
)
from mora.eval.params import (
    ParamsPass,
)
from mora.eval.routing import (
    RoutingPass,
)
from mora.eval.scope import (
    E_EVAL,
    E_MISSING_PARAM,
    E_NO_DOMAIN,
    E_SECRETS,
    E_SITE_VALUE,
    E_SUBDOMAIN_DOMAIN,
    INPUT_PREFIX,
    STATE_PREFIX,
    W_ORPHANED_SECRET,
    W_STALE_SECRET,
    W_UNKNOWN_SITE_PARAM,
    EvalState,
    _Scope,
)
from mora.eval.secrets import (
    Provider,
    Resolution,
    SecretsPass,
)
from mora.eval.services import (
    _PENDING_HELP,
    _SHAPE_ATTRS,
    _SHAPE_BLOCKS,
    ServicesPass,
)
from mora.eval.values import (
    FileVal,
    MountVal,
    Pending,
    Secret,
    ServiceRef,
    Unit,
    _Abort,
    _collect_taint,
    _example,
    _jsonable,
    _opt_text,
    _plain,
    _plain_text,
    _seconds,
    _shell_quote,
    _show_value,
    _slug,
    _text,
    _unit,
)

__all__ = [  # every name importable from here before the split
    "E_EVAL",
    "E_MISSING_PARAM",
    "E_NO_DOMAIN",
    "E_SECRETS",
    "E_SITE_VALUE",
    "E_SUBDOMAIN_DOMAIN",
    "INPUT_PREFIX",
    "STATE_PREFIX",
    "W_ORPHANED_SECRET",
    "W_STALE_SECRET",
    "W_UNKNOWN_SITE_PARAM",
    "_PENDING_HELP",
    "_SHAPE_ATTRS",
    "_SHAPE_BLOCKS",
    "Compiled",
    "EvalState",
    "Evaluator",
    "ExpressionsPass",
    "FileVal",
    "InputsPass",
    "MountVal",
    "ParamsPass",
    "Pending",
    "Program",
    "Provider",
    "Resolution",
    "RoutingPass",
    "Secret",
    "SecretsPass",
    "ServiceRef",
    "ServiceSym",
    "ServicesPass",
    "Unit",
    "_Abort",
    "_Scope",
    "_collect_taint",
    "_example",
    "_jsonable",
    "_opt_text",
    "_plain",
    "_plain_text",
    "_seconds",
    "_shell_quote",
    "_show_value",
    "_slug",
    "_text",
    "_unit",
    "evaluate",
]
